// Advisory file locks shared with the Python client (both flock the same .lock files), so
// hfhub and Python processes fetching into one cache exclude each other. The kernel drops a
// lock when its process dies, so a crashed holder never blocks anyone.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <filesystem>

namespace hfhub::cache {

class file_lock {
public:
    file_lock() = default;
    file_lock(file_lock&& o) noexcept;
    file_lock& operator=(file_lock&& o) noexcept;
    ~file_lock();  // unlocks

    // Creates the lock file (and its folder) with mode 0664 and waits for an exclusive lock,
    // polling without blocking the thread. Throws hfhub::error(lock_timeout) after `timeout`,
    // and honours the awaiting coroutine's cancellation.
    static boost::asio::awaitable<file_lock> co_acquire(std::filesystem::path path,
                                                        std::chrono::milliseconds timeout);
    // Non-blocking attempt; an unheld lock when another process holds it.
    static file_lock try_acquire(const std::filesystem::path& path);

    bool held() const { return fd_ >= 0; }
    void release();

private:
    explicit file_lock(int fd) : fd_(fd) {}
    int fd_ = -1;
};

}  // namespace hfhub::cache
