// The request state machine up to the answer's head: connecting, stale pooled connections,
// retries of failed exchanges and of retryable statuses, redirects, cancellation.
#include "request_fsm_rows.hpp"

using namespace fsm_rows;

BOOST_AUTO_TEST_SUITE(http_request_fsm)

BOOST_AUTO_TEST_CASE(connect_and_exchange) {
    const std::string url = "https://hub.test/api/x";
    const scenario rows[] = {
        {"a plain GET",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "read_body " + std::to_string(mb64)},
          {ok(), "done"}}},
        {"the caller's body limit",
         [](request_params& p) { p.max_body = 10; },
         {{start(), "connect " + url}, {pooled(), "send"}, {head(200), "read_body 10"}}},
        {"an error body is read for its message, at most 1 MiB",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(404), "read_body " + std::to_string(mb1)},
          {ok(), "done"}}},
        {"an error body under a smaller limit",
         [](request_params& p) { p.max_body = 100; },
         {{start(), "connect " + url}, {opened(), "send"}, {head(404), "read_body 100"}}},
        {"the token goes with the request",
         [](request_params& p) { p.token = "hf_x"; },
         {{start(), "connect " + url}, {opened(), "send token"}}},
        {"opening a connection fails: retried after a wait",
         nullptr,
         {{start(), "connect " + url}, {failed(client_errc::connection_failed, true), "sleep 0ms close"},
          {ok(), "connect " + url}, {opened(), "send"}}},
        {"opening fails for good: no retry",
         nullptr,
         {{start(), "connect " + url}, {failed(client_errc::tls_error, false, "bad cert"), "fail tls_error 0 'bad cert'"}}},
        {"a fresh connection's exchange fails: a wait, not the stale retry",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {failed(client_errc::timeout, true), "sleep 0ms close"}}},
        {"a pooled connection the server closed: once more at once",
         nullptr,
         {{start(), "connect " + url}, {pooled(), "send"},
          {failed(client_errc::connection_failed, true), "connect " + url + " close"}, {pooled(), "send"},
          {failed(client_errc::connection_failed, true), "sleep 0ms close"}}},
        {"the stale retry also covers a failure that is not retryable",
         nullptr,
         {{start(), "connect " + url}, {pooled(), "send"},
          {failed(client_errc::protocol_error, false), "connect " + url + " close"}, {opened(), "send"},
          {failed(client_errc::protocol_error, false), "fail protocol_error 0 'boom'"}}},
        {"no stale retry for a request that is not idempotent",
         [](request_params& p) { p.idempotent = false; },
         {{start(), "connect " + url}, {pooled(), "send"},
          {failed(client_errc::connection_failed, true), "fail connection_failed 0 'boom'"}}},
        {"retries run out",
         [](request_params& p) { p.retry.max_retries = 1; },
         {{start(), "connect " + url}, {opened(), "send"}, {failed(client_errc::connection_failed, true), "sleep 0ms close"},
          {ok(), "connect " + url}, {opened(), "send"},
          {failed(client_errc::connection_failed, true, "refused"), "fail connection_failed 0 'refused'"}}},
        {"the body source throws: its exception ends the request",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {source_failed(), "rethrow close"}}},
        {"resumed once over",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "read_body " + std::to_string(mb64)},
          {ok(), "done"}, {ok(), "fail invalid_argument 0 'the request has already ended'"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_CASE(cancellation) {
    const std::string url = "https://hub.test/api/x";
    const scenario rows[] = {
        {"cancelled while opening",
         nullptr,
         {{start(), "connect " + url}, {cancelled(), "fail cancelled 0 'cancelled'"}}},
        {"cancelled during the exchange on a pooled connection: no stale retry",
         nullptr,
         {{start(), "connect " + url}, {pooled(), "send"}, {cancelled(), "fail cancelled 0 'cancelled'"}}},
        {"an aborted operation counts as cancelled",
         nullptr,
         {{start(), "connect " + url}, {pooled(), "send"},
          {failed(client_errc::cancelled, false, "aborted"), "fail cancelled 0 'cancelled'"}}},
        {"cancelled while reading a body",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "read_body " + std::to_string(mb64)},
          {cancelled(), "fail cancelled 0 'cancelled'"}}},
        {"cancelled while streaming",
         [](request_params& p) { p.streaming = true; },
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {cancelled(), "fail cancelled 0 'cancelled'"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_CASE(retryable_statuses) {
    const std::string url = "https://hub.test/api/x";
    const auto mb1_text = std::to_string(mb1);
    const scenario rows[] = {
        {"503 with Retry-After: the small body read away, then the wait",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(503, {{"Retry-After", "2"}}), "sleep 2000ms drain"},
          {ok(), "connect " + url}, {pooled(), "send"}, {head(200), "read_body " + std::to_string(mb64)}}},
        {"429 waits for the RateLimit reset",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"},
          {head(429, {{"RateLimit", "\"api\";r=0;t=7"}, {"Retry-After", "2"}}), "sleep 7000ms drain"}}},
        {"a 5xx without hints backs off",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(502), "sleep 0ms drain"}}},
        {"not retried when not idempotent: the answer is final",
         [](request_params& p) { p.idempotent = false; },
         {{start(), "connect " + url}, {opened(), "send"}, {head(503), "read_body " + mb1_text}, {ok(), "done"}}},
        {"not retried when retries ran out",
         [](request_params& p) { p.retry.max_retries = 0; },
         {{start(), "connect " + url}, {opened(), "send"}, {head(503), "read_body " + mb1_text}}},
        {"not retried when the hint is past the request's budget",
         [](request_params& p) { p.retry.request_budget = std::chrono::seconds(1); },
         {{start(), "connect " + url}, {opened(), "send"}, {head(503, {{"Retry-After", "5"}}), "read_body " + mb1_text}}},
        {"a status that is not retryable",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(501), "read_body " + mb1_text}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_CASE(the_client_wide_retry_budget) {
    const std::string url = "https://hub.test/api/x";
    scenario spent{"no retries left to the client",
                   nullptr,
                   {{start(), "connect " + url}, {opened(), "send"}, {head(503), "read_body " + std::to_string(mb1)}},
                   0};
    run(spent);

    // Each retry taken counts against the client; a wait refused does not.
    std::atomic<std::uint64_t> used{0};
    request_fsm fsm(base_params(), retry_budget{used, 2});
    fsm.resume({});
    fsm.resume(opened().ev);
    auto a = fsm.resume(failed(client_errc::connection_failed, true).ev);
    BOOST_TEST(describe(a, fsm) == "sleep 0ms close");
    BOOST_TEST(used.load() == 1u);
    fsm.resume(ok().ev);
    fsm.resume(opened().ev);
    fsm.resume(failed(client_errc::connection_failed, true).ev);
    BOOST_TEST(used.load() == 2u);
    fsm.resume(ok().ev);
    fsm.resume(opened().ev);
    a = fsm.resume(failed(client_errc::connection_failed, true).ev);
    BOOST_TEST(describe(a, fsm) == "fail connection_failed 0 'boom'");
    BOOST_TEST(used.load() == 2u);
}

