// The folder side of `upload --watch`: which checkpoint folders are complete, and inotify.
#include "cli/watch.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <fnmatch.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace hfhub::cli {

namespace asio = boost::asio;
namespace fs = std::filesystem;

bool natural_less(const std::string& a, const std::string& b) {
    std::size_t i = 0, j = 0;
    auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
    while (i < a.size() && j < b.size()) {
        if (digit(a[i]) && digit(b[j])) {
            std::size_t ei = i, ej = j;
            while (ei < a.size() && digit(a[ei])) ++ei;
            while (ej < b.size() && digit(b[ej])) ++ej;
            // Leading zeros don't make a number bigger.
            std::size_t zi = i, zj = j;
            while (zi + 1 < ei && a[zi] == '0') ++zi;
            while (zj + 1 < ej && b[zj] == '0') ++zj;
            if (ei - zi != ej - zj) return ei - zi < ej - zj;
            int c = a.compare(zi, ei - zi, b, zj, ej - zj);
            if (c != 0) return c < 0;
            i = ei;
            j = ej;
        } else {
            if (a[i] != b[j]) return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    if ((a.size() - i) != (b.size() - j)) return a.size() - i < b.size() - j;
    return a < b;
}

namespace {

bool is_glob(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// When the folder became complete, or nothing while it isn't.
std::optional<fs::file_time_type> ready_time(const fs::path& folder, const std::string& marker) {
    std::error_code ec;
    if (marker.empty()) {  // the writer renames finished folders into place
        auto t = fs::last_write_time(folder, ec);
        return ec ? std::nullopt : std::optional(t);
    }
    if (!is_glob(marker)) {
        fs::path m = folder / marker;
        if (!fs::is_regular_file(m, ec)) return std::nullopt;
        auto t = fs::last_write_time(m, ec);
        return ec ? std::nullopt : std::optional(t);
    }
    std::optional<fs::file_time_type> latest;
    for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        std::error_code e2;
        if (::fnmatch(marker.c_str(), name.c_str(), FNM_PERIOD) != 0 || !it->is_regular_file(e2)) continue;
        auto t = fs::last_write_time(it->path(), e2);
        if (!e2 && (!latest || t > *latest)) latest = t;
    }
    return latest;
}

}  // namespace

folder_scan scan_folders(const fs::path& dir, const std::string& folders, const std::string& marker,
                         const std::set<std::string>& skip, const std::function<void(const fs::path&)>& before_check) {
    folder_scan out;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (name.starts_with('.') || skip.count(name)) continue;
        std::error_code e2;
        if (!it->is_directory(e2)) continue;
        if (::fnmatch(folders.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
        // Watch first, then look: a marker written in between still wakes the watch.
        if (before_check) before_check(it->path());
        if (auto t = ready_time(it->path(), marker))
            out.complete.push_back({name, it->path(), *t});
        else
            out.waiting.push_back(it->path());
    }
    if (ec) throw fs::filesystem_error("cannot list the watched folder", dir, ec);
    std::sort(out.complete.begin(), out.complete.end(), [](const checkpoint_folder& a, const checkpoint_folder& b) {
        if (a.ready_at != b.ready_at) return a.ready_at < b.ready_at;
        return natural_less(a.name, b.name);
    });
    return out;
}

namespace {
constexpr std::uint32_t dir_events = IN_CREATE | IN_MOVED_TO | IN_ONLYDIR;
// A marker created, moved in, or (re)written; attributes for `touch` on an existing one.
constexpr std::uint32_t sub_events = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ATTRIB | IN_ONLYDIR;
}  // namespace

dir_watch::dir_watch(asio::any_io_executor ex, const fs::path& dir, bool use_inotify)
    : fd_(ex), timer_(ex), buf_(64 << 10) {
    if (!use_inotify) return;
    int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return;  // the periodic rescan still works
    if (::inotify_add_watch(fd, dir.c_str(), dir_events) < 0) {
        ::close(fd);
        return;
    }
    fd_.assign(fd);
}

dir_watch::~dir_watch() = default;

void dir_watch::add(const fs::path& sub) {
    if (!fd_.is_open()) return;
    int wd = ::inotify_add_watch(fd_.native_handle(), sub.c_str(), sub_events);
    if (wd >= 0) watches_[sub.string()] = wd;  // out of watches: the rescan covers it
}

void dir_watch::remove(const fs::path& sub) {
    auto it = watches_.find(sub.string());
    if (it == watches_.end()) return;
    if (fd_.is_open()) ::inotify_rm_watch(fd_.native_handle(), it->second);
    watches_.erase(it);
}

asio::awaitable<void> dir_watch::co_wait(std::chrono::milliseconds timeout) {
    timer_.expires_after(timeout);
    boost::system::error_code timer_ec, read_ec;
    if (!fd_.is_open()) {
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec));
        co_return;
    }
    using namespace asio::experimental::awaitable_operators;
    // Events are not parsed: any of them means "look again".
    auto either = fd_.async_read_some(asio::buffer(buf_), asio::redirect_error(asio::use_awaitable, read_ec)) ||
                  timer_.async_wait(asio::redirect_error(asio::use_awaitable, timer_ec));
    co_await std::move(either);
    if (read_ec && read_ec != asio::error::operation_aborted) {
        boost::system::error_code ignored;
        fd_.close(ignored);  // broken: fall back to the periodic rescan
        watches_.clear();
    }
}

void dir_watch::cancel() {
    timer_.cancel();
    if (fd_.is_open()) fd_.cancel();
}

}  // namespace hfhub::cli
