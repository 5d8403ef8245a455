#include "http/policy.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <optional>
#include <set>
#include <string>
#include <vector>

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

BOOST_AUTO_TEST_SUITE(http_content_range)

BOOST_AUTO_TEST_CASE(reads_first_last_and_complete_length) {
    auto r = parse_content_range("bytes 100-199/1000");
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->first == 100u);
    BOOST_TEST(r->last == 199u);
    BOOST_TEST(r->complete.value_or(0) == 1000u);
    auto star = parse_content_range(" bytes 0-0/* ");
    BOOST_TEST_REQUIRE(star.has_value());
    BOOST_TEST(!star->complete.has_value());
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_one_satisfied_byte_range) {
    for (std::string_view bad : {"", "bytes", "bytes -5/10", "bytes 5-/10", "bytes 5-4/10", "bytes 0-9/9",
                                 "bytes +1-2/10", "bytes 1-2", "bytes */10", "items 0-1/2", "bytes 0x1-2/10",
                                 "bytes 99999999999999999999-1/2", "bytes 1/2-3"})
        BOOST_TEST(!parse_content_range(bad).has_value(), bad);
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

BOOST_AUTO_TEST_SUITE(http_redirects)

namespace {
using act = redirect_decision::action;
struct redirect_row {
    const char* current;
    const char* location;
    redirect_mode mode;
    act what;
    const char* url = "";  // when following
    bool keep_auth = true;
    client_errc error{};  // when failing
    unsigned hops = 0;
};

void check(const redirect_row& r) {
    BOOST_TEST_CONTEXT(r.current << " -> '" << r.location << "' mode " << static_cast<int>(r.mode) << " hops "
                                 << r.hops) {
        auto d = decide_redirect(r.current, r.location, r.hops, 10, r.mode);
        BOOST_TEST(static_cast<int>(d.what) == static_cast<int>(r.what));
        if (r.what == act::follow) {
            BOOST_TEST(d.url == r.url);
            BOOST_TEST(d.keep_auth == r.keep_auth);
            BOOST_TEST(!d.error);
        } else if (r.what == act::fail) {
            BOOST_TEST(d.error == make_error_code(r.error));
        } else {
            BOOST_TEST(!d.error);
        }
    }
}
}  // namespace

BOOST_AUTO_TEST_CASE(follow_mode) {
    const auto F = redirect_mode::follow;
    const redirect_row rows[] = {
        // relative, same origin
        {"https://hub.test/api/models/a/b", "/api/models/c/d", F, act::follow, "https://hub.test/api/models/c/d", true},
        {"https://hub.test/a/b/c", "d", F, act::follow, "https://hub.test/a/b/d", true},
        {"https://hub.test/a/b/c", "../x", F, act::follow, "https://hub.test/a/x", true},
        {"https://hub.test/a", "/x/../y", F, act::follow, "https://hub.test/y", true},
        {"https://hub.test/a", "/b#frag", F, act::follow, "https://hub.test/b", true},
        // absolute, other origin: auth dropped
        {"https://hub.test/m/resolve/main/w.bin", "https://cdn.test/blob?X-Sig=abc", F, act::follow,
         "https://cdn.test/blob?X-Sig=abc", false},
        {"https://hub.test/a", "//cdn.test/b", F, act::follow, "https://cdn.test/b", false},
        {"https://hub.test/a", "https://hub.test:8443/b", F, act::follow, "https://hub.test:8443/b", false},
        {"http://hub.test/a", "https://hub.test/b", F, act::follow, "https://hub.test/b", false},  // upgrade
        // absolute, same origin: auth kept
        {"https://hub.test/a", "https://hub.test/b", F, act::follow, "https://hub.test/b", true},
        {"https://HUB.test/a", "https://hub.TEST/b", F, act::follow, "https://hub.TEST/b", true},
        // default ports
        {"http://h:80/a", "http://h/b", F, act::follow, "http://h/b", true},
        {"http://h/a", "http://h:80/b", F, act::follow, "http://h:80/b", true},
        {"https://h/a", "https://h:443/b", F, act::follow, "https://h:443/b", true},
        {"http://h/a", "http://h:8080/b", F, act::follow, "http://h:8080/b", false},
        {"http://h:443/a", "https://h/b", F, act::follow, "https://h/b", false},  // scheme differs
        {"http://127.0.0.1:8080/a", "/b", F, act::follow, "http://127.0.0.1:8080/b", true},
        {"http://[::1]:8080/a", "/b", F, act::follow, "http://[::1]:8080/b", true},
        // query: follow takes the Location's query
        {"https://hub.test/a?x=1", "/b?y=2", F, act::follow, "https://hub.test/b?y=2", true},
        {"https://hub.test/a?x=1", "/b", F, act::follow, "https://hub.test/b", true},
        // refusals
        {"https://hub.test/a", "http://hub.test/b", F, act::fail, "", true, client_errc::insecure_redirect},
        {"https://hub.test/a", "http://cdn.test/b", F, act::fail, "", true, client_errc::insecure_redirect},
        {"https://hub.test/a", "ftp://hub.test/b", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "javascript:alert(1)", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "file:///etc/passwd", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "http://[bad", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "/a b", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "https:///nohost", F, act::fail, "", true, client_errc::invalid_url},
        {"not a url", "/b", F, act::fail, "", true, client_errc::invalid_url},
        // no Location: the 3xx is the answer
        {"https://hub.test/a", "", F, act::stop},
        {"https://hub.test/a", "   ", F, act::stop},
    };
    for (const auto& r : rows) check(r);
}

BOOST_AUTO_TEST_CASE(relative_only_mode) {
    const auto R = redirect_mode::relative_only;
    const redirect_row rows[] = {
        {"https://hub.test/api/models/old/name", "/api/models/new/name", R, act::follow,
         "https://hub.test/api/models/new/name", true},
        // the Location's query is dropped, the original one kept (protocol 1.2)
        {"https://hub.test/api/models/a?x=1", "/api/models/b?y=2", R, act::follow, "https://hub.test/api/models/b?x=1",
         true},
        {"https://hub.test/a", "/b?y=2", R, act::follow, "https://hub.test/b", true},
        {"http://h:8080/a/resolve/main/f", "/api/resolve-cache/models/a/f", R, act::follow,
         "http://h:8080/api/resolve-cache/models/a/f", true},
        // absolute Locations are not followed, whatever they point to
        {"https://hub.test/a", "https://cdn.test/b", R, act::stop},
        {"https://hub.test/a", "https://hub.test/b", R, act::stop},
        {"https://hub.test/a", "//cdn.test/b", R, act::stop},
        {"https://hub.test/a", "http://cdn.test/b", R, act::stop},
        {"https://hub.test/a", "ftp://cdn.test/b", R, act::stop},
        {"https://hub.test/a", "/a b", R, act::fail, "", true, client_errc::invalid_url},
    };
    for (const auto& r : rows) check(r);
}

BOOST_AUTO_TEST_CASE(none_mode_and_hop_limit) {
    check({"https://hub.test/a", "/b", redirect_mode::none, act::stop});
    check({"https://hub.test/a", "https://cdn.test/b", redirect_mode::none, act::stop});
    check({"https://hub.test/a", "/b", redirect_mode::follow, act::follow, "https://hub.test/b", true, {}, 9});
    check({"https://hub.test/a", "/b", redirect_mode::follow, act::fail, "", true, client_errc::too_many_redirects, 10});
    check({"https://hub.test/a", "/b", redirect_mode::relative_only, act::fail, "", true,
           client_errc::too_many_redirects, 11});
    auto d = decide_redirect("https://hub.test/a", "/b", 0, 0, redirect_mode::follow);
    BOOST_TEST(d.error == make_error_code(client_errc::too_many_redirects));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_proxies)

BOOST_AUTO_TEST_CASE(no_proxy_forms) {
    struct row {
        const char* no_proxy;
        const char* host;
        const char* port;
        bool want;
    };
    const row rows[] = {
        {"", "a.com", "443", false},
        {"*", "anything.test", "443", true},
        {"a.com,*", "b.com", "443", true},
        // domains
        {"example.com", "example.com", "443", true},
        {"example.com", "sub.example.com", "443", true},
        {"example.com", "a.b.example.com", "443", true},
        {".example.com", "example.com", "443", true},
        {".example.com", "sub.example.com", "443", true},
        {"*.example.com", "sub.example.com", "443", true},
        {"example.com", "notexample.com", "443", false},
        {".example.com", "notexample.com", "443", false},
        {"example.com", "example.org", "443", false},
        {"sub.example.com", "example.com", "443", false},
        {"EXAMPLE.com", "Sub.Example.COM", "443", true},
        {"example.com", "example.com.", "443", true},
        {"example.com.", "example.com", "443", true},
        {"localhost", "localhost", "80", true},
        {".", "a.com", "443", false},
        // separators
        {"a.com, b.com", "b.com", "443", true},
        {"a.com b.com", "b.com", "443", true},
        {" a.com,,\tb.com ", "b.com", "443", true},
        {"a.com, b.com", "c.com", "443", false},
        // IP literals
        {"10.0.0.1", "10.0.0.1", "80", true},
        {"10.0.0.1", "10.0.0.2", "80", false},
        {"0.1", "10.0.0.1", "80", false},  // no suffix matching on addresses
        {"::1", "::1", "80", true},
        {"::1", "[::1]", "80", true},
        {"0:0:0:0:0:0:0:1", "::1", "80", true},
        {"[::1]", "::1", "80", true},
        {"::1", "::2", "80", false},
        // CIDR
        {"10.0.0.0/8", "10.20.30.40", "80", true},
        {"10.0.0.0/8", "11.0.0.1", "80", false},
        {"192.168.1.0/24", "192.168.1.255", "80", true},
        {"192.168.1.0/24", "192.168.2.1", "80", false},
        {"192.168.1.128/25", "192.168.1.127", "80", false},
        {"192.168.1.128/25", "192.168.1.200", "80", true},
        {"0.0.0.0/0", "8.8.8.8", "80", true},
        {"10.0.0.0/33", "10.0.0.1", "80", false},  // bad prefix
        {"10.0.0.0/8", "ten.example", "80", false},  // names are not resolved
        {"10.0.0.0/8", "::1", "80", false},         // other family
        {"fe80::/10", "fe80::1", "80", true},
        {"fe80::/10", "fec0::1", "80", false},
        {"[fe80::]/10", "febf::1", "80", true},
        // ports
        {"example.com:8080", "example.com", "8080", true},
        {"example.com:8080", "example.com", "443", false},
        {"example.com:8080", "sub.example.com", "8080", true},
        {"example.com:8080", "example.com", "", false},
        {"10.0.0.1:8080", "10.0.0.1", "8080", true},
        {"10.0.0.1:8080", "10.0.0.1", "80", false},
        {"[::1]:8080", "::1", "8080", true},
        {"[::1]:8080", "::1", "80", false},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("NO_PROXY '" << r.no_proxy << "' host " << r.host << " port " << r.port) {
            BOOST_TEST(no_proxy_matches(r.no_proxy, r.host, r.port) == r.want);
        }
    }
}

BOOST_AUTO_TEST_CASE(select_by_scheme) {
    proxy_config cfg{.http = "http://p1.corp:3128", .https = "http://p2.corp:3129", .no_proxy = ""};
    auto s = select_proxy(cfg, "https", "hub.test", "");
    BOOST_TEST_REQUIRE(s.has_value());
    BOOST_TEST(s->scheme == "http");
    BOOST_TEST(s->host == "p2.corp");
    BOOST_TEST(s->port == "3129");
    BOOST_TEST(s->authorization.empty());

    auto h = select_proxy(cfg, "HTTP", "hub.test", "8080");
    BOOST_TEST_REQUIRE(h.has_value());
    BOOST_TEST(h->host == "p1.corp");
    BOOST_TEST(h->port == "3128");

    BOOST_TEST(!select_proxy(cfg, "ftp", "hub.test", "").has_value());
    BOOST_TEST(!select_proxy({.http = "http://p1:1", .https = "", .no_proxy = ""}, "https", "hub.test", "").has_value());
    BOOST_TEST(!select_proxy({.http = "", .https = "http://p2:1", .no_proxy = ""}, "http", "hub.test", "").has_value());
}

BOOST_AUTO_TEST_CASE(select_honours_no_proxy) {
    proxy_config cfg{.http = "http://p:3128", .https = "http://p:3128", .no_proxy = "localhost,.internal,hub.test:8443"};
    BOOST_TEST(!select_proxy(cfg, "http", "localhost", "8080").has_value());
    BOOST_TEST(!select_proxy(cfg, "https", "api.internal", "").has_value());
    BOOST_TEST(select_proxy(cfg, "https", "huggingface.co", "").has_value());
    // the default port is filled in before matching "host:port" entries
    BOOST_TEST(!select_proxy(cfg, "https", "hub.test", "8443").has_value());
    BOOST_TEST(select_proxy(cfg, "https", "hub.test", "").has_value());
    proxy_config p443{.http = "", .https = "http://p:3128", .no_proxy = "hub.test:443"};
    BOOST_TEST(!select_proxy(p443, "https", "hub.test", "").has_value());
}

BOOST_AUTO_TEST_CASE(proxy_url_forms) {
    struct row {
        const char* url;
        const char* host;
        const char* port;
        const char* authorization;
    };
    const row rows[] = {
        {"http://proxy.corp:8080", "proxy.corp", "8080", ""},
        {"proxy.corp:8080", "proxy.corp", "8080", ""},     // no scheme: http
        {"http://proxy.corp", "proxy.corp", "80", ""},      // no port: 80
        {"http://proxy.corp/", "proxy.corp", "80", ""},
        {"HTTP://proxy.corp:1", "proxy.corp", "1", ""},
        {"http://10.1.2.3:3128", "10.1.2.3", "3128", ""},
        {"http://[::1]:3128", "::1", "3128", ""},
        {"  http://proxy.corp:8080  ", "proxy.corp", "8080", ""},
        {"http://alice:s3cret@proxy.corp:8080", "proxy.corp", "8080", "Basic YWxpY2U6czNjcmV0"},
        {"http://us%40er:p%3Ass@proxy.corp:8080", "proxy.corp", "8080", "Basic dXNAZXI6cDpzcw=="},  // decoded
        {"http://user@proxy.corp:8080", "proxy.corp", "8080", "Basic dXNlcjo="},
        {"alice:s3cret@proxy.corp:8080", "proxy.corp", "8080", "Basic YWxpY2U6czNjcmV0"},
        {"http://@proxy.corp:8080", "proxy.corp", "8080", ""},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("proxy " << r.url) {
            auto s = select_proxy({.http = r.url, .https = "", .no_proxy = ""}, "http", "hub.test", "");
            BOOST_TEST_REQUIRE(s.has_value());
            BOOST_TEST(s->scheme == "http");
            BOOST_TEST(s->host == r.host);
            BOOST_TEST(s->port == r.port);
            BOOST_TEST(s->authorization == r.authorization);
        }
    }
}

BOOST_AUTO_TEST_CASE(malformed_proxy_throws_without_leaking) {
    for (const char* url : {"http://alice:s3cret@proxy.corp:99999", "socks5://alice:s3cret@proxy.corp:1080",
                            "https://alice:s3cret@proxy.corp:3128", "http://alice:s3cret@:3128", "http://[bad:s3cret"}) {
        BOOST_TEST_CONTEXT("proxy " << url) {
            try {
                select_proxy({.http = "", .https = url, .no_proxy = ""}, "https", "hub.test", "");
                BOOST_FAIL("no exception");
            } catch (const hfhub::error& e) {
                BOOST_TEST(e.code() == make_error_code(client_errc::invalid_url));
                BOOST_TEST(std::string(e.what()).find("s3cret") == std::string::npos);
                BOOST_TEST(std::string(e.what()).find("https") != std::string::npos);  // says which proxy
            }
        }
    }
    // a malformed proxy that no_proxy bypasses is never parsed
    BOOST_TEST(!select_proxy({.http = "", .https = "socks5://x", .no_proxy = "*"}, "https", "h", "").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_error_mapping)

BOOST_AUTO_TEST_CASE(x_error_code_and_message_first) {
    struct row {
        unsigned status;
        const char* code;
        const char* message;
        hub_errc want;
    };
    const char* disabled = "Access to this resource is disabled.";
    const row rows[] = {
        {404, "RevisionNotFound", "", hub_errc::revision_not_found},
        {400, "RevisionNotFound", "", hub_errc::revision_not_found},
        {404, "EntryNotFound", "", hub_errc::entry_not_found},
        {401, "GatedRepo", "", hub_errc::gated_repo},
        {403, "GatedRepo", "", hub_errc::gated_repo},
        {404, "RepoNotFound", "", hub_errc::repo_not_found},
        {401, "RepoNotFound", "Repository not found", hub_errc::repo_not_found},
        {403, "", disabled, hub_errc::disabled_repo},
        {404, "RepoNotFound", disabled, hub_errc::disabled_repo},  // the message is checked before RepoNotFound
        {404, "EntryNotFound", disabled, hub_errc::entry_not_found},
        {404, " EntryNotFound ", "", hub_errc::entry_not_found},  // header whitespace
        {404, "entrynotfound", "", hub_errc::not_found},          // codes are case-sensitive
        {404, "SomethingNew", "", hub_errc::not_found},
        {403, "", "Access denied", hub_errc::forbidden},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.status << " X-Error-Code '" << r.code << "' X-Error-Message '" << r.message << "'") {
            auto ec = map_status(r.status, r.code, r.message);
            BOOST_TEST(ec == make_error_code(r.want));
            BOOST_TEST(ec.category().name() == std::string("hfhub.hub"));
        }
    }
}

BOOST_AUTO_TEST_CASE(by_status) {
    struct row {
        unsigned status;
        hub_errc want;
    };
    const row rows[] = {
        {400, hub_errc::bad_request},       {401, hub_errc::unauthorized},  {403, hub_errc::forbidden},
        {404, hub_errc::not_found},         {405, hub_errc::http_error},    {408, hub_errc::http_error},
        {409, hub_errc::conflict},          {410, hub_errc::http_error},    {412, hub_errc::precondition_failed},
        {413, hub_errc::payload_too_large}, {416, hub_errc::range_not_satisfiable},
        {418, hub_errc::http_error},        {422, hub_errc::unprocessable}, {429, hub_errc::rate_limited},
        {500, hub_errc::server_error},      {501, hub_errc::server_error},  {502, hub_errc::server_error},
        {503, hub_errc::server_error},      {504, hub_errc::server_error},  {599, hub_errc::server_error},
        {600, hub_errc::http_error},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("status " << r.status) { BOOST_TEST(map_status(r.status, "", "") == make_error_code(r.want)); }
    }
}

BOOST_AUTO_TEST_CASE(success_and_redirects_are_not_errors) {
    for (unsigned s : {200u, 201u, 204u, 206u, 301u, 302u, 304u, 307u, 308u}) {
        BOOST_TEST_CONTEXT("status " << s) {
            BOOST_TEST(!map_status(s, "", ""));
            BOOST_TEST(!map_status(s, "EntryNotFound", "Access to this resource is disabled."));
        }
    }
}

BOOST_AUTO_TEST_CASE(server_message_forms) {
    struct row {
        const char* x_error_message;
        const char* content_type;
        std::string body;
        std::string want;
    };
    const row rows[] = {
        {"", "application/json", R"({"error":"boom"})", "boom"},
        {"Repository not found", "application/json", R"({"error":"Repository not found"})", "Repository not found"},
        {"header says", "application/json", R"({"error":"body says"})", "header says; body says"},
        {"header only", "", "", "header only"},
        {"header only", "text/plain", "ignored when the header says it", "header only"},
        {"", "application/json", R"({"error":["first","second"]})", "first; second"},
        {"", "application/json", R"({"error_description":"the description"})", "the description"},
        {"", "application/json", R"({"error":"e","error_description":"d"})", "e; d"},
        {"", "application/json", R"({"errors":[{"message":"m1"},{"code":3},{"message":"m2"}]})", "m1; m2"},
        {"", "application/json", R"({"error":{"code":5}})", R"({"code":5})"},
        {"", "application/json", R"({"error":"multi\nline"})", "multi line"},
        {"", "application/json", " \n" R"({"error":"padded"})" "\n", "padded"},
        {"", "application/json", R"({"other":1})", R"({"other":1})"},  // nothing known: the text
        {"", "application/json", "{not json", "{not json"},
        {"", "text/plain; charset=utf-8", "plain failure\r\n", "plain failure"},
        {"", "", "Bad Gateway", "Bad Gateway"},
        {"", "text/html", "<html>\n  <body>502</body>\n</html>", "<html> <body>502</body> </html>"},
        {"", "application/octet-stream", std::string("\x00\x01\x02binary", 9), ""},
        {"", "image/png", "PNG...", ""},
        {"", "", "", ""},
        {"", "application/json", "[1,2,3]", "[1,2,3]"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("X-Error-Message '" << r.x_error_message << "' type '" << r.content_type << "' body '"
                                               << r.body << "'") {
            BOOST_TEST(server_message(r.x_error_message, r.content_type, r.body) == r.want);
        }
    }
}

BOOST_AUTO_TEST_CASE(server_message_never_throws_and_truncates) {
    std::string deep(200, '{');  // nesting beyond Boost.JSON's limit
    BOOST_CHECK_NO_THROW(server_message("", "application/json", deep));
    BOOST_TEST(server_message("", "application/json", deep).size() <= 500u);

    std::string nested;
    for (int i = 0; i < 100; ++i) nested += R"({"a":)";
    nested += "1" + std::string(100, '}');
    BOOST_CHECK_NO_THROW(server_message("", "application/json", nested));

    auto long_text = server_message("", "text/html", std::string(5000, 'x'));
    BOOST_TEST(long_text.size() == 500u);
    BOOST_TEST(long_text.ends_with("..."));
    BOOST_TEST(long_text.starts_with("xxxx"));

    // 2-byte characters: the cut never splits one
    std::string accents;
    for (int i = 0; i < 400; ++i) accents += "\xC3\xA9";
    auto cut = server_message("", "text/plain", accents);
    BOOST_TEST(cut.size() <= 500u);
    BOOST_TEST(cut.ends_with("..."));
    BOOST_TEST((cut.size() - 3) % 2 == 0u);
    BOOST_TEST(static_cast<unsigned char>(cut[cut.size() - 4]) == 0xA9u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hfhub_errors)

BOOST_AUTO_TEST_CASE(categories_and_messages) {
    BOOST_TEST(hub_category().name() == std::string("hfhub.hub"));
    BOOST_TEST(client_category().name() == std::string("hfhub.client"));
    std::error_code hub = hub_errc::rate_limited;  // implicit, via is_error_code_enum
    BOOST_TEST(&hub.category() == &hub_category());
    std::error_code cl = client_errc::offline;
    BOOST_TEST(&cl.category() == &client_category());
    BOOST_TEST(hub != std::error_code(static_cast<int>(hub_errc::rate_limited), client_category()));

    std::set<std::string> seen;
    for (int v = static_cast<int>(hub_errc::repo_not_found); v <= static_cast<int>(hub_errc::http_error); ++v) {
        auto m = hub_category().message(v);
        BOOST_TEST(!m.empty());
        BOOST_TEST(seen.insert(m).second, "duplicate message " << m);
    }
    for (int v = static_cast<int>(client_errc::invalid_repo_id); v <= static_cast<int>(client_errc::invalid_url); ++v) {
        auto m = client_category().message(v);
        BOOST_TEST(!m.empty());
        BOOST_TEST(seen.insert(m).second, "duplicate message " << m);
    }
    BOOST_TEST(seen.size() == 34u);
    BOOST_TEST(hub_category().message(9999) == "Unknown Hub error");
    BOOST_TEST(make_error_code(hub_errc::repo_not_found).message() == "Repository not found");
}

BOOST_AUTO_TEST_CASE(what_carries_diagnostics) {
    hfhub::error e(hub_errc::repo_not_found, {404, "GET", "http://host/api/models/x/y", "abc", ""});
    BOOST_TEST(std::string(e.what()) ==
               "repo_not_found: Repository not found (404 GET http://host/api/models/x/y, request id abc)");
    BOOST_TEST(e.code() == make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(e.diag().status == 404u);
    BOOST_TEST(e.diag().request_id == "abc");

    hfhub::error m(hub_errc::precondition_failed,
                   {412, "POST", "https://hub.test/api/models/a/b/commit/main", "", "The branch was updated"});
    BOOST_TEST(std::string(m.what()) ==
               "precondition_failed: Precondition failed (the branch moved since the parent commit) (412 POST "
               "https://hub.test/api/models/a/b/commit/main): The branch was updated");

    hfhub::error bare(client_errc::offline, {});
    BOOST_TEST(std::string(bare.what()) == "offline: Offline mode is enabled");

    hfhub::error conn(client_errc::connection_failed, {0, "HEAD", "https://hub.test/x", "", ""});
    BOOST_TEST(std::string(conn.what()) == "connection_failed: Connection failed (HEAD https://hub.test/x)");

    hfhub::error foreign(std::make_error_code(std::errc::timed_out), {});
    BOOST_TEST(std::string(foreign.what()).starts_with("generic:"));

    // catchable as std::system_error with the same text
    try {
        throw hfhub::error(hub_errc::rate_limited, {429, "GET", "https://hub.test/a", "", ""});
    } catch (const std::system_error& se) {
        BOOST_TEST(std::string(se.what()).starts_with("rate_limited: "));
    }
}

BOOST_AUTO_TEST_CASE(what_never_shows_userinfo) {
    const char* urls[] = {"https://user:hf_secret@hub.test/api/x", "https://hf_secret@hub.test/api/x",
                          "https://a:b@c:hf_secret@hub.test/api/x"};
    for (const char* u : urls) {
        BOOST_TEST_CONTEXT(u) {
            hfhub::error e(hub_errc::unauthorized, {401, "GET", u, "", ""});
            std::string w = e.what();
            BOOST_TEST(w.find("hf_secret") == std::string::npos);
            BOOST_TEST(w.find("https://hub.test/api/x") != std::string::npos);
            BOOST_TEST(e.diag().url == "https://hub.test/api/x");
        }
    }
    // an '@' in the path is not userinfo
    hfhub::error p(hub_errc::not_found, {404, "GET", "https://hub.test/a@b", "", ""});
    BOOST_TEST(p.diag().url == "https://hub.test/a@b");
}

BOOST_AUTO_TEST_SUITE_END()
