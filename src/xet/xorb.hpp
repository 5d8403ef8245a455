// Xorbs (docs/xet/xorb.md): chunks, each an 8-byte header and its (maybe compressed) bytes, one
// after the other. Xorbs are uploaded without xet-core's "XETBLOB" footer: neither xet-core's
// upload path nor the JS client writes one, and the CAS rebuilds it. The builder writes none;
// the parser accepts none unless asked to (parse_options::allow_footer).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "xet/error.hpp"
#include "xet/hash.hpp"

namespace hfhub::xet {

inline constexpr std::size_t chunk_header_size = 8;
inline constexpr std::uint8_t chunk_header_version = 0;
inline constexpr std::size_t max_xorb_size = 64 * 1024 * 1024;  // serialized bytes
inline constexpr std::size_t max_xorb_chunks = 8 * 1024;         // what the reference clients cap at

enum class compression : std::uint8_t {
    none = 0,
    lz4 = 1,                 // one LZ4 frame (the frame format, as lz4_flex and lz4js write)
    byte_grouping4_lz4 = 2,  // bytes regrouped by position mod 4, then one LZ4 frame
};

struct chunk_header {
    std::uint8_t version = chunk_header_version;
    std::uint32_t compressed_size = 0;  // bytes that follow the header (24 bits)
    compression scheme = compression::none;
    std::uint32_t uncompressed_size = 0;  // 24 bits
};

std::array<std::uint8_t, chunk_header_size> encode_chunk_header(const chunk_header& h) noexcept;
// The first 8 bytes of `in`: errc::truncated when fewer, bad_chunk_header for a version other
// than 0 or an uncompressed size over max 128 KiB (a stored chunk's sizes must also agree),
// unknown_compression for a scheme other than 0..2.
result<chunk_header> decode_chunk_header(std::span<const std::uint8_t> in) noexcept;

// Byte grouping: [A1 A2 A3 A4 B1 ...] -> [A1 B1 .. A2 B2 .. A3 B3 .. A4 B4 ..], a tail of n % 4
// bytes going one each to the first groups. `out` has in.size() bytes.
void bg4_split(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept;
void bg4_join(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept;

// The compressed bytes of a chunk with `scheme` (none: a copy).
std::vector<std::uint8_t> compress_chunk(std::span<const std::uint8_t> data, compression scheme);
// Decodes a chunk's payload to exactly `uncompressed_size` bytes, appended to `out`.
// errc::decompression_failed on bad LZ4 data or another size.
result<void> decompress_chunk(std::span<const std::uint8_t> payload, compression scheme,
                              std::uint32_t uncompressed_size, std::vector<std::uint8_t>& out);

// Whether byte grouping should help LZ4 on `data`, predicted from per-byte statistics instead of
// compressing twice: for each of the 4 byte positions mod 4, the histogram of the bytes' popcounts;
// when one position's histogram diverges from the pooled one (KL divergence over 0.02, xet-core's
// empirical criterion), the positions hold different kinds of bytes, as the exponent and mantissa
// bytes of float tensors do. A chunk of 16 KiB or more is sampled (a quarter of its bytes).
// Returns byte_grouping4_lz4 or lz4.
compression predict_compression(std::span<const std::uint8_t> data) noexcept;

// The popcount histograms behind predict_compression, exposed for tests and tuning.
struct bg4_stats {
    std::array<std::array<std::uint32_t, 9>, 4> hist{};  // [byte position mod 4][popcount]
    void add(std::span<const std::uint8_t> data) noexcept;  // data[0] at position 0
    double max_divergence() const noexcept;                 // the largest per-position KL divergence
};

enum class compression_policy {
    automatic,  // predict_compression's scheme, raw when it doesn't shrink the chunk (as xet-core)
    smallest,   // both LZ4 and byte-grouped LZ4, the smaller, raw when neither is smaller (as the JS client)
    none,
    lz4,
    byte_grouping4_lz4,  // each still stored raw when compressing doesn't help
};

// One chunk of a xorb as built or parsed.
struct xorb_chunk {
    merkle_hash hash;
    std::uint32_t offset = 0;           // where its header starts in the xorb (or the range)
    std::uint32_t serialized_size = 0;  // header + payload
    compression scheme = compression::none;
    std::uint32_t unpacked_offset = 0;  // sum of the sizes of the chunks before it
    std::uint32_t size = 0;             // uncompressed bytes
};

// A serialized xorb ready to upload.
struct built_xorb {
    std::vector<std::uint8_t> bytes;
    merkle_hash hash;
    std::vector<xorb_chunk> chunks;
    std::uint64_t unpacked_size = 0;
};

class xorb_builder {
public:
    explicit xorb_builder(compression_policy policy = compression_policy::automatic);

    // Appends a chunk (its hash computed, or given). Returns false, appending nothing, when it
    // would take the xorb over max_xorb_size serialized bytes or max_xorb_chunks chunks: finish
    // this xorb and start the next with it. Throws std::invalid_argument for an empty chunk or
    // one over max_chunk_size.
    bool add_chunk(std::span<const std::uint8_t> data);
    bool add_chunk(std::span<const std::uint8_t> data, const merkle_hash& hash);

    bool empty() const noexcept { return chunks_.empty(); }
    std::size_t num_chunks() const noexcept { return chunks_.size(); }
    std::size_t serialized_size() const noexcept { return bytes_.size(); }
    std::uint64_t unpacked_size() const noexcept { return unpacked_; }
    const std::vector<xorb_chunk>& chunks() const noexcept { return chunks_; }

    // The bytes, the xorb hash and the chunks; the builder is empty afterwards.
    built_xorb finish();

    // Gives the builder `buf`'s storage (its contents dropped) for the bytes of the xorb it
    // builds next, so that one building many xorbs reuses the memory of a sent one. Only while
    // empty(); otherwise ignored.
    void reuse(std::vector<std::uint8_t> buf) noexcept;

private:
    compression_policy policy_;
    std::vector<std::uint8_t> bytes_;
    std::vector<xorb_chunk> chunks_;
    std::uint64_t unpacked_ = 0;
    std::vector<std::uint8_t> grouped_, packed_, packed2_;  // reused: no allocation per chunk
};

// Decoded chunks: their bytes one after the other in `data`, each chunk's place in `chunks`.
struct parsed_chunks {
    std::vector<std::uint8_t> data;
    std::vector<xorb_chunk> chunks;  // offset: from the start of the parsed bytes

    std::span<const std::uint8_t> chunk_data(std::size_t i) const noexcept {
        return {data.data() + chunks[i].unpacked_offset, chunks[i].size};
    }
};

struct parse_options {
    // Verify the bytes against the hashes computed from them: each chunk's hash is always
    // computed; with this set, parse_xorb also compares the xorb hash to `expected_hash`.
    std::optional<merkle_hash> expected_hash;
    // The number of chunks the bytes must hold (a range [a, b) holds b - a).
    std::optional<std::size_t> expected_chunks;
    // The serialized size parse_xorb accepts.
    std::size_t max_size = max_xorb_size;
    // Accept (and ignore) xet-core's "XETBLOB" footer after the last chunk, as a stored xorb
    // has it; uploads and range downloads carry none.
    bool allow_footer = false;
    // Keep the decoded bytes (parsed_chunks::data). Without, each chunk is decoded, checked and
    // hashed, then dropped: what a server validating an upload needs, in bounded memory (a
    // 64 MiB xorb of well-compressed chunks can decode to gigabytes).
    bool keep_data = true;
    // At most this many chunks (xorb_too_large), so that hostile input stays bounded.
    std::size_t max_chunks = 1024 * 1024;
};

// A run of consecutive chunks, as a range download `[chunk a, chunk b)` receives them: every
// byte must belong to a whole chunk. Errors: truncated, bad_chunk_header, unknown_compression,
// decompression_failed, chunk_count_mismatch. Never reads past `bytes`.
result<parsed_chunks> parse_chunks(std::span<const std::uint8_t> bytes, const parse_options& opts = {});

// A whole xorb: parse_chunks, then at least one chunk, at most opts.max_size bytes
// (xorb_too_large), and its hash (hash_mismatch when it isn't opts.expected_hash).
struct parsed_xorb {
    parsed_chunks chunks;
    merkle_hash hash;
    std::uint64_t unpacked_size = 0;
};
result<parsed_xorb> parse_xorb(std::span<const std::uint8_t> bytes, const parse_options& opts = {});

}  // namespace hfhub::xet
