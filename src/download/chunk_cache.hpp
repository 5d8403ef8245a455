// A local cache of Xet xorb ranges, so that downloads of files sharing chunks fetch them once.
// Keyed by xorb hash and chunk range; an entry holds the range's bytes as the CAS served them
// (chunk headers and compressed payloads), behind a header with their length and SHA-256, so a
// torn or damaged entry reads as a miss (and is removed). Bounded: a put that takes the folder
// over `capacity` bytes removes the least recently used entries (a hit touches its mtime).
//
// Safe with several processes: entries are written to a private temp file and renamed into
// place; readers hold their descriptor, so an eviction by another process never tears a read;
// every process measures the folder itself before evicting.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hfhub::download {

struct cached_range {
    std::uint32_t chunk_start = 0, chunk_end = 0;  // what the entry holds: may cover more than asked
    std::string bytes;
};

class chunk_cache {
public:
    // capacity 0: every call does nothing (a miss, no put).
    chunk_cache(std::filesystem::path dir, std::uint64_t capacity);

    // An entry of `xorb` holding chunks [start, end) (the smallest such), or nullopt.
    std::optional<cached_range> get(const std::string& xorb, std::uint32_t start, std::uint32_t end);
    // Stores the bytes of chunks [start, end); then evicts while the folder is over capacity.
    // Errors (disk full, permissions) are swallowed: the cache is an optimisation.
    void put(const std::string& xorb, std::uint32_t start, std::uint32_t end, std::string_view bytes);
    // Drops every entry of `xorb` (after its bytes failed a check).
    void remove(const std::string& xorb);

    // The folder's entries' total size, measured now.
    std::uint64_t measure() const;
    const std::filesystem::path& dir() const { return dir_; }
    std::uint64_t capacity() const { return capacity_; }

    // The file name of an entry: "<xorb>.<start>-<end>" under "<xorb[0:2]>/".
    static std::string entry_name(const std::string& xorb, std::uint32_t start, std::uint32_t end);

private:
    void evict_over_capacity();

    std::filesystem::path dir_;
    std::uint64_t capacity_;
    std::mutex mu_;
    std::optional<std::uint64_t> estimate_;  // this process's running view of the folder's size
};

// What to evict: entries (size, last use) oldest first until the total is at most `capacity`.
// Pure, for the tests. Returns indices into `entries`.
struct cache_entry_info {
    std::uint64_t size = 0;
    std::int64_t last_use_ns = 0;
};
std::vector<std::size_t> choose_evictions(const std::vector<cache_entry_info>& entries, std::uint64_t capacity);

}  // namespace hfhub::download
