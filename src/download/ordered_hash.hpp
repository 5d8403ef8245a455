// Verifying downloads: the hash an etag calls for, and the in-order hash of a parallel
// download's parts while they arrive.
#pragma once

#include "download/fetch.hpp"
#include "util/blocking.hpp"
#include "util/hash.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hfhub::download {

// The verifier the etag calls for: sha256 for 64 hex, git blob SHA-1 for 40 hex.
inline std::optional<std::string> expected_kind(const std::string& etag) {
    if (util::is_hex(etag, 64)) return "sha256";
    if (util::is_hex(etag, 40)) return "sha1";
    return std::nullopt;
}

struct verifier {
    std::optional<util::hasher> sha256;
    std::optional<util::git_blob_hasher> sha1;
    verifier(const file_meta& m, bool on) { reset(m, on); }
    void reset(const file_meta& m, bool on) {
        sha256.reset();
        sha1.reset();
        if (!on) return;
        auto k = expected_kind(m.etag);
        if (k == "sha256") sha256.emplace(util::hash_algo::sha256);
        if (k == "sha1") sha1.emplace(m.size);
    }
    void update(const char* p, std::size_t n) {
        if (sha256) sha256->update(p, n);
        if (sha1) sha1->update(p, n);
    }
    bool active() const { return sha256 || sha1; }
    std::optional<std::string> digest() {
        if (sha256) return sha256->hex_digest();
        if (sha1) return sha1->hex_digest();
        return std::nullopt;
    }
};

// Hashes the parts of a parallel download in file order while they arrive, on the client's
// blocking pool: the I/O side only records how far each part has got, and a job on the pool
// reads the bytes back (from the page cache) as soon as they are contiguous from the cursor, then
// ends when it has caught up; the next write that extends the contiguous bytes posts another.
// Verifying then costs one SHA-256 pass overlapped with the transfer instead of a second pass
// after it, never holds up the connections, and never holds a pool thread while it waits for
// bytes (with a pool of one thread, the other disk jobs would wait for the whole download).
// Parts an earlier run left are read back the same way. `wrote`, `abort` may be called from an
// I/O thread; `finish` waits for a running job, so it runs on the pool itself.
// Parts are either all `chunk` bytes (the last one shorter) or of any sizes, given by their
// starts (an Xet download's terms).
class ordered_hash : public std::enable_shared_from_this<ordered_hash> {
public:
    ordered_hash(boost::asio::any_io_executor pool, verifier v, std::shared_ptr<const util::pool_fd> fd,
                 std::filesystem::path path, std::uint64_t size, std::uint64_t chunk, const std::vector<bool>& done);
    // Part i is [starts[i], starts[i + 1]) (the last ends at `size`); starts ascending from 0.
    ordered_hash(boost::asio::any_io_executor pool, verifier v, std::shared_ptr<const util::pool_fd> fd,
                 std::filesystem::path path, std::uint64_t size, std::vector<std::uint64_t> starts);
    ordered_hash(const ordered_hash&) = delete;
    ordered_hash& operator=(const ordered_hash&) = delete;

    // Starts hashing what earlier runs left.
    void start();
    // Part `part` now has its bytes up to `end` on disk.
    void wrote(std::uint64_t part, std::uint64_t end);
    // Stops the hashing soon, without waiting for it.
    void abort() { abort_ = true; }
    // Once every part is in: hashes what is left (waiting for a job that is hashing, never for
    // one that is queued) and returns the digest, or the read error.
    std::optional<std::string> finish();

private:
    std::uint64_t frontier() const;
    std::size_t part_at(std::uint64_t pos) const;
    std::uint64_t part_end(std::size_t part) const;
    void schedule();
    void drain();
    void hash_range(std::uint64_t from, std::uint64_t to);

    boost::asio::any_io_executor pool_;
    verifier v_;                               // used by one job at a time (`draining_`)
    std::shared_ptr<const util::pool_fd> fd_;  // held until the last job is done with it
    std::filesystem::path path_;
    std::uint64_t size_;
    std::uint64_t chunk_;                 // 0: parts of any sizes, by `starts_`
    std::vector<std::uint64_t> starts_;
    std::atomic<bool> abort_{false};
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::uint64_t> reached_;  // per part: the end of its bytes on disk
    std::uint64_t hashed_ = 0;            // the cursor: bytes before it are in `v_`
    bool all_in_ = false, draining_ = false, posted_ = false;
    std::exception_ptr error_;
};

// An ordered_hash that starts at once on what earlier runs left.
std::shared_ptr<ordered_hash> make_ordered_hash(boost::asio::any_io_executor pool, verifier v,
                                                std::shared_ptr<const util::pool_fd> fd, std::filesystem::path path,
                                                std::uint64_t size, std::uint64_t chunk, const std::vector<bool>& done);

}  // namespace hfhub::download
