// The map of a parallel download's finished parts, kept beside `<etag>.hfhub-parts` as
// `<etag>.hfhub-parts.map` so that a later run (any process) fetches only what is missing.
//
// Text, one line each, every line ending in a check over the header's nonce and the line:
//   hfhub-parts 1 <etag> <size> <chunk> <dev> <ino> <btime-ns> <nonce> <check>
//   part <first> <last> <check>
// The header is written whole (temp file, rename); records are appended, one write each, only
// after the parts file's data is synced. A line that fails its check ends the map: a torn
// header is no map at all, a torn record loses that part only. The header names the parts file
// by device, inode, birth time and size, so a map never vouches for another file's bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfhub::download {

// Who the parts file is: what stat says of it when the map was made.
struct file_identity {
    std::uint64_t dev = 0, ino = 0;
    std::uint64_t btime_ns = 0;  // 0 where the file system keeps no birth time
    std::uint64_t size = 0;
    bool operator==(const file_identity&) const = default;
};

struct parts_header {
    std::string etag;
    std::uint64_t size = 0;   // the blob's
    std::uint64_t chunk = 0;  // part i is [i*chunk, min(size, (i+1)*chunk))
    file_identity file;
    std::string nonce;        // random hex, binds records to this header
};

struct parts_map {
    parts_header header;
    std::vector<bool> done;  // per part
};

inline std::uint64_t part_count(std::uint64_t size, std::uint64_t chunk) { return (size + chunk - 1) / chunk; }

std::string format_header(const parts_header& h);
std::string format_record(const parts_header& h, std::uint64_t part);

// nullopt when the header is torn, malformed or not for (etag, size); records after the first
// bad line are ignored.
std::optional<parts_map> parse_parts_map(std::string_view text, std::string_view etag, std::uint64_t size);

// The identity of an open file; nullopt when it can't be read.
std::optional<file_identity> identify(int fd);

}  // namespace hfhub::download
