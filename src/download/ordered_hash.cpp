#include "download/ordered_hash.hpp"

#include "util/read_ahead.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <system_error>

#include <unistd.h>

namespace hfhub::download {

namespace asio = boost::asio;

ordered_hash::ordered_hash(asio::any_io_executor pool, verifier v, std::shared_ptr<const util::pool_fd> fd,
                           std::filesystem::path path, std::uint64_t size, std::uint64_t chunk,
                           const std::vector<bool>& done)
    : pool_(std::move(pool)), v_(std::move(v)), fd_(std::move(fd)), path_(std::move(path)), size_(size),
      chunk_(chunk), reached_(done.size()) {
    for (std::size_t i = 0; i < reached_.size(); ++i)
        reached_[i] = done[i] ? std::min<std::uint64_t>(size, (i + 1) * chunk) : i * chunk;
}

ordered_hash::ordered_hash(asio::any_io_executor pool, verifier v, std::shared_ptr<const util::pool_fd> fd,
                           std::filesystem::path path, std::uint64_t size, std::vector<std::uint64_t> starts)
    : pool_(std::move(pool)), v_(std::move(v)), fd_(std::move(fd)), path_(std::move(path)), size_(size), chunk_(0),
      starts_(std::move(starts)), reached_(starts_) {}

std::size_t ordered_hash::part_at(std::uint64_t pos) const {
    if (chunk_) return static_cast<std::size_t>(pos / chunk_);
    // The last part starting at or before `pos` (so an empty part is passed over).
    auto it = std::upper_bound(starts_.begin(), starts_.end(), pos);
    return static_cast<std::size_t>(it - starts_.begin()) - 1;
}

std::uint64_t ordered_hash::part_end(std::size_t part) const {
    if (chunk_) return std::min(size_, (part + 1) * chunk_);
    return part + 1 < starts_.size() ? starts_[part + 1] : size_;
}

void ordered_hash::start() {
    std::lock_guard lk(mu_);
    schedule();
}

void ordered_hash::wrote(std::uint64_t part, std::uint64_t end) {
    std::lock_guard lk(mu_);
    reached_[part] = end;
    schedule();
}

std::optional<std::string> ordered_hash::finish() {
    std::unique_lock lk(mu_);
    all_in_ = true;
    cv_.wait(lk, [&] { return !draining_; });
    if (!error_ && hashed_ < size_) {
        draining_ = true;  // jobs that start from now on find nothing to do
        std::uint64_t from = hashed_;
        lk.unlock();
        std::exception_ptr e;
        try {
            hash_range(from, size_);
        } catch (...) {
            e = std::current_exception();
        }
        lk.lock();
        draining_ = false;
        if (e) error_ = e;
        else hashed_ = size_;
    }
    if (error_) std::rethrow_exception(error_);
    return v_.digest();
}

// Under mu_: the end of the bytes on disk that are contiguous from the cursor.
std::uint64_t ordered_hash::frontier() const {
    std::uint64_t pos = hashed_;
    while (pos < size_) {
        std::size_t part = part_at(pos);
        if (reached_[part] <= pos) break;
        pos = reached_[part];
        if (pos < part_end(part)) break;  // the part is still coming
    }
    return pos;
}

// Under mu_: a job, unless one is queued or running (it will see the new bytes) or finish() owns
// the rest.
void ordered_hash::schedule() {
    if (draining_ || posted_ || all_in_ || abort_ || error_ || frontier() <= hashed_) return;
    posted_ = true;
    asio::post(pool_, [self = shared_from_this()] { self->drain(); });
}

void ordered_hash::drain() {
    std::unique_lock lk(mu_);
    posted_ = false;
    if (draining_) return;
    draining_ = true;
    for (;;) {
        std::uint64_t from = hashed_, to = frontier();
        if (abort_ || all_in_ || error_ || to <= from) break;
        lk.unlock();
        try {
            hash_range(from, to);
            lk.lock();
            hashed_ = to;
        } catch (...) {
            lk.lock();
            error_ = std::current_exception();
        }
    }
    draining_ = false;
    cv_.notify_all();
}

// Bytes [from, to), which are all on disk; big ranges with a read-ahead helper on the pool.
void ordered_hash::hash_range(std::uint64_t from, std::uint64_t to) {
    std::uint64_t pos = from;
    std::function<ssize_t(char*, std::size_t)> read = [&](char* p, std::size_t n) -> ssize_t {
        if (pos >= to) return 0;
        if (abort_) {
            errno = ECANCELED;
            return -1;
        }
        auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n, to - pos));
        ssize_t r;
        do r = ::pread(fd_->get(), p, want, static_cast<off_t>(pos));
        while (r < 0 && errno == EINTR);
        if (r == 0) errno = EIO;  // the file is shorter than what was written to it
        if (r <= 0) return -1;
        pos += static_cast<std::uint64_t>(r);
        return r;
    };
    auto consume = [&](const char* p, std::size_t n) { v_.update(p, n); };
    util::read_result r;
    if (to - from >= (4u << 20)) {
        r = util::read_ahead(pool_, read, 1u << 20, to - from, consume);
    } else {
        std::vector<char> buf(static_cast<std::size_t>(std::min<std::uint64_t>(to - from, 1u << 20)));
        for (;;) {
            ssize_t n = read(buf.data(), buf.size());
            if (n <= 0) {
                r.error = n < 0 ? errno : 0;
                break;
            }
            consume(buf.data(), static_cast<std::size_t>(n));
            r.bytes += static_cast<std::uint64_t>(n);
        }
    }
    if (abort_) throw std::system_error(ECANCELED, std::generic_category(), "hashing " + path_.string());
    if (r.bytes != to - from)
        throw std::system_error(r.error ? r.error : EIO, std::generic_category(), "read " + path_.string());
}

std::shared_ptr<ordered_hash> make_ordered_hash(asio::any_io_executor pool, verifier v,
                                                std::shared_ptr<const util::pool_fd> fd, std::filesystem::path path,
                                                std::uint64_t size, std::uint64_t chunk, const std::vector<bool>& done) {
    auto h = std::make_shared<ordered_hash>(std::move(pool), std::move(v), std::move(fd), std::move(path), size, chunk,
                                            done);
    h->start();
    return h;
}

}  // namespace hfhub::download
