// Xet's 32-byte Merkle hashes (docs/xet/hashing.md): chunk hashes (keyed BLAKE3 with DATA_KEY),
// xorb and file hashes (the aggregated tree over (hash, size) pairs), term verification hashes,
// and the keyed transform that global-dedup shards apply to chunk hashes.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "xet/error.hpp"

namespace hfhub::xet {

// Raw bytes of a string, for the functions below that take bytes.
inline std::span<const std::uint8_t> as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// A BLAKE3 key (32 bytes).
using hash_key = std::array<std::uint8_t, 32>;

// The spec's keys (hashing.md).
extern const hash_key data_key;           // chunk hashes
extern const hash_key internal_node_key;  // nodes of the xorb/file tree
extern const hash_key verification_key;   // term verification hashes

// A 32-byte hash as it sits in xorbs and shards (raw bytes, in that order).
struct merkle_hash {
    std::array<std::uint8_t, 32> bytes{};

    friend bool operator==(const merkle_hash&, const merkle_hash&) = default;
    friend std::strong_ordering operator<=>(const merkle_hash&, const merkle_hash&) = default;

    bool is_zero() const noexcept;
    // All 0xFF: the shard's bookend marker.
    bool is_marker() const noexcept;

    // The spec's string form (api.md "Converting Hashes to Strings"): each 8-byte group is read
    // as a little-endian u64 and printed as 16 lower-case hex digits.
    std::string hex() const;
    // The inverse of hex(); errc::invalid_hash unless exactly 64 hex digits (either case).
    static result<merkle_hash> from_hex(std::string_view s) noexcept;
    // Raw bytes; errc::invalid_hash unless exactly 32 of them.
    static result<merkle_hash> from_bytes(std::span<const std::uint8_t> raw) noexcept;
    // All 0xFF.
    static merkle_hash marker() noexcept;

    // The bytes as a BLAKE3 key (a shard footer's HMAC key is stored as a hash).
    hash_key as_key() const noexcept { return bytes; }
};

// Prints hex() (for test output and logs).
std::ostream& operator<<(std::ostream& os, const merkle_hash& h);

// A chunk's (or subtree's) hash with the number of bytes it covers: the tree's leaves.
struct hash_and_size {
    merkle_hash hash;
    std::uint64_t size = 0;
};

// blake3_keyed(key, data).
merkle_hash keyed_hash(const hash_key& key, std::span<const std::uint8_t> data) noexcept;

// A chunk's hash: blake3_keyed(DATA_KEY, data).
merkle_hash chunk_hash(std::span<const std::uint8_t> data) noexcept;

// The xorb hash: the root of the aggregated tree (nodes of 2..9 children, cut where a child's
// last u64 is 0 mod 4, each node hashing "<hex> : <size>\n" lines with INTERNAL_NODE_KEY).
// A single chunk's xorb hash is its chunk hash; no chunks hash to all zeros.
merkle_hash xorb_hash(std::span<const hash_and_size> chunks);

// The tree's building blocks, for code that aggregates a file's chunks piecewise:
// a node's hash ends a group when its last u64 (little-endian) is 0 mod 4;
bool is_natural_cut(const merkle_hash& h) noexcept;
// how many of the next nodes form one parent (2..9, ending at the first natural cut from the
// third node on, or fewer when fewer are left);
std::size_t next_merge_cut(std::span<const hash_and_size> nodes) noexcept;
// the parent of 1..9 nodes: "<hex> : <size>\n" per child keyed with INTERNAL_NODE_KEY, and
// the sum of their sizes.
hash_and_size merge_nodes(std::span<const hash_and_size> children) noexcept;

// The file hash: blake3_keyed(salt, xorb_hash(chunks)), salt all zeros by default.
// An empty file (no chunks) hashes to all zeros, as xet-core defines it.
merkle_hash file_hash(std::span<const hash_and_size> chunks);
merkle_hash file_hash_with_salt(std::span<const hash_and_size> chunks, const hash_key& salt);

// A term's verification hash: blake3_keyed(VERIFICATION_KEY, the raw chunk hashes concatenated).
merkle_hash verification_hash(std::span<const merkle_hash> chunk_hashes) noexcept;

// The keyed form of a chunk hash a global-dedup shard lists when its footer has a non-zero
// HMAC key (shard.md "HMAC Key Protection"): blake3_keyed(key, chunk_hash.bytes).
merkle_hash keyed_chunk_hash(const merkle_hash& chunk_hash, const hash_key& hmac_key) noexcept;

// Streaming keyed BLAKE3, for a chunk whose bytes arrive in pieces.
class keyed_hasher {
public:
    explicit keyed_hasher(const hash_key& key = data_key);
    keyed_hasher(keyed_hasher&&) noexcept;
    keyed_hasher& operator=(keyed_hasher&&) noexcept;
    ~keyed_hasher();

    void update(std::span<const std::uint8_t> data) noexcept;
    merkle_hash finalize() const noexcept;
    // Back to no input, same key.
    void reset() noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace hfhub::xet

template <>
struct std::hash<hfhub::xet::merkle_hash> {
    // The hash is uniform already: any 8 of its bytes make a good bucket key.
    std::size_t operator()(const hfhub::xet::merkle_hash& h) const noexcept {
        std::uint64_t v;
        std::memcpy(&v, h.bytes.data(), sizeof v);
        return static_cast<std::size_t>(v);
    }
};
