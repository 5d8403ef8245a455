#include "server/access_log.hpp"

#include "util/fs.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <fcntl.h>
#include <unistd.h>

namespace hfhub::server {

access_log::access_log(const std::filesystem::path& p) {
    fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) util::throw_errno("open access log", p);
}

access_log::~access_log() {
    if (fd_ >= 0) ::close(fd_);
}

void access_log::write(listener_kind l, std::string_view method, std::string_view target, unsigned status,
                       std::uint64_t body_bytes, bool authorized, double duration_ms, std::uint64_t received) {
    if (fd_ < 0) return;
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    boost::json::object o{{"time", now},
                          {"listener", l == listener_kind::api ? "api" : "storage"},
                          {"method", method},
                          {"target", target},
                          {"status", status},
                          {"bytes", body_bytes},
                          {"received", received},
                          {"authorized", authorized},
                          {"duration_ms", duration_ms}};
    std::string line = boost::json::serialize(o);
    line.push_back('\n');
    // O_APPEND and one write per line keep lines whole across threads and processes.
    std::lock_guard lk(mu_);
    (void)!::write(fd_, line.data(), line.size());
}

}  // namespace hfhub::server
