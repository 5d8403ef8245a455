// Streaming SHA-256 / SHA-1 on OpenSSL's EVP, and git's object ids.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace hfhub::util {

enum class hash_algo { sha1, sha256 };

class hasher {
public:
    explicit hasher(hash_algo algo);
    hasher(hasher&&) noexcept;
    hasher& operator=(hasher&&) noexcept;
    ~hasher();

    void update(const void* data, std::size_t n);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // Lower-case hex digest; the hasher can't be updated afterwards.
    std::string hex_digest();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

std::string sha256_hex(std::string_view data);
std::string sha1_hex(std::string_view data);

// Git's blob id: sha1("blob <size>\0" + content).
class git_blob_hasher {
public:
    explicit git_blob_hasher(std::uint64_t size);
    void update(const void* data, std::size_t n) { h_.update(data, n); }
    std::string hex_digest() { return h_.hex_digest(); }

private:
    hasher h_{hash_algo::sha1};
};
std::string git_blob_sha1(std::string_view content);

// The pointer file git-lfs stores in place of an object, and its blob id (the tree's `oid`).
std::string lfs_pointer(std::string_view sha256, std::uint64_t size);

bool is_hex(std::string_view s, std::size_t len);
std::string to_hex(std::span<const unsigned char> bytes);
std::string from_hex(std::string_view hex);  // empty on bad input

// Random bytes from OpenSSL's CSPRNG, as hex.
std::string random_hex(std::size_t bytes);

// HMAC-SHA256 as hex, and a constant-time comparison of equal-length strings.
std::string hmac_sha256_hex(std::string_view key, std::string_view msg);
bool constant_time_equal(std::string_view a, std::string_view b);

std::string base64_encode(std::string_view in);
// Returns false on malformed input.
bool base64_decode(std::string_view in, std::string& out);

}  // namespace hfhub::util
