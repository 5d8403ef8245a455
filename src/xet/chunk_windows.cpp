#include "xet/chunk_windows.hpp"

#include <algorithm>

namespace hfhub::xet {

std::vector<byte_range> normalize_dirty_ranges(std::vector<byte_range> ranges, std::uint64_t file_size) {
    std::vector<byte_range> out;
    for (auto& r : ranges) r.end = std::min(r.end, file_size);
    std::erase_if(ranges, [](const byte_range& r) { return r.start >= r.end; });
    std::sort(ranges.begin(), ranges.end(), [](const byte_range& a, const byte_range& b) { return a.start < b.start; });
    for (auto& r : ranges) {
        if (!out.empty() && r.start <= out.back().end)
            out.back().end = std::max(out.back().end, r.end);
        else
            out.push_back(r);
    }
    return out;
}

chunk_windows plan_chunk_windows(std::span<const hash_and_size> chunks, std::span<const byte_range> dirty) {
    chunk_windows out;
    std::vector<hash_and_size> gap;
    bool gap_starts_file = true;
    bool open = false;
    std::uint64_t last_clean = 0;  // the size of the open window's last clean chunk (0: none)
    auto close_gap = [&](bool at_end) {
        if (gap.empty())
            out.gaps.emplace_back();
        else
            out.gaps.push_back(merkle_subtree::from_chunks(gap_starts_file, gap, at_end));
        gap.clear();
    };
    std::size_t d = 0;
    std::uint64_t pos = 0;
    for (auto& c : chunks) {
        const std::uint64_t start = pos, end = pos + c.size;
        pos = end;
        while (d < dirty.size() && dirty[d].end <= start) ++d;
        const bool is_dirty = d < dirty.size() && dirty[d].start < end;
        if (!open) {
            if (!is_dirty) {
                gap.push_back(c);
                continue;
            }
            close_gap(false);
            out.windows.push_back({start, end});
            open = true;
            last_clean = 0;
            continue;
        }
        out.windows.back().end = end;
        if (is_dirty) {
            last_clean = 0;
            continue;
        }
        // Past the dirty bytes: close after two clean chunks in a row of stable sizes.
        const bool stable = is_stable_chunk_size(last_clean) && is_stable_chunk_size(c.size);
        last_clean = c.size;
        if (stable) {
            open = false;
            gap_starts_file = false;
        }
    }
    if (out.windows.empty()) {
        out.gaps.clear();
        return out;
    }
    close_gap(true);
    return out;
}

std::vector<std::size_t> untouched_segments(std::span<const std::uint64_t> segment_sizes,
                                            std::span<const byte_range> windows) {
    std::vector<std::size_t> out;
    std::uint64_t pos = 0;
    std::size_t w = 0;
    for (std::size_t i = 0; i < segment_sizes.size(); ++i) {
        const std::uint64_t start = pos, end = pos + segment_sizes[i];
        pos = end;
        while (w < windows.size() && windows[w].end <= start) ++w;
        if (!(w < windows.size() && windows[w].start < end)) out.push_back(i);
    }
    return out;
}

result<merkle_hash> compose_file_hash(std::span<const std::optional<merkle_subtree>> gaps,
                                      std::span<const std::vector<hash_and_size>> window_chunks) {
    if (window_chunks.empty() || gaps.size() != window_chunks.size() + 1) return errc::invalid_subtree;
    std::optional<merkle_subtree> whole;
    auto append = [&](merkle_subtree t) -> std::error_code {
        if (!whole) {
            whole = std::move(t);
            return {};
        }
        return whole->merge(t);
    };
    for (std::size_t i = 0; i < gaps.size(); ++i) {
        if (gaps[i])
            if (auto ec = append(*gaps[i])) return ec;
        if (i == window_chunks.size()) break;
        // A window starts the file when no gap comes before it, and ends it likewise.
        const bool at_start = i == 0 && !gaps[0];
        const bool at_end = i + 1 == window_chunks.size() && !gaps.back();
        if (auto ec = append(merkle_subtree::from_chunks(at_start, window_chunks[i], at_end))) return ec;
    }
    auto root = whole->root();
    if (!root) return errc::invalid_subtree;
    // An empty file hashes to zeros; any other to its root keyed with the zero salt.
    if (whole->empty()) return merkle_hash{};
    return keyed_hash(hash_key{}, root->bytes);
}

}  // namespace hfhub::xet
