// Downloads into the cache Python and JS share (or into a plain folder), verified while the
// bytes stream, safe against other threads and processes fetching the same files.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/progress.hpp>
#include <hfhub/repo.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace hfhub {

enum class offline_policy {
    online,          // ask the Hub which commit and file a revision means
    prefer_offline,  // use the cache when it has the file, else ask
    offline,         // never touch the network: the cache or local_entry_not_found
};

struct download_options {
    repo_type type = repo_type::model;
    std::string revision = "main";  // branch, tag, 40-hex commit or refs/pr/N
    std::string subfolder;
    std::filesystem::path cache_dir;  // empty: the config's hub_cache
    std::optional<std::filesystem::path> local_dir;  // files there instead of the cache
    bool force_download = false;
    bool local_files_only = false;           // same as offline_policy::offline
    std::optional<offline_policy> offline;   // empty: offline when the config says so, else online
    std::optional<std::string> token;
    std::optional<proxy_config> proxies;
    std::optional<std::chrono::milliseconds> etag_timeout;
    progress_handler progress;  // called from the executor the call runs on; cheap when empty
    bool verify = true;         // sha256 for LFS files, git blob SHA-1 for regular ones
    std::uint64_t parallel_threshold = 64ull << 20;  // files this big come as parallel ranges
    std::uint64_t chunk_size = 16ull << 20;
    unsigned max_parallel = 8;
    std::chrono::milliseconds lock_timeout = std::chrono::minutes(10);
    bool use_symlinks = true;  // false (or HF_HUB_DISABLE_SYMLINKS): copies in snapshots/
    // Added to the User-Agent of this call's requests, after the config's library, as
    // "; <library_name>/<library_version>; <user_agent>" (Python's parameters of those names).
    std::string library_name;
    std::string library_version;
    std::string user_agent;
};

// Returns the file's path: snapshots/<commit>/<file> in the cache, or local_dir/<file>.
// Errors: invalid_repo_id, invalid_path, repo_not_found, revision_not_found, entry_not_found,
// local_entry_not_found (offline and not cached), checksum_mismatch (nothing is kept),
// lock_timeout, cancelled, and the client's transport errors.
boost::asio::awaitable<std::filesystem::path> co_hf_hub_download(client& c, std::string repo_id,
                                                                 std::string filename, download_options opts = download_options());
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<std::filesystem::path> co_hf_hub_download(client& c, std::string repo_id,
                                                                        std::string filename, use_defaults) {
    return co_hf_hub_download(c, std::move(repo_id), std::move(filename));
}
std::filesystem::path hf_hub_download(client& c, std::string repo_id, std::string filename,
                                      download_options opts = download_options());

struct snapshot_options : download_options {
    std::vector<std::string> allow_patterns;   // Python fnmatch: '*' spans '/', trailing '/' → '/*'
    std::vector<std::string> ignore_patterns;
    // Files downloaded at once. While at least this many big files (parallel_threshold) are
    // left, each streams in one piece and is hashed as it arrives; fewer, and they come as
    // parallel ranges.
    unsigned max_workers = 8;
};

// Resolves the revision to one commit, lists it, and downloads every matching file from that
// commit. Returns snapshots/<commit> (or local_dir).
boost::asio::awaitable<std::filesystem::path> co_snapshot_download(client& c, std::string repo_id,
                                                                   snapshot_options opts = snapshot_options());
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<std::filesystem::path> co_snapshot_download(client& c, std::string repo_id, use_defaults) {
    return co_snapshot_download(c, std::move(repo_id));
}
std::filesystem::path snapshot_download(client& c, std::string repo_id, snapshot_options opts = snapshot_options());

}  // namespace hfhub
