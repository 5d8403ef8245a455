// MDB shards (docs/xet/shard.md): the file reconstructions and xorb contents a client uploads,
// and what the global-dedup API answers (CAS info only, chunk hashes keyed with the footer's
// HMAC key). Header, file info section, CAS info section, each section closed by a bookend,
// then an optional footer (what xet-core keeps on disk also has lookup tables before it).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "xet/error.hpp"
#include "xet/hash.hpp"
#include "xet/xorb.hpp"

namespace hfhub::xet {

extern const std::array<std::uint8_t, 32> shard_header_tag;  // "HFRepoMetaData\0" + magic bytes
inline constexpr std::uint64_t shard_header_version = 2;
inline constexpr std::uint64_t shard_footer_version = 1;
inline constexpr std::size_t shard_header_size = 48;
inline constexpr std::size_t shard_entry_size = 48;  // every record of both sections
inline constexpr std::size_t shard_footer_size = 200;
inline constexpr std::uint32_t file_flag_with_verification = 1u << 31;
inline constexpr std::uint32_t file_flag_with_metadata_ext = 1u << 30;

// One term of a file's reconstruction: chunks [chunk_index_start, chunk_index_end) of a xorb.
struct file_data_entry {
    merkle_hash cas_hash;  // the xorb
    std::uint32_t cas_flags = 0;
    std::uint32_t unpacked_segment_bytes = 0;  // the term's uncompressed size
    std::uint32_t chunk_index_start = 0;
    std::uint32_t chunk_index_end = 0;  // exclusive
};

// A file: its terms in order, a verification hash per term (required on upload), and the
// sha256 of its content (the metadata extension; required for Git-based repos).
struct file_info {
    merkle_hash file_hash;
    std::vector<file_data_entry> entries;
    std::vector<merkle_hash> verification;  // empty, or one per entry
    // The content's SHA-256 as xet-core and the JS client store it: from_hex(the sha256's hex
    // digest), so each 8-byte group is reversed, and hex() gives the usual digest back.
    std::optional<merkle_hash> sha256;

    // The flags serialize_shard writes, from what is present.
    std::uint32_t flags() const noexcept;
    std::uint64_t size() const noexcept;  // the sum of the terms' sizes
};

// One chunk of a xorb.
struct cas_chunk_entry {
    merkle_hash chunk_hash;  // keyed when the shard's footer has an HMAC key
    std::uint32_t chunk_byte_range_start = 0;  // unpacked offset: the sizes of the chunks before it
    std::uint32_t unpacked_segment_bytes = 0;  // the chunk's size
};

// A xorb: its hash, sizes and chunks.
struct cas_info {
    merkle_hash cas_hash;
    std::uint32_t cas_flags = 0;
    std::uint32_t num_bytes_in_cas = 0;   // the chunks' uncompressed bytes
    std::uint32_t num_bytes_on_disk = 0;  // the serialized xorb's bytes
    std::vector<cas_chunk_entry> chunks;
};

// The footer, in xet-core's layout (the spec's reserved _buffer holds the lookup-table fields).
struct shard_footer {
    std::uint64_t version = shard_footer_version;
    std::uint64_t file_info_offset = 0;
    std::uint64_t cas_info_offset = 0;
    std::uint64_t file_lookup_offset = 0;
    std::uint64_t file_lookup_num_entry = 0;
    std::uint64_t cas_lookup_offset = 0;
    std::uint64_t cas_lookup_num_entry = 0;
    std::uint64_t chunk_lookup_offset = 0;
    std::uint64_t chunk_lookup_num_entry = 0;
    hash_key chunk_hash_hmac_key{};  // all zeros: chunk hashes are plain
    std::uint64_t shard_creation_timestamp = 0;  // seconds since the epoch
    std::uint64_t shard_key_expiry = 0;          // seconds since the epoch; 0: none
    std::uint64_t stored_bytes_on_disk = 0;
    std::uint64_t materialized_bytes = 0;
    std::uint64_t stored_bytes = 0;
    std::uint64_t footer_offset = 0;
};

struct shard {
    std::vector<file_info> files;
    std::vector<cas_info> xorbs;
    std::optional<shard_footer> footer;  // parsed: present when the header's footer_size isn't 0

    // The footer's HMAC key when it has a non-zero one.
    std::optional<hash_key> hmac_key() const noexcept;
};

struct shard_serialize_options {
    // An upload's shard has no footer (shard.md): footer_size 0, the bytes end after the CAS
    // bookend. With a footer, its offsets and byte totals are computed; these fields are copied.
    bool with_footer = false;
    hash_key chunk_hash_hmac_key{};
    std::uint64_t shard_creation_timestamp = 0;
    std::uint64_t shard_key_expiry = 0;
};

// Writes the shard as given (chunk hashes are written as they are: key them first for a dedup
// response). Throws std::invalid_argument when a file's verification entries are neither
// none nor one per term, or a count doesn't fit its u32 field.
std::vector<std::uint8_t> serialize_shard(const shard& s, const shard_serialize_options& opts = {});

struct shard_parse_options {
    // A bound on files + terms + xorbs + chunks, so that hostile counts can't make the parser
    // allocate much before the bytes run out (each record needs 48 bytes anyway).
    std::size_t max_entries = 16 * 1024 * 1024;
};

// Parses a shard with or without its footer. Errors: bad_magic, unsupported_version,
// truncated, missing_bookend, bad_footer (size other than 0 or 200, or offsets out of bounds or
// not matching the sections), inconsistent_shard (verification on some files only),
// too_many_entries. Bytes between the CAS bookend and the footer (lookup tables) are skipped;
// without a footer nothing may follow the CAS bookend (trailing_data). Never reads past `bytes`.
result<shard> parse_shard(std::span<const std::uint8_t> bytes, const shard_parse_options& opts = {});

// The CAS info block of a xorb (from xorb_builder::finish or parse_xorb).
cas_info make_cas_info(const merkle_hash& xorb_hash, std::span<const xorb_chunk> chunks,
                       std::uint32_t serialized_size);

// Where a chunk sits in a (dedup) shard: the xorb and the chunk's index in it.
struct chunk_location {
    merkle_hash xorb_hash;
    std::uint32_t chunk_index = 0;
    std::uint32_t unpacked_offset = 0;
    std::uint32_t size = 0;
};

// Looks a plain chunk hash up in the shard's CAS info, keying it first when the shard has an
// HMAC key. Linear; build your own index for many lookups.
std::optional<chunk_location> find_chunk(const shard& s, const merkle_hash& chunk_hash);

}  // namespace hfhub::xet
