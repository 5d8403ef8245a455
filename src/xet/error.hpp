// What the Xet parsers and builders find wrong, as std::error_code values of their own category.
// The xet layer sits on util only (the server uses it too), so it can't throw hfhub::error: callers
// wrap a code into hfhub::error (client_errc::protocol_error or checksum_mismatch) with the message.
#pragma once

#include <system_error>

#include <boost/system/result.hpp>

namespace hfhub::xet {

enum class errc {
    invalid_hash = 1,       // a hash string that is not 64 hex digits
    truncated,              // the bytes end inside a header, a chunk or a section
    bad_chunk_header,       // a chunk header with an unknown version or impossible sizes
    unknown_compression,    // a chunk compression scheme other than 0, 1, 2
    decompression_failed,   // LZ4 data that doesn't decode, or decodes to the wrong size
    chunk_too_large,        // a chunk over 128 KiB uncompressed (or over the header's 24 bits)
    xorb_too_large,         // a xorb over 64 MiB serialized, or over the chunk count limit
    hash_mismatch,          // the content's hash is not the one expected
    chunk_count_mismatch,   // not the number of chunks expected
    trailing_data,          // bytes after the last complete chunk or section
    bad_magic,              // a shard whose header tag is not the MDB shard tag
    unsupported_version,    // a shard header or footer version this code doesn't know
    bad_footer,             // a shard footer whose size or offsets don't fit the shard
    missing_bookend,        // a shard section without its closing bookend
    too_many_entries,       // a shard over the parser's entry limit
    inconsistent_shard,     // verification entries on some files only, or one file's count off
    invalid_range,          // a chunk range [start, end) that is empty or reversed
    invalid_subtree,        // a Merkle subtree that is malformed or merged out of order
};

const std::error_category& category() noexcept;
std::error_code make_error_code(errc e) noexcept;

// A value or the error_code saying why not. `.value()` throws std::system_error.
template <class T>
using result = boost::system::result<T, std::error_code>;

}  // namespace hfhub::xet

template <>
struct std::is_error_code_enum<hfhub::xet::errc> : std::true_type {};
