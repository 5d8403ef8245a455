// Joins a multipart upload while its parts arrive: each part, once it and every part before it
// are stored, is hashed into the object's running sha256 and appended to the object's file.
// Completion is then a check and a rename, instead of reading, hashing and copying the whole
// object after the last part. Nothing here is durable: after a restart, a part re-sent once
// consumed, or an I/O error, `take` says no and completion joins the kept part files itself.
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace hfhub::server {

class multipart_assembly {
public:
    explicit multipart_assembly(std::size_t max_uploads = 256) : max_uploads_(max_uploads) {}

    // Part `n` of the upload in `dir` is now stored as dir/<n>. Consumes every part that has
    // become contiguous; the caller's thread does the hashing, other callers return at once.
    void part_stored(const std::filesystem::path& dir, std::uint64_t n);

    struct joined {
        std::filesystem::path file;  // dir/joined, all parts in order
        std::uint64_t size = 0;
        std::string sha256;
    };
    // The joined object if parts 1..parts were all consumed and none changed since; waits for
    // a consumer still at work. Forgets the upload either way.
    std::optional<joined> take(const std::filesystem::path& dir, std::uint64_t parts);
    void forget(const std::filesystem::path& dir);

private:
    struct state;
    std::shared_ptr<state> find(const std::filesystem::path& dir, bool create);
    void consume(state& s, const std::filesystem::path& dir, std::unique_lock<std::mutex>& lk);

    std::size_t max_uploads_;
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<state>> states_;
    std::list<std::string> order_;  // oldest first, for eviction of abandoned uploads
};

}  // namespace hfhub::server
