#include "util/read_ahead.hpp"

#include <boost/asio/post.hpp>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <unistd.h>

namespace hfhub::util {

namespace {

// Shared by the caller and the helper job, which may start after the caller has returned.
struct reading {
    static constexpr std::size_t buffers = 3;  // one being read, one being consumed, one spare

    reading(const std::function<ssize_t(char*, std::size_t)>& r, std::size_t c, std::uint64_t s)
        : read(&r), chunk(c), stop_after(s) {
        for (std::size_t i = 0; i < buffers; ++i) {
            buf.emplace_back(new char[chunk]);
            free_bufs.push_back(i);
        }
    }

    // Whether this thread may make the next read now.
    bool may_read() const { return !stop && !eof && !busy && !free_bufs.empty(); }

    // Makes the next read, with `lk` held on entry and on return (not during the read).
    void read_next(std::unique_lock<std::mutex>& lk) {
        std::size_t b = free_bufs.front();
        free_bufs.pop_front();
        busy = true;
        lk.unlock();
        ssize_t n;
        int e = 0;
        try {
            do n = (*read)(buf[b].get(), chunk);
            while (n < 0 && errno == EINTR);
            if (n < 0) e = errno;
        } catch (...) {
            n = -1;
            e = EIO;
        }
        lk.lock();
        busy = false;
        if (n <= 0) {
            err = e;
            eof = true;
            free_bufs.push_back(b);
        } else {
            filled.emplace_back(b, static_cast<std::size_t>(n));
            total += static_cast<std::uint64_t>(n);
            if (total > stop_after) eof = true;  // grew while read: the caller sees more than it expects
        }
        cv.notify_all();
    }

    const std::function<ssize_t(char*, std::size_t)>* read;  // used only while `busy`, never after `stop`
    const std::size_t chunk;
    const std::uint64_t stop_after;
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::unique_ptr<char[]>> buf;
    std::deque<std::size_t> free_bufs;
    std::deque<std::pair<std::size_t, std::size_t>> filled;  // buffer, length
    std::uint64_t total = 0;
    bool eof = false, stop = false, busy = false;
    int err = 0;
};

}  // namespace

read_result read_ahead(const boost::asio::any_io_executor& helper, int fd, std::size_t chunk, std::uint64_t stop_after,
                       const std::function<void(const char*, std::size_t)>& consume) {
    std::function<ssize_t(char*, std::size_t)> read = [fd](char* p, std::size_t n) { return ::read(fd, p, n); };
    return read_ahead(helper, read, chunk, stop_after, consume);
}

read_result read_ahead(const boost::asio::any_io_executor& helper, const std::function<ssize_t(char*, std::size_t)>& read,
                       std::size_t chunk, std::uint64_t stop_after,
                       const std::function<void(const char*, std::size_t)>& consume) {
    auto st = std::make_shared<reading>(read, chunk, stop_after);
    boost::asio::post(helper, [st] {
        std::unique_lock lk(st->mu);
        for (;;) {
            // Waiting here is waiting on the caller, which is running: never on a queued job.
            st->cv.wait(lk, [&] { return st->stop || st->eof || st->may_read(); });
            if (!st->may_read()) return;
            st->read_next(lk);
        }
    });
    // However this ends, the helper makes no read after it: `read` belongs to the caller.
    struct finish {
        reading& st;
        ~finish() {
            std::unique_lock lk(st.mu);
            st.stop = true;
            st.cv.notify_all();
            st.cv.wait(lk, [&] { return !st.busy; });
        }
    } done_with{*st};

    std::uint64_t done = 0;
    std::unique_lock lk(st->mu);
    for (;;) {
        if (!st->filled.empty()) {
            auto piece = st->filled.front();
            st->filled.pop_front();
            lk.unlock();
            consume(st->buf[piece.first].get(), piece.second);
            done += piece.second;
            lk.lock();
            st->free_bufs.push_back(piece.first);
            st->cv.notify_all();
        } else if (st->eof) {
            return {done, st->err};
        } else if (st->may_read()) {
            st->read_next(lk);  // the helper has not started, or is between reads: no waiting on it
        } else {
            st->cv.wait(lk);
        }
    }
}

}  // namespace hfhub::util
