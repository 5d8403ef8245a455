// Client configuration: one struct, filled explicitly or by from_env(), the only code in
// hfhub that reads the environment.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace hfhub {

struct proxy_config {
    std::string http;      // proxy for http:// URLs, e.g. "http://user:pw@proxy:3128"; empty: direct
    std::string https;     // proxy for https:// URLs (tunnelled with CONNECT)
    std::string no_proxy;  // comma-separated hosts, domains (".x.org" or "x.org"), IPs, CIDRs, "*"
};

struct timeout_config {
    std::chrono::milliseconds connect = std::chrono::seconds(10);
    std::chrono::milliseconds read = std::chrono::seconds(10);  // idle time allowed per read; a body must also bring 16 KiB per period
    std::chrono::milliseconds etag = std::chrono::seconds(10);  // HF_HUB_ETAG_TIMEOUT: metadata HEADs
    std::chrono::milliseconds download = std::chrono::seconds(10);  // HF_HUB_DOWNLOAD_TIMEOUT: per read on downloads
};

struct pool_config {
    std::size_t per_host = 8;
    std::size_t total = 64;
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(30);
};

struct retry_config {
    unsigned max_retries = 5;  // per request
    std::chrono::milliseconds base_delay = std::chrono::seconds(1);
    std::chrono::milliseconds max_delay = std::chrono::seconds(8);
    std::chrono::milliseconds request_budget = std::chrono::seconds(60);  // total waiting for one request
    std::uint64_t total_retries = 10000;              // for the client's lifetime
};

// Xet storage (content-defined chunks in xorbs, see docs/xet.md). Defaults and environment
// variables as huggingface_hub and hf_xet read them.
struct xet_config {
    bool enabled = true;  // false: HF_HUB_DISABLE_XET; files then come through the LFS bridge
    // Uploads skip chunks the CAS already has (false: HF_XET_DEDUPLICATION_GLOBAL_DEDUP_QUERY_ENABLED=false).
    bool dedup = true;
    std::filesystem::path cache_dir;        // HF_XET_CACHE, else hf_home/xet
    // cache_dir/hfhub-chunk-cache (its own format, not hf_xet's); empty: no chunk cache.
    std::filesystem::path chunk_cache_dir;
    // Bound of the local chunk cache in bytes (HF_XET_CHUNK_CACHE_SIZE_BYTES); 0 turns it off.
    // Off by default, as in hf_xet's default build: filling it writes every download twice.
    std::uint64_t chunk_cache_size = 0;
    // Also check a Xet download's bytes against the etag's SHA-256 (HFHUB_XET_VERIFY_SHA256),
    // on top of the chunk hashes and the Xet file hash, which already cover every byte.
    // Costs one SHA-256 pass, overlapped with the transfer; download_options::verify = false
    // turns it off too.
    bool verify_sha256 = false;
    unsigned max_parallel = 8;  // xorb ranges fetched at once per file (HF_XET_FIXED_DOWNLOAD_CONCURRENCY)
};

struct config {
    std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, no trailing '/'
    std::optional<std::string> token;                 // HF_TOKEN, then the token file
    bool implicit_token = true;                       // false: HF_HUB_DISABLE_IMPLICIT_TOKEN
    std::filesystem::path hf_home;                    // HF_HOME
    std::filesystem::path token_path;                 // HF_TOKEN_PATH, else hf_home/token (login writes it)
    std::filesystem::path hub_cache;                  // HF_HUB_CACHE
    bool offline = false;                             // HF_HUB_OFFLINE
    bool disable_symlinks = false;                    // HF_HUB_DISABLE_SYMLINKS: copies in snapshots/
    proxy_config proxies;                             // HTTPS_PROXY, HTTP_PROXY, NO_PROXY
    std::optional<std::filesystem::path> ca_bundle;   // SSL_CERT_FILE; else the system store
    timeout_config timeouts;
    pool_config pool;
    retry_config retry;
    xet_config xet;
    unsigned max_redirects = 10;
    // Threads of the client's blocking pool, where hashing local files, serialising a model,
    // fsync, renames and unlinks of big files run, off the caller's I/O threads (0 counts as 1).
    unsigned blocking_threads = 4;
    std::string library_name;  // for the User-Agent
    std::string library_version;

    using env_lookup = std::function<std::optional<std::string>(std::string_view name)>;
    // Defaults and precedence as the Python client's. Reads the token file too.
    static config from_env();
    static config from_env(const env_lookup& getenv);
};

}  // namespace hfhub
