// The decisions of an upload through Xet, without I/O: which chunks to ask the global dedup
// about, when a xorb is full, where each chunk of a file lives, and the file reconstructions
// (terms with their verification hashes) a shard registers.
#pragma once

#include "xet/hash.hpp"
#include "xet/shard.hpp"
#include "xet/xorb.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace hfhub::upload::xet_up {

using digest = xet::merkle_hash;

// A chunk as the chunker cut it.
struct chunk_ref {
    digest hash{};
    std::uint32_t size = 0;
};

// The deduplication spec's eligibility: a file's first chunk, or a chunk whose hash's last 8
// bytes, read as a little-endian integer, are 0 modulo 1024.
bool dedup_eligible_hash(const digest& h);

// Decides, chunk by chunk through one file, which chunks to ask the global dedup about: the
// eligible ones, at least `min_spacing` chunks apart (xet-core spaces them 256 chunks, ~16 MiB)
// so a big file asks a bounded number of times.
class dedup_sampler {
public:
    explicit dedup_sampler(std::size_t min_spacing = 256) : spacing_(min_spacing) {}
    // `index` is the chunk's position in its file (0 for the first).
    bool should_query(std::size_t index, const digest& h);

private:
    std::size_t spacing_;
    std::size_t next_ = 0;
};

// The xorb spec's bounds: at most 64 MiB serialized and 8192 chunks.
struct xorb_limits {
    std::uint64_t max_bytes = 64ull << 20;
    std::size_t max_chunks = 8192;
};

// Worst-case serialized size of one chunk in a xorb: its 8-byte header and its bytes stored
// uncompressed (a compressor keeps a chunk raw when compression would grow it).
constexpr std::uint64_t xorb_chunk_bound(std::uint32_t size) { return 8ull + size; }

// Counts what a xorb being built holds, to cut it before a chunk would break the bounds.
class xorb_fill {
public:
    explicit xorb_fill(xorb_limits l = {}) : lim_(l) {}
    // Whether a chunk of `size` bytes still fits (an empty xorb takes any chunk).
    bool fits(std::uint32_t size) const;
    void add(std::uint32_t size);
    void clear() { bytes_ = 0, chunks_ = 0; }
    std::size_t chunks() const { return chunks_; }
    std::uint64_t bound() const { return bytes_; }  // the serialized size cannot exceed this

private:
    xorb_limits lim_;
    std::uint64_t bytes_ = 0;
    std::size_t chunks_ = 0;
};

// Where a chunk of a file is stored: a xorb the CAS already has (by hash), or the n-th xorb this
// upload makes (its hash is known once it is cut).
struct new_xorb_slot {
    std::size_t slot = 0;
    bool operator==(const new_xorb_slot&) const = default;
};
using xorb_id = std::variant<digest, new_xorb_slot>;

struct chunk_place {
    xorb_id xorb;
    std::uint32_t index = 0;  // the chunk's index in that xorb
};

// Known chunks, by hash: those the upload put into its new xorbs (raw hashes) and those the
// global dedup answered with (hashes keyed with the answer's HMAC key, or raw when it had none).
// A lookup keys the hash with each answer's key in turn.
class chunk_index {
public:
    // A chunk this upload stored (or will store) at `where`.
    void add_local(const digest& h, chunk_place where);
    // The chunks of a xorb a dedup answer described, under `key` (nullopt: raw hashes).
    void add_remote(const std::optional<xet::hash_key>& key, const digest& xorb, std::span<const digest> chunk_hashes);
    // Where `h` is stored, if anywhere known.
    std::optional<chunk_place> find(const digest& h) const;
    std::size_t remote_xorbs() const { return remote_xorbs_; }

private:
    struct keyed_group {
        std::optional<xet::hash_key> key;
        std::unordered_map<digest, chunk_place> chunks;
    };
    std::unordered_map<digest, chunk_place> local_;
    std::vector<keyed_group> remote_;
    std::size_t remote_xorbs_ = 0;
};

// A file's chunk, once placed.
struct placed_chunk {
    digest hash{};
    std::uint32_t size = 0;
    chunk_place where;
};

// One term of a file reconstruction: chunks [start, end) of one xorb.
struct term {
    xorb_id xorb;
    std::uint32_t start = 0, end = 0;
    std::uint32_t bytes = 0;  // unpacked
    digest verification{};    // keyed hash of the term's chunk hashes (filled by the caller)
    std::size_t first_chunk = 0;  // of the file's chunks, for computing `verification`
};

// Maximal runs of consecutive chunks of one xorb, in file order. A term's byte count is a u32 in
// the shard, so a run is also cut before it would pass 4 GiB.
std::vector<term> form_terms(std::span<const placed_chunk> chunks);

// The xorb ranges a file's reconstruction names, with the hashes their verification entries are
// computed from (the file's own chunk hashes of that term, in order).
std::span<const placed_chunk> term_chunks(std::span<const placed_chunk> chunks, const term& t);

// A file as the upload chunked and placed it.
struct file_plan {
    std::string sha256;  // hex, as the commit cites it
    std::vector<placed_chunk> chunks;
};

// A xorb this upload made, by slot: its hash and chunks once it was cut and built.
struct made_xorb {
    digest hash{};
    std::vector<xet::xorb_chunk> chunks;
    std::uint32_t serialized_size = 0;
};

// The shard that registers `files` (terms over existing and new xorbs, a verification entry per
// term, the sha256 extension) and lists the new xorbs' chunks for later dedup. Throws
// std::invalid_argument for a chunk placed in a slot `xorbs` doesn't have or a bad sha256.
xet::shard form_shard(std::span<const file_plan> files, std::span<const made_xorb> xorbs);

}  // namespace hfhub::upload::xet_up
