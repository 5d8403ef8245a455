#include "download/plan.hpp"

namespace hfhub::download {

offline_policy policy_of(bool local_files_only, std::optional<offline_policy> asked, bool env_offline) {
    if (local_files_only) return offline_policy::offline;
    if (asked) return *asked;
    return env_offline ? offline_policy::offline : offline_policy::online;
}

bool cache_may_answer(const error& e) {
    auto ec = e.code();
    if (ec.category() == client_category())
        return ec == client_errc::connection_failed || ec == client_errc::timeout || ec == client_errc::tls_error ||
               ec == client_errc::proxy_error || ec == client_errc::protocol_error || ec == client_errc::offline;
    return ec == hub_errc::server_error || ec == hub_errc::rate_limited || ec == hub_errc::http_error;
}

bool reuse(bool force_download, bool exists) { return !force_download && exists; }

bool cache_first(offline_policy p, bool force_download) { return p != offline_policy::online && !force_download; }

cache_verdict verdict(offline_policy p, cache::cached_state s) {
    if (s == cache::cached_state::present) return cache_verdict::use_cache;
    if (p != offline_policy::offline) return cache_verdict::ask_hub;
    return s == cache::cached_state::known_missing ? cache_verdict::known_missing : cache_verdict::not_cached;
}

std::optional<unsigned> probe_retries(bool have_fallback) {
    return have_fallback ? std::optional<unsigned>(0) : std::nullopt;
}

bool falls_back(const error& e, bool have_fallback) { return have_fallback && cache_may_answer(e); }

local_dir_step local_dir_before_probe(bool force_download, const std::optional<std::string>& meta_commit,
                                      const std::string& revision, bool exists, offline_policy p) {
    if (!force_download && meta_commit && cache::is_commit_hash(revision) && *meta_commit == revision && exists)
        return local_dir_step::use_file;
    if (p == offline_policy::offline) return exists ? local_dir_step::use_file : local_dir_step::not_cached;
    return local_dir_step::probe;
}

bool local_dir_current(bool force_download, const std::optional<std::string>& meta_etag, const std::string& etag,
                       bool exists) {
    return !force_download && meta_etag && *meta_etag == etag && exists;
}

bool stream_whole(bool big, std::uint64_t big_left, unsigned workers) { return big && big_left >= workers; }

bool want_parallel(std::uint64_t size, std::uint64_t threshold, unsigned max_parallel, std::uint64_t chunk) {
    return size >= threshold && max_parallel > 1 && chunk > 0;
}

start_choice choose_start(bool want_parallel, std::uint64_t prefix, std::uint64_t size, std::uint64_t in_parts) {
    start_choice c;
    if (prefix > size) {
        c.drop_prefix = true;
        prefix = 0;
    }
    // A prefix (Python's, JS's, or ours from a single stream) is continued when it holds more
    // than the parts do; parts are never merged into it, which must stay a plain prefix.
    c.parallel = want_parallel && !(prefix > 0 && prefix >= in_parts);
    return c;
}

round_end after_round(bool ranges_ignored, const std::optional<std::string>& digest, const std::string& etag,
                      bool resumed, bool fresh) {
    if (ranges_ignored) return round_end::again_sequential;
    if (!digest || *digest == etag) return round_end::publish;
    return resumed && !fresh ? round_end::again_fresh : round_end::checksum_mismatch;
}

}  // namespace hfhub::download
