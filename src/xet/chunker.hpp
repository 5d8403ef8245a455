// Content-defined chunking (docs/xet/chunking.md): a gearhash over the bytes, a boundary where
// the hash's top 16 bits are zero, chunks of 8 KiB..128 KiB (the last one may be shorter).
// Streaming: the boundaries are the same however the input is split into pieces.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "xet/hash.hpp"

namespace hfhub::xet {

inline constexpr std::size_t target_chunk_size = 64 * 1024;
inline constexpr std::size_t min_chunk_size = 8 * 1024;
inline constexpr std::size_t max_chunk_size = 128 * 1024;
inline constexpr std::uint64_t chunk_boundary_mask = 0xFFFF000000000000ull;

// The gearhash table (rust-gearhash's, as the spec references).
extern const std::uint64_t gear_table[256];

// Holds no data: the caller keeps (or hashes, see keyed_hasher) the bytes of the current chunk.
class chunker {
public:
    // Scans `data`, the bytes that follow everything fed so far. When a chunk ends inside it,
    // returns how many of its bytes belong to that chunk (1..data.size()) and starts a new chunk
    // after them: feed the rest again. Otherwise returns nullopt: all of `data` is in the
    // current chunk.
    std::optional<std::size_t> next_boundary(std::span<const std::uint8_t> data) noexcept;

    // Feeds all of `data`; appends the end offset (from the start of the stream) of each chunk
    // it completes.
    void update(std::span<const std::uint8_t> data, std::vector<std::uint64_t>& chunk_ends);

    // End of input: the end offset of the last, partial chunk, or nullopt when there is none
    // (empty input, or input ending on a boundary). Then the chunker is ready for a new stream.
    std::optional<std::uint64_t> finish() noexcept;

    std::uint64_t offset() const noexcept { return offset_; }  // bytes fed so far
    std::size_t pending() const noexcept { return pending_; }  // bytes of the current chunk
    void reset() noexcept;

private:
    std::uint64_t hash_ = 0;
    std::uint64_t offset_ = 0;
    std::size_t pending_ = 0;
};

// The end offsets of the chunks of a whole buffer (the last is data.size(); none when empty).
std::vector<std::uint64_t> chunk_ends(std::span<const std::uint8_t> data);

// A chunk of a buffer: where it starts, its size, its hash.
struct chunk_span {
    std::uint64_t offset = 0;
    std::uint32_t size = 0;
    merkle_hash hash;
};

// Chunks and hashes a whole buffer.
std::vector<chunk_span> chunk_buffer(std::span<const std::uint8_t> data);

}  // namespace hfhub::xet
