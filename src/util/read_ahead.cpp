#include "util/read_ahead.hpp"

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

namespace hfhub::util {

read_result read_ahead(int fd, std::size_t chunk, std::uint64_t stop_after,
                       const std::function<void(const char*, std::size_t)>& consume) {
    return read_ahead([fd](char* p, std::size_t n) { return ::read(fd, p, n); }, chunk, stop_after, consume);
}

read_result read_ahead(const std::function<ssize_t(char*, std::size_t)>& read, std::size_t chunk,
                       std::uint64_t stop_after, const std::function<void(const char*, std::size_t)>& consume) {
    constexpr std::size_t buffers = 3;  // one being read, one being consumed, one spare
    std::vector<std::unique_ptr<char[]>> buf;
    for (std::size_t i = 0; i < buffers; ++i) buf.emplace_back(new char[chunk]);

    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::size_t> free_bufs{0, 1, 2};
    std::deque<std::pair<std::size_t, std::size_t>> filled;  // buffer, length
    bool eof = false, stop = false;
    int err = 0;

    std::thread reader([&] {
        std::uint64_t total = 0;
        for (;;) {
            std::size_t b;
            {
                std::unique_lock lk(mu);
                cv.wait(lk, [&] { return stop || !free_bufs.empty(); });
                if (stop) return;
                b = free_bufs.front();
                free_bufs.pop_front();
            }
            ssize_t n;
            do n = read(buf[b].get(), chunk);
            while (n < 0 && errno == EINTR);
            std::lock_guard lk(mu);
            if (n <= 0) {
                err = n < 0 ? errno : 0;
                eof = true;
                cv.notify_all();
                return;
            }
            filled.emplace_back(b, static_cast<std::size_t>(n));
            total += static_cast<std::uint64_t>(n);
            if (total > stop_after) eof = true;  // grew while read: the caller sees more than it expects
            cv.notify_all();
            if (eof) return;
        }
    });
    struct joiner {
        std::thread& t;
        std::mutex& mu;
        std::condition_variable& cv;
        bool& stop;
        ~joiner() {
            {
                std::lock_guard lk(mu);
                stop = true;
            }
            cv.notify_all();
            t.join();
        }
    } join{reader, mu, cv, stop};

    std::uint64_t done = 0;
    for (;;) {
        std::pair<std::size_t, std::size_t> piece;
        {
            std::unique_lock lk(mu);
            cv.wait(lk, [&] { return !filled.empty() || eof; });
            if (filled.empty()) return {done, err};
            piece = filled.front();
            filled.pop_front();
        }
        consume(buf[piece.first].get(), piece.second);
        done += piece.second;
        std::lock_guard lk(mu);
        free_bufs.push_back(piece.first);
        cv.notify_all();
    }
}

}  // namespace hfhub::util
