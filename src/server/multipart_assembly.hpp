// A multipart upload joined while its parts arrive. Each part is written in place, at its
// offset in the object's one file, under a claim that no other request can hold at the same
// time; once accepted, a part's bytes are never written again. Accepted parts are hashed in
// order into the object's running sha256 as soon as they are contiguous, so completion only
// checks ETags, size and hash, then renames. Nothing is durable: the server empties its temp
// folder at start, and an upload it no longer knows must start again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>

namespace hfhub::server {

class multipart_assembly {
    struct state;

public:
    explicit multipart_assembly(std::size_t max_uploads = 1024) : max_uploads_(max_uploads) {}

    // The right to write one part in place; released (the part stays missing) unless accepted.
    class claim {
    public:
        claim(std::shared_ptr<state> s, std::uint64_t part, std::uint64_t id, int fd, std::uint64_t offset,
              std::uint64_t length)
            : s_(std::move(s)), part_(part), id_(id), fd_(fd), offset_(offset), length_(length) {}
        ~claim();
        claim(const claim&) = delete;
        claim& operator=(const claim&) = delete;

        int fd() const { return fd_; }
        std::uint64_t offset() const { return offset_; }
        std::uint64_t length() const { return length_; }
        std::uint64_t id() const { return id_; }

    private:
        std::shared_ptr<state> s_;
        std::uint64_t part_, id_;
        int fd_;
        std::uint64_t offset_, length_;
    };

    // Claims part `n` (bytes [offset, offset+length) of the object) of the upload in `dir`.
    // Null when it is accepted already or being written by another request.
    std::unique_ptr<claim> try_claim(const std::filesystem::path& dir, std::uint64_t parts, std::uint64_t n,
                                     std::uint64_t offset, std::uint64_t length);

    // The claimed part's bytes are all written: accepts it and returns its ETag. Hashes every
    // part that has become contiguous on the caller's thread, unless another caller is at it.
    // Throws std::runtime_error if the claim is no longer held.
    std::string accept(const std::filesystem::path& dir, std::uint64_t n, std::uint64_t claim_id);

    // A part that arrived as a file (it could not be written in place): copies it in and accepts
    // it. An accepted part keeps its bytes and ETag (a retried PUT); nullopt while another
    // request is still writing that part.
    std::optional<std::string> accept_file(const std::filesystem::path& dir, std::uint64_t parts, std::uint64_t n,
                                           std::uint64_t offset, std::uint64_t length,
                                           const std::filesystem::path& file);

    struct joined {
        std::filesystem::path file;  // the object, every part in place
        std::uint64_t size = 0;
        std::string sha256;
    };
    // At completion: the joined object if parts 1..parts are accepted with these ETags (waits
    // for the hashing to finish), else why not. The upload is forgotten only on success.
    std::variant<joined, std::string> take(const std::filesystem::path& dir, std::uint64_t parts,
                                           const std::map<std::uint64_t, std::string>& etags);
    void forget(const std::filesystem::path& dir);

private:
    std::shared_ptr<state> find(const std::filesystem::path& dir, std::uint64_t parts, bool create);
    static void hash_ready(state& s, std::unique_lock<std::mutex>& lk);

    std::size_t max_uploads_;
    std::mutex mu_;
    std::map<std::string, std::shared_ptr<state>> states_;
    std::list<std::string> order_;  // oldest first, for eviction of abandoned uploads
};

}  // namespace hfhub::server
