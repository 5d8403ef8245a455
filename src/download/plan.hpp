// The decisions of a download, without I/O: when the cache answers, when the Hub is asked, what
// an offline call or a failed probe falls back to, and how a fetch starts, resumes or restarts.
// The callers gather the facts (file sizes, cache lookups) and do what these return.
#pragma once

#include <hfhub/download.hpp>
#include <hfhub/error.hpp>

#include "cache/layout.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace hfhub::download {

// local_files_only, then the call's own choice, then HF_HUB_OFFLINE (`env_offline`).
offline_policy policy_of(bool local_files_only, std::optional<offline_policy> asked, bool env_offline);

// Errors after which the cache may still answer: the Hub unreachable or confused.
bool cache_may_answer(const error& e);

// An existing file (a pinned snapshot, a pointer, a blob, a local_dir file) is used as it is,
// unless force_download.
bool reuse(bool force_download, bool exists);

// Whether the cache is looked at before the Hub is asked (prefer_offline or offline).
bool cache_first(offline_policy p, bool force_download);

// What a cache lookup made before asking the Hub settles.
enum class cache_verdict {
    ask_hub,        // online, or prefer_offline and not cached
    use_cache,      // the file is cached at the revision
    known_missing,  // offline, and the cache records that the file is not in the revision
    not_cached,     // offline, and nothing known
};
cache_verdict verdict(offline_policy p, cache::cached_state s);

// With a cached copy to fall back on, the probe is tried once (as Python does); without one,
// the client's retry policy applies.
std::optional<unsigned> probe_retries(bool have_fallback);

// After a failed probe (or repo info): whether the cached copy is the answer.
bool falls_back(const error& e, bool have_fallback);

// local_dir, before any request.
enum class local_dir_step {
    use_file,    // its metadata names the pinned commit: no request
    probe,       // ask the Hub what the file is now
    not_cached,  // offline, and the file is not there
};
// `meta_commit`: the commit its metadata records, when the metadata is there and trusted.
local_dir_step local_dir_before_probe(bool force_download, const std::optional<std::string>& meta_commit,
                                      const std::string& revision, bool exists, offline_policy p);
// After the probe: the file is current when its metadata's etag is the Hub's.
bool local_dir_current(bool force_download, const std::optional<std::string>& meta_etag, const std::string& etag,
                       bool exists);

// snapshot_download: while at least as many big files wait as there are workers, a big file is
// streamed whole (file-level parallelism keeps the workers busy); ranges are for the tail.
bool stream_whole(bool big, std::uint64_t big_left, unsigned workers);

// A fetch in parallel ranges: a big enough file, and ranges allowed.
bool want_parallel(std::uint64_t size, std::uint64_t threshold, unsigned max_parallel, std::uint64_t chunk);

// How a fetch starts from what earlier runs left.
struct start_choice {
    bool drop_prefix = false;  // the .incomplete is longer than the file: not a prefix of it
    bool parallel = false;     // into the parts file (else: continue the prefix)
};
// `prefix`: the size of the .incomplete; `in_parts`: the bytes the parts map vouches for.
start_choice choose_start(bool want_parallel, std::uint64_t prefix, std::uint64_t size, std::uint64_t in_parts);

// What follows one round of fetching.
enum class round_end {
    publish,           // the bytes are the file
    again_sequential,  // ranges were answered with the whole file: once more, in one stream
    again_fresh,       // wrong bytes that an earlier run left: once more, from nothing
    checksum_mismatch, // wrong bytes of this run's own
};
// `digest`: the hash of the bytes when verifying; `resumed`: the round continued earlier bytes;
// `fresh`: this run already started from nothing.
round_end after_round(bool ranges_ignored, const std::optional<std::string>& digest, const std::string& etag,
                      bool resumed, bool fresh);

}  // namespace hfhub::download
