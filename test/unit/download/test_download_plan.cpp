// The download decisions, one table each: offline policy, when the cache answers, what a failed
// probe falls back to, local_dir, and how a fetch starts, resumes or restarts.
#include "download/plan.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

using namespace hfhub;
using namespace hfhub::download;
using cache::cached_state;

namespace {
const offline_policy on = offline_policy::online, prefer = offline_policy::prefer_offline, off = offline_policy::offline;
const std::string C1 = "1111111111111111111111111111111111111111";
const std::string C2 = "2222222222222222222222222222222222222222";

error client_side(client_errc e) { return error(e, diagnostics()); }
error hub(hub_errc e, unsigned status) {
    diagnostics d;
    d.status = status;
    return error(e, d);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(download_plan)

BOOST_AUTO_TEST_CASE(offline_policy_from_options_and_environment) {
    struct {
        bool local_files_only;
        std::optional<offline_policy> asked;
        bool env_offline;
        offline_policy want;
    } cases[] = {
        {false, std::nullopt, false, on},
        {false, std::nullopt, true, off},      // HF_HUB_OFFLINE
        {false, prefer, true, prefer},         // the call's choice over the environment
        {false, on, true, on},
        {true, on, false, off},                // local_files_only over everything
        {true, std::nullopt, false, off},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.local_files_only << " " << c.asked.has_value() << " " << c.env_offline) {
            BOOST_TEST((policy_of(c.local_files_only, c.asked, c.env_offline) == c.want));
        }
}

BOOST_AUTO_TEST_CASE(errors_after_which_the_cache_may_answer) {
    struct {
        error e;
        bool may;
    } cases[] = {
        {client_side(client_errc::connection_failed), true},
        {client_side(client_errc::timeout), true},
        {client_side(client_errc::tls_error), true},
        {client_side(client_errc::proxy_error), true},
        {client_side(client_errc::protocol_error), true},
        {client_side(client_errc::offline), true},
        {client_side(client_errc::cancelled), false},
        {client_side(client_errc::checksum_mismatch), false},
        {hub(hub_errc::server_error, 500), true},
        {hub(hub_errc::rate_limited, 429), true},
        {hub(hub_errc::http_error, 418), true},
        {hub(hub_errc::repo_not_found, 404), false},
        {hub(hub_errc::entry_not_found, 404), false},
        {hub(hub_errc::unauthorized, 401), false},
        {hub(hub_errc::gated_repo, 403), false},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.e.what()) {
            BOOST_TEST(cache_may_answer(c.e) == c.may);
            BOOST_TEST(falls_back(c.e, true) == c.may);
            BOOST_TEST(!falls_back(c.e, false));  // nothing cached: the error stands
        }
}

BOOST_AUTO_TEST_CASE(force_download_never_reuses) {
    BOOST_TEST(reuse(false, true));
    BOOST_TEST(!reuse(false, false));
    BOOST_TEST(!reuse(true, true));
    BOOST_TEST(!reuse(true, false));
}

BOOST_AUTO_TEST_CASE(what_the_cache_settles_before_the_hub) {
    struct {
        offline_policy p;
        bool force;
        cached_state state;
        bool looks;
        cache_verdict want;
    } cases[] = {
        {on, false, cached_state::present, false, cache_verdict::use_cache},
        {prefer, false, cached_state::present, true, cache_verdict::use_cache},
        {prefer, false, cached_state::known_missing, true, cache_verdict::ask_hub},
        {prefer, false, cached_state::unknown, true, cache_verdict::ask_hub},
        {prefer, true, cached_state::present, false, cache_verdict::use_cache},
        {off, false, cached_state::present, true, cache_verdict::use_cache},
        {off, false, cached_state::known_missing, true, cache_verdict::known_missing},
        {off, false, cached_state::unknown, true, cache_verdict::not_cached},
        {off, true, cached_state::unknown, false, cache_verdict::not_cached},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(static_cast<int>(c.p) << " force " << c.force << " state " << static_cast<int>(c.state)) {
            BOOST_TEST(cache_first(c.p, c.force) == c.looks);
            BOOST_TEST((verdict(c.p, c.state) == c.want));
        }
}

BOOST_AUTO_TEST_CASE(one_probe_when_the_cache_can_answer) {
    BOOST_TEST(probe_retries(true).value_or(99) == 0u);
    BOOST_TEST(!probe_retries(false).has_value());  // the client's retry policy
}

BOOST_AUTO_TEST_CASE(local_dir_before_and_after_the_probe) {
    struct {
        const char* name;
        bool force;
        std::optional<std::string> meta_commit;
        std::string revision;
        bool exists;
        offline_policy p;
        local_dir_step want;
    } cases[] = {
        {"pinned and recorded", false, C1, C1, true, on, local_dir_step::use_file},
        {"pinned, recorded, forced", true, C1, C1, true, on, local_dir_step::probe},
        {"pinned, another commit recorded", false, C2, C1, true, on, local_dir_step::probe},
        {"a branch is never pinned", false, std::string("main"), "main", true, on, local_dir_step::probe},
        {"no metadata", false, std::nullopt, C1, true, on, local_dir_step::probe},
        {"recorded, file gone", false, C1, C1, false, on, local_dir_step::probe},
        {"offline, file there", false, std::nullopt, "main", true, off, local_dir_step::use_file},
        {"offline, forced, file there", true, std::nullopt, "main", true, off, local_dir_step::use_file},
        {"offline, no file", false, C1, C1, false, off, local_dir_step::not_cached},
        {"prefer_offline asks", false, std::nullopt, "main", true, prefer, local_dir_step::probe},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_TEST((local_dir_before_probe(c.force, c.meta_commit, c.revision, c.exists, c.p) == c.want));
        }
    BOOST_TEST(local_dir_current(false, std::string("e1"), "e1", true));
    BOOST_TEST(!local_dir_current(true, std::string("e1"), "e1", true));
    BOOST_TEST(!local_dir_current(false, std::string("e0"), "e1", true));
    BOOST_TEST(!local_dir_current(false, std::nullopt, "e1", true));
    BOOST_TEST(!local_dir_current(false, std::string("e1"), "e1", false));
}

BOOST_AUTO_TEST_CASE(big_files_stream_whole_while_they_fill_the_workers) {
    BOOST_TEST(stream_whole(true, 4, 4));
    BOOST_TEST(stream_whole(true, 5, 4));
    BOOST_TEST(!stream_whole(true, 3, 4));  // the tail: ranges
    BOOST_TEST(!stream_whole(false, 9, 4));
}

BOOST_AUTO_TEST_CASE(when_a_fetch_uses_ranges) {
    BOOST_TEST(want_parallel(100, 100, 2, 10));
    BOOST_TEST(!want_parallel(99, 100, 2, 10));
    BOOST_TEST(!want_parallel(100, 100, 1, 10));
    BOOST_TEST(!want_parallel(100, 100, 2, 0));
}

BOOST_AUTO_TEST_CASE(how_a_fetch_starts_from_what_was_left) {
    struct {
        const char* name;
        bool ranges;
        std::uint64_t prefix, size, in_parts;
        bool drop, parallel;
    } cases[] = {
        {"nothing left, one stream", false, 0, 100, 0, false, false},
        {"nothing left, ranges", true, 0, 100, 0, false, true},
        {"a prefix continued", false, 40, 100, 0, false, false},
        {"a prefix bigger than the parts wins", true, 40, 100, 30, false, false},
        {"a prefix as big as the parts wins", true, 30, 100, 30, false, false},
        {"parts bigger than the prefix win", true, 30, 100, 40, false, true},
        {"a whole prefix is continued too", false, 100, 100, 0, false, false},
        {"longer than the file: dropped", false, 101, 100, 0, true, false},
        {"longer than the file, ranges: dropped, parts", true, 101, 100, 0, true, true},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.name) {
            start_choice s = choose_start(c.ranges, c.prefix, c.size, c.in_parts);
            BOOST_TEST(s.drop_prefix == c.drop);
            BOOST_TEST(s.parallel == c.parallel);
        }
}

BOOST_AUTO_TEST_CASE(what_follows_a_round) {
    const std::string etag = "e";
    struct {
        const char* name;
        bool ranges_ignored;
        std::optional<std::string> digest;
        bool resumed, fresh;
        round_end want;
    } cases[] = {
        {"verified", false, std::string("e"), false, false, round_end::publish},
        {"not verifying", false, std::nullopt, true, false, round_end::publish},
        {"ranges ignored", true, std::nullopt, false, false, round_end::again_sequential},
        {"ranges ignored wins over a digest", true, std::string("x"), true, false, round_end::again_sequential},
        {"wrong bytes left by an earlier run", false, std::string("x"), true, false, round_end::again_fresh},
        {"wrong bytes, already fresh", false, std::string("x"), true, true, round_end::checksum_mismatch},
        {"wrong bytes of our own", false, std::string("x"), false, false, round_end::checksum_mismatch},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_TEST((after_round(c.ranges_ignored, c.digest, etag, c.resumed, c.fresh) == c.want));
        }
}

BOOST_AUTO_TEST_SUITE_END()
