// Retry policy: the server's hints (Retry-After, RateLimit), retryable statuses, and one
// request's schedule of waits.
#include "http/policy.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <optional>
#include <set>
#include <string>

using namespace hfhub;
using namespace hfhub::http;
using namespace std::chrono_literals;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr long long none = -1;  // printable stand-in for nullopt

long long secs(std::optional<seconds> s) { return s ? s->count() : none; }

retry_config test_retry(unsigned max_retries = 5, milliseconds budget = 60s) {
    retry_config c;
    c.max_retries = max_retries;
    c.base_delay = 1s;
    c.max_delay = 8s;
    c.request_budget = budget;
    return c;
}

retry_schedule::failure status(unsigned s, std::string_view retry_after = {}, std::string_view ratelimit = {}) {
    retry_schedule::failure f;
    f.status = s;
    f.retry_after = retry_after;
    f.ratelimit = ratelimit;
    return f;
}

retry_schedule::failure connection_error() { return {}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(http_retry_hints)

BOOST_AUTO_TEST_CASE(retry_after_integer_seconds_only) {
    struct row {
        const char* value;
        long long want;
    };
    const row rows[] = {
        {"3", 3},
        {"0", 0},
        {"  120\t", 120},
        {"86400", 86400},
        {"", none},
        {"   ", none},
        {"-1", none},
        {"+3", none},
        {"1.5", none},
        {"3s", none},
        {"abc", none},
        {"Wed, 21 Oct 2015 07:28:00 GMT", none},
        {"99999999999999999999999", none},  // overflows 64 bits
        {"99999999999", none},              // beyond any sane wait
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("Retry-After: '" << r.value << "'") {
            BOOST_TEST(secs(parse_retry_after(r.value)) == r.want);
        }
    }
}

BOOST_AUTO_TEST_CASE(ratelimit_structured_form) {
    struct row {
        const char* value;
        long long want;
    };
    const row rows[] = {
        {R"("api";r=0;t=12)", 12},
        {R"("api";t=12;r=0)", 12},                  // any order
        {R"( "api" ; r = 0 ; t = 12 )", 12},        // spaces tolerated
        {R"("resolvers";r=0;t=300)", 300},          // any policy name
        {R"(fixed;r=0;t=5)", 5},                    // token name
        {R"(r=0;t=7)", 7},                          // no name at all
        {R"("a;b,c";r=0;t=9)", 9},                  // separators inside the quoted name
        {R"("api";r=0;t=12;pk=:YWJj:)", 12},        // other parameters ignored
        {R"("api";R=0;T=4)", 4},                    // keys case-insensitive
        {R"("api";r=1;t=12)", none},        // quota left: no hint
        {R"("api";r=0)", none},             // no reset
        {R"("api";t=12)", none},            // no remaining
        {R"("api";r=0;t=-1)", none},
        {R"("api";r=0;t=1.5)", none},
        {R"("api";r=x;t=12)", none},
        {"", none},
        {"garbage", none},
        {R"("burst";r=5;t=1, "daily";r=0;t=3600)", 3600},  // the exhausted policy
        {R"("a";r=0;t=10, "b";r=0;t=30)", 30},            // all must reset: the longest
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("RateLimit: '" << r.value << "'") {
            BOOST_TEST(secs(parse_ratelimit_reset(r.value)) == r.want);
        }
    }
}

BOOST_AUTO_TEST_CASE(retryable_statuses) {
    const std::set<unsigned> yes = {408, 429, 500, 502, 503, 504};
    for (unsigned s = 100; s < 600; ++s) {
        BOOST_TEST_CONTEXT("status " << s) { BOOST_TEST(is_retryable_status(s) == (yes.count(s) == 1)); }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_retry_schedule)

BOOST_AUTO_TEST_CASE(backoff_within_jitter_bounds) {
    const long long nominal[] = {1000, 2000, 4000, 8000, 8000};
    for (std::uint64_t seed : {0ull, 1ull, 42ull, 0xdeadbeefull}) {
        retry_schedule rs(test_retry(), seed);
        for (int i = 0; i < 5; ++i) {
            auto w = rs.next(connection_error());
            BOOST_TEST_CONTEXT("seed " << seed << " retry " << i) {
                BOOST_TEST_REQUIRE(w.has_value());
                BOOST_TEST(w->count() >= nominal[i] / 2);
                BOOST_TEST(w->count() <= nominal[i]);
                BOOST_TEST(rs.retries() == static_cast<unsigned>(i + 1));
            }
        }
        BOOST_TEST(!rs.next(connection_error()).has_value());  // 5 retries, 6 attempts
        BOOST_TEST(rs.retries() == 5u);
    }
}

BOOST_AUTO_TEST_CASE(same_seed_same_sequence) {
    retry_schedule a(test_retry(), 7), b(test_retry(), 7), c(test_retry(), 8);
    std::vector<long long> wa, wb, wc;
    for (int i = 0; i < 5; ++i) {
        wa.push_back(a.next(status(503))->count());
        wb.push_back(b.next(status(503))->count());
        wc.push_back(c.next(status(503))->count());
    }
    BOOST_TEST(wa == wb);
    BOOST_TEST(wa != wc);  // the seed does drive the jitter
}

BOOST_AUTO_TEST_CASE(waits_monotone_in_the_cap) {
    // Same seed, so the same jitter draws: a larger cap never gives a shorter wait.
    const milliseconds caps[] = {500ms, 1s, 2s, 4s, 8s, 16s, 60s};
    std::vector<std::vector<long long>> seqs;
    for (auto cap : caps) {
        auto cfg = test_retry(8, 3600s);
        cfg.max_delay = cap;
        retry_schedule rs(cfg, 99);
        std::vector<long long> seq;
        for (int i = 0; i < 8; ++i) {
            auto w = rs.next(connection_error());
            BOOST_TEST_REQUIRE(w.has_value());
            BOOST_TEST(w->count() <= cap.count());
            seq.push_back(w->count());
        }
        seqs.push_back(seq);
    }
    for (std::size_t c = 1; c < seqs.size(); ++c)
        for (std::size_t i = 0; i < seqs[c].size(); ++i) BOOST_TEST(seqs[c - 1][i] <= seqs[c][i]);
    // Retry 7 is nominally 2^6 s = 64 s: capped at 60 s, then jittered into [30 s, 60 s].
    BOOST_TEST(seqs.back()[6] >= 30000);
    BOOST_TEST(seqs.front()[6] <= 500);
}

BOOST_AUTO_TEST_CASE(server_hints_honoured) {
    struct row {
        retry_schedule::failure f;
        std::optional<long long> exact_ms;  // nullopt: backoff, checked to be within [500, 1000]
    };
    const row rows[] = {
        {status(503, "3"), 3000},
        {status(500, "0"), 0},
        {status(408, "2"), 2000},
        {status(429, "3"), 3000},
        {status(429, "3", R"("api";r=0;t=7)"), 7000},        // RateLimit beats Retry-After on 429
        {status(429, "", R"("api";r=0;t=7)"), 7000},
        {status(429, "3", R"("api";r=5;t=7)"), 3000},        // quota left: Retry-After
        {status(503, "", R"("api";r=0;t=7)"), std::nullopt}, // RateLimit only counts on 429
        {status(503, "Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt},
        {status(503, "soon"), std::nullopt},
        {status(429, "20"), 20000},                          // hints are not capped by max_delay
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("status " << *r.f.status << " Retry-After '" << r.f.retry_after << "' RateLimit '"
                                     << r.f.ratelimit << "'") {
            retry_schedule rs(test_retry(), 3);
            auto w = rs.next(r.f);
            BOOST_TEST_REQUIRE(w.has_value());
            if (r.exact_ms) {
                BOOST_TEST(w->count() == *r.exact_ms);
            } else {
                BOOST_TEST(w->count() >= 500);
                BOOST_TEST(w->count() <= 1000);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(budget_exhausted) {
    retry_schedule rs(test_retry(5, 10s), 1);
    BOOST_TEST(rs.next(status(503, "6"))->count() == 6000);
    BOOST_TEST(!rs.next(status(503, "6")).has_value());  // 12 s > 10 s budget
    BOOST_TEST(rs.retries() == 1u);                       // a refusal is not counted
    BOOST_TEST(rs.next(status(503, "4"))->count() == 4000);  // exactly the rest of the budget
    BOOST_TEST(rs.next(status(503, "0"))->count() == 0);      // 0 s still fits
    BOOST_TEST(!rs.next(connection_error()).has_value());   // backoff ≥ 0.5 s no longer fits

    retry_schedule big(test_retry(5, 60s), 1);
    BOOST_TEST(!big.next(status(429, "3600")).has_value());  // a hint beyond the budget gives up
}

BOOST_AUTO_TEST_CASE(count_exhausted) {
    retry_schedule two(test_retry(2), 5);
    BOOST_TEST(two.next(status(502)).has_value());
    BOOST_TEST(two.next(connection_error()).has_value());
    BOOST_TEST(!two.next(status(502)).has_value());
    BOOST_TEST(two.retries() == 2u);

    retry_schedule zero(test_retry(0), 5);
    BOOST_TEST(!zero.next(connection_error()).has_value());
}

BOOST_AUTO_TEST_CASE(non_idempotent_never_retried) {
    for (auto f : {connection_error(), status(503), status(429, "1"), status(408)}) {
        f.idempotent = false;
        retry_schedule rs(test_retry(), 1);
        BOOST_TEST(!rs.next(f).has_value());
        BOOST_TEST(rs.retries() == 0u);
    }
}

BOOST_AUTO_TEST_CASE(non_retryable_statuses_not_retried) {
    for (unsigned s : {400u, 401u, 403u, 404u, 405u, 409u, 412u, 413u, 416u, 422u, 501u, 505u, 200u, 302u}) {
        BOOST_TEST_CONTEXT("status " << s) {
            retry_schedule rs(test_retry(), 1);
            BOOST_TEST(!rs.next(status(s, "1")).has_value());  // even with a Retry-After
            BOOST_TEST(rs.retries() == 0u);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
