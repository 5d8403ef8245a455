// Partial re-uploads (hub-docs api.md "Get File Chunk Hashes"): which spans of a stored file a
// client must re-chunk around the bytes it changes, the Merkle subtrees of the chunks between
// those spans, and, on the client's side, the new file hash from both. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "xet/chunker.hpp"
#include "xet/error.hpp"
#include "xet/hash.hpp"
#include "xet/subtree.hpp"

namespace hfhub::xet {

// Bytes [start, end) of a file.
struct byte_range {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    friend bool operator==(const byte_range&, const byte_range&) = default;
};

// A chunk size after which the chunker can't be off its old boundaries any more: in
// [2 * min, max - min). Two such chunks in a row end at a boundary that edits before them
// can't move (xet-core's next_stable_chunk_boundary).
constexpr bool is_stable_chunk_size(std::uint64_t n) noexcept {
    return n >= 2 * min_chunk_size && n < max_chunk_size - min_chunk_size;
}

// Sorted, clamped to [0, file_size), those that overlap or touch merged, empty ones dropped.
std::vector<byte_range> normalize_dirty_ranges(std::vector<byte_range> ranges, std::uint64_t file_size);

struct chunk_windows {
    // Chunk-aligned, each holding the dirty ranges it meets, and stretched past the last one
    // to a stable boundary (or the file's end): re-chunking a window's new bytes from its
    // start meets the old chunks again at its end.
    std::vector<byte_range> windows;
    // windows.size() + 1: the chunks before the first window, between two, after the last;
    // nullopt where there are none.
    std::vector<std::optional<merkle_subtree>> gaps;
};

// `chunks`: the file's chunks in order; `dirty`: normalize_dirty_ranges' output for the file's
// size. No window when `dirty` is empty.
chunk_windows plan_chunk_windows(std::span<const hash_and_size> chunks, std::span<const byte_range> dirty);

// The indexes of the segments (terms, by their sizes in file order) that no window touches:
// the ones whose verification hashes still hold.
std::vector<std::size_t> untouched_segments(std::span<const std::uint64_t> segment_sizes,
                                            std::span<const byte_range> windows);

// The client's side: the file hash of gaps[0], window 0's chunks, gaps[1], ..., gaps[N], the
// windows' chunks being what re-chunking their new bytes gave. errc::invalid_subtree when
// the counts don't fit or the pieces don't close into a whole file.
result<merkle_hash> compose_file_hash(std::span<const std::optional<merkle_subtree>> gaps,
                                      std::span<const std::vector<hash_and_size>> window_chunks);

}  // namespace hfhub::xet
