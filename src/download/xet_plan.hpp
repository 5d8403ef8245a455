// Downloads through Xet, the pure part: the resolve answer's Xet signals, the CAS's
// reconstruction (v2 "xorbs" or v1 "fetch_info") read into a plan of terms and xorb range
// fetches, and the file offsets terms are written at. No I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfhub::download {

// What a resolve answer says about a Xet-stored file.
struct xet_signal {
    std::string file_hash;    // X-Xet-Hash, lower-case hex
    std::string refresh_url;  // Link rel="xet-auth", else X-Xet-Refresh-Route (maybe relative)
};

// X-Xet-Hash (64 hex) with a refresh route; nullopt when either is missing or malformed.
std::optional<xet_signal> read_xet_signal(std::optional<std::string_view> xet_hash, std::optional<std::string_view> link,
                                          std::optional<std::string_view> refresh_route);

// The target of the first link whose rel (one of its space-separated tokens) is `rel`.
std::optional<std::string> link_with_rel(std::string_view link_header, std::string_view rel);

// One byte range of a xorb and the chunks it holds: chunks [chunk_start, chunk_end), bytes
// [byte_start, byte_end] (inclusive, as the Range header takes them).
struct xet_range {
    std::uint32_t chunk_start = 0, chunk_end = 0;
    std::uint64_t byte_start = 0, byte_end = 0;
    bool operator==(const xet_range&) const = default;
};

// One signed URL and the ranges of one xorb it may be asked for.
struct xet_fetch {
    std::string xorb;  // hex
    std::string url;
    std::vector<xet_range> ranges;
};

// A term of the file: chunks [start, end) of a xorb, written at file_offset; `fetch`/`range`
// name the range that holds it.
struct xet_term {
    std::string xorb;
    std::uint32_t start = 0, end = 0;
    std::uint64_t unpacked_length = 0;
    std::uint64_t file_offset = 0;
    std::size_t fetch = 0, range = 0;
};

struct xet_reconstruction {
    std::uint64_t offset_into_first_range = 0;
    std::vector<xet_term> terms;
    std::vector<xet_fetch> fetches;
    std::uint64_t total = 0;  // the bytes the terms make, less offset_into_first_range
};

// Reads a reconstruction answer (v2: "xorbs", v1: "fetch_info", whichever the body carries).
// Checks: hashes are 64 hex, chunk ranges are non-empty and byte ranges ordered, every term
// lies inside one range of its xorb, lengths add up without overflow. nullopt with `why` else.
// v1's ranges of one xorb, each with its own URL, stay separate fetches.
std::optional<xet_reconstruction> parse_reconstruction(std::string_view body, std::string& why);

// The ranges of `f` some term uses, in order (indices into f.ranges).
std::vector<std::size_t> used_ranges(const xet_reconstruction& r, std::size_t fetch);

// "bytes=a-b,c-d" for the given ranges of a fetch.
std::string range_header(const xet_fetch& f, const std::vector<std::size_t>& ranges);

}  // namespace hfhub::download