BOOST_AUTO_TEST_CASE(backoff_follows_the_schedule) {
    request_params p = base_params();
    p.retry.base_delay = std::chrono::milliseconds(400);
    p.retry.max_delay = std::chrono::milliseconds(400);
    p.seed = 42;
    retry_schedule same(p.retry, p.seed);
    auto want = same.next({true, std::nullopt, {}, {}});
    std::atomic<std::uint64_t> used{0};
    request_fsm fsm(p, retry_budget{used, 10});
    fsm.resume({});
    auto a = fsm.resume(failed(client_errc::connection_failed, true).ev);
    BOOST_TEST_REQUIRE(bool(want));
    BOOST_TEST(a.wait.count() == want->count());
    BOOST_TEST(a.wait.count() >= 200);
}

BOOST_AUTO_TEST_CASE(redirects) {
    const std::string url = "https://hub.test/api/x";
    const scenario rows[] = {
        {"a relative 302 on the same origin keeps the token",
         [](request_params& p) { p.token = "hf_x"; },
         {{start(), "connect " + url}, {opened(), "send token"},
          {head(302, {{"Location", "/api/y?z=1"}}), "follow_redirect https://hub.test/api/y?z=1"},
          {ok(), "connect https://hub.test/api/y?z=1"}, {pooled(), "send token"}}},
        {"another origin drops the token",
         [](request_params& p) { p.token = "hf_x"; },
         {{start(), "connect " + url}, {opened(), "send token"},
          {head(307, {{"Location", "https://cdn.test/blob"}}), "follow_redirect https://cdn.test/blob"},
          {ok(), "connect https://cdn.test/blob"}, {opened(), "send"}}},
        {"a 303 turns the request into a GET",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"},
          {head(303, {{"Location", "/done"}}), "follow_redirect https://hub.test/done as_get"}}},
        {"a 301 keeps the method",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"},
          {head(301, {{"Location", "/moved"}}), "follow_redirect https://hub.test/moved"}}},
        {"not followed when the request says so",
         [](request_params& p) { p.redirects = redirect_mode::none; },
         {{start(), "connect " + url}, {opened(), "send"},
          {head(302, {{"Location", "/api/y"}}), "read_body " + std::to_string(mb1)}}},
        {"a 3xx without Location is the answer",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(302), "read_body " + std::to_string(mb1)}}},
        {"a 304 is never followed",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"},
          {head(304, {{"Location", "/api/y"}}), "read_body " + std::to_string(mb1)}}},
        {"a metadata probe returns an absolute Location",
         [](request_params& p) { p.redirects = redirect_mode::relative_only; },
         {{start(), "connect " + url}, {opened(), "send"},
          {head(302, {{"Location", "https://cdn.test/blob"}}), "read_body " + std::to_string(mb1)}}},
        {"https to http is refused",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"},
          {head(302, {{"Location", "http://hub.test/x"}}),
           "fail insecure_redirect 302 'redirect to http://hub.test/x refused' headers"}}},
        {"too many hops",
         [](request_params& p) { p.max_redirects = 1; },
         {{start(), "connect " + url}, {opened(), "send"},
          {head(302, {{"Location", "/a"}}), "follow_redirect https://hub.test/a"}, {ok(), "connect https://hub.test/a"},
          {pooled(), "send"},
          {head(302, {{"Location", "/b"}}), "fail too_many_redirects 302 'redirect to /b refused' headers"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_SUITE_END()
