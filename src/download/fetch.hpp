// Internals of downloads: the metadata probe, and fetching one blob verified into place.
#pragma once

#include "cache/layout.hpp"
#include "cache/lock.hpp"
#include "download/xet_plan.hpp"

#include <hfhub/client.hpp>
#include <hfhub/download.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace hfhub::download {

namespace fs = std::filesystem;

// What the Hub says about one file at one revision.
struct file_meta {
    std::string commit;
    std::string etag;  // normalized: no W/ and no quotes
    std::uint64_t size = 0;
    std::string url;   // where the bytes are: a storage URL or the resolve URL
    std::optional<xet_signal> xet;  // the file is stored with Xet (X-Xet-Hash and a token route)
};

// The largest size a file can have here (off_t); an announced size above it is a lie.
inline constexpr std::uint64_t max_file_size = 0x7fffffffffffffffull;

std::string normalize_etag(std::string_view etag);
// "; name/version; user_agent" from the call's options; empty when none is set.
std::string user_agent_suffix(const download_options& o);
std::string resolve_url(const std::string& endpoint, repo_type t, const std::string& repo_id,
                        const std::string& revision, const std::string& file);

// HEAD on resolve, following only relative redirects. On EntryNotFound it marks the file missing
// in the cache (when `cache` is given) before rethrowing.
// `max_retries` overrides the client's retries (0 when the cache has an answer to fall back on).
boost::asio::awaitable<file_meta> co_probe(client& c, const download_options& o, const std::string& repo_id,
                                           const std::string& file, const cache::repo_cache* cache,
                                           std::optional<unsigned> max_retries = std::nullopt);

// Downloads `meta` into `target` (created whole or not at all), verified against the etag and
// size: one stream that continues the prefix in `partial` (`<x>.incomplete`, as Python and JS
// leave it), or, for big files, parallel ranges into `<x>.hfhub-parts`, whose map beside it
// lets a later run fetch only the missing parts. `partial` only ever holds a prefix of the file.
// `lock` (the blob's) is held by every disk job this starts until that job ends, also when a
// cancellation returns early. Cancellation ends it with hfhub::error(cancelled).
boost::asio::awaitable<void> co_fetch(client& c, const download_options& o, const std::string& endpoint,
                                      const std::string& file, const file_meta& meta, const fs::path& partial,
                                      const fs::path& target, std::shared_ptr<cache::file_lock> lock);

}  // namespace hfhub::download
