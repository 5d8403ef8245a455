#include "cache/lock.hpp"

#include "util/fs.hpp"

#include <hfhub/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <tuple>
#include <utility>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hfhub::cache {
namespace asio = boost::asio;
namespace {

util::unique_fd open_lock_file(const std::filesystem::path& path) {
    std::filesystem::create_directories(path.parent_path());
    // 0664 like Python's filelock, so a group sharing the cache can take the same locks.
    util::unique_fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664));
    if (!fd) util::throw_errno("open lock file", path);
    return fd;
}

bool same_file(int fd, const std::filesystem::path& path) {
    struct stat a{}, b{};
    return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// True when locked; false when someone else holds it. A lock on a file that was unlinked or
// replaced meanwhile excludes nobody, so then the path is reopened and locked again.
bool try_flock(util::unique_fd& fd, const std::filesystem::path& path) {
    for (;;) {
        if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EINTR) continue;
            if (errno == EWOULDBLOCK) return false;
            util::throw_errno("flock", path);
        }
        if (same_file(fd.get(), path)) return true;
        fd = open_lock_file(path);
    }
}

}  // namespace

file_lock::file_lock(file_lock&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}

file_lock& file_lock::operator=(file_lock&& o) noexcept {
    if (this != &o) {
        release();
        fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
}

file_lock::~file_lock() { release(); }

void file_lock::release() {
    if (fd_ < 0) return;
    // Closing drops the lock too; unlocking first releases it even if the fd was inherited.
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    fd_ = -1;
}

file_lock file_lock::try_acquire(const std::filesystem::path& path) {
    util::unique_fd fd = open_lock_file(path);
    if (!try_flock(fd, path)) return {};
    return file_lock(fd.release());
}

asio::awaitable<file_lock> file_lock::co_acquire(std::filesystem::path path, std::chrono::milliseconds timeout) {
    using clock = std::chrono::steady_clock;
    util::unique_fd fd = open_lock_file(path);
    const auto start = clock::now();
    // A huge timeout means "wait forever" rather than an overflowed deadline.
    const auto deadline = timeout >= std::chrono::duration_cast<std::chrono::milliseconds>(clock::time_point::max() - start)
                              ? clock::time_point::max()
                              : start + timeout;
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto cs = co_await asio::this_coro::cancellation_state;
    auto cancelled = [&] {
        return hfhub::error(client_errc::cancelled, {.client_message = "cancelled waiting for " + path.string()});
    };
    auto delay = std::chrono::milliseconds(20);
    for (;;) {
        if (try_flock(fd, path)) co_return file_lock(fd.release());
        const auto now = clock::now();
        if (now >= deadline)
            throw hfhub::error(client_errc::lock_timeout, {.client_message = "waiting for " + path.string()});
        // A cancellation that landed between two waits: the next co_await would throw asio's error.
        if (cs.cancelled() != asio::cancellation_type::none) throw cancelled();
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) + std::chrono::milliseconds(1);
        timer.expires_after(std::min(delay, left));
        boost::system::error_code ec;
        try {
            std::tie(ec) = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        } catch (const boost::system::system_error& e) {
            ec = e.code();
        }
        if (ec) throw cancelled();
        delay = std::min(delay * 2, std::chrono::milliseconds(200));
    }
}

}  // namespace hfhub::cache
