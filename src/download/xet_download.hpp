// Downloads through Xet: a read token, the file's reconstruction from the CAS, its xorb ranges
// streamed in parallel over the client's pool (or taken from the local chunk cache, when on),
// each chunk decompressed and hashed as it arrives and written at its terms' offsets into a
// private file, then the Xet file hash (and, with xet.verify_sha256, the etag's SHA-256, hashed
// in file order while the ranges land) checked before the file is published.
#pragma once

#include "download/fetch.hpp"

#include <boost/asio/awaitable.hpp>

#include <filesystem>
#include <memory>

namespace hfhub::download {

// Whether a file with `meta` goes through Xet under `cfg` (on, and the Hub sent the signals).
bool use_xet(const config& cfg, const file_meta& meta);

// What co_xet_fetch did: published the file, or found the server doesn't speak Xet for it
// (the token route or the reconstruction answered 404/501) so the caller takes the LFS bridge.
enum class xet_outcome { published, not_served };

// Downloads `meta` into `target` (created whole or not at all). The bytes go to
// `<partial minus .incomplete>.hfhub-xet`, a file only hfhub reads (`partial`, the prefix other
// clients resume, is never written). Errors: checksum_mismatch (a range that doesn't decode, a
// term of the wrong length, the wrong Xet file hash or checked SHA-256; nothing is kept, and the chunk
// cache drops the xorbs involved), protocol_error (a malformed reconstruction), the Hub's and
// the transport's errors, cancelled. `lock` is the blob's, held by the disk jobs this starts.
boost::asio::awaitable<xet_outcome> co_xet_fetch(client& c, const download_options& o, const std::string& file,
                                                 const file_meta& meta, const fs::path& partial, const fs::path& target,
                                                 std::shared_ptr<cache::file_lock> lock);

}  // namespace hfhub::download
