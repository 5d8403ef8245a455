// The request state machine after the head: buffered bodies and their failures, a proxy's 407,
// streamed bodies, and resuming (Range) versus restarting after a drop.
#include "request_fsm_rows.hpp"

using namespace fsm_rows;

BOOST_AUTO_TEST_SUITE(http_request_fsm_body)

BOOST_AUTO_TEST_CASE(buffered_body_failures) {
    const std::string url = "https://hub.test/api/x";
    const auto read = "read_body " + std::to_string(mb64);
    const scenario rows[] = {
        {"a retryable drop: the whole request again after a wait",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), read},
          {failed(client_errc::connection_failed, true), "sleep 0ms close"}, {ok(), "connect " + url}}},
        {"too large is final",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), read},
          {failed(client_errc::body_too_large, true, "over"), "fail body_too_large 200 'over' headers"}}},
        {"a failure that is not retryable",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), read},
          {failed(client_errc::tls_error, false, "tls"), "fail tls_error 200 'tls' headers"}}},
        {"a request that is not idempotent is not sent again",
         [](request_params& p) { p.idempotent = false; },
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), read},
          {failed(client_errc::connection_failed, true, "cut"), "fail connection_failed 200 'cut' headers"}}},
        {"retries ran out",
         [](request_params& p) { p.retry.max_retries = 0; },
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), read},
          {failed(client_errc::timeout, true, "slow"), "fail timeout 200 'slow' headers"}}},
        {"an aborted read is reported with the answer's status",
         nullptr,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), read},
          {failed(client_errc::cancelled, false, "cancelled"), "fail cancelled 200 'cancelled' headers"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_CASE(proxy_authentication) {
    const std::string url = "http://hub.test/api/x";
    const auto read = "read_body " + std::to_string(mb1);
    auto plain = [&](request_params& p) { p.url = url; };
    const scenario rows[] = {
        {"407 from an absolute-form proxy is the proxy's",
         plain,
         {{start(), "connect " + url}, {opened(true, "proxy.test:3128"), "send"}, {head(407), read},
          {ok(), "fail proxy_error 407 'the proxy at proxy.test:3128 requires authentication' headers"}}},
        {"407 through a tunnel is the origin's answer",
         plain,
         {{start(), "connect " + url}, {opened(false, "proxy.test:3128"), "send"}, {head(407), read}, {ok(), "done"}}},
        {"407 on a direct connection is the origin's answer",
         plain,
         {{start(), "connect " + url}, {opened(), "send"}, {head(407), read}, {ok(), "done"}}},
        {"another status through the proxy",
         plain,
         {{start(), "connect " + url}, {opened(true, "proxy.test:3128"), "send"}, {head(403), read}, {ok(), "done"}}},
        {"the connection kept from the last attempt decides",
         plain,
         {{start(), "connect " + url}, {opened(true, "proxy.test:3128"), "send"},
          {head(503, {{"Retry-After", "1"}}), "sleep 1000ms drain"}, {ok(), "connect " + url},
          {opened(false, ""), "send"}, {head(407), read}, {ok(), "done"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_CASE(streamed_bodies) {
    const std::string url = "https://hub.test/api/x";
    auto streaming = [](request_params& p) {
        p.streaming = true;
        p.can_restart = true;
    };
    const scenario rows[] = {
        {"a 2xx streams",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"}, {streamed(100), "done"}}},
        {"a non-2xx is buffered, not streamed",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(404), "read_body " + std::to_string(mb1)}}},
        {"a drop resumes with Range from what arrived",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "sleep 0ms close"}, {ok(), "connect " + url}, {opened(), "send from 100"},
          {head(206, {{"Content-Range", "bytes 100-999/1000"}}), "stream_body"}, {streamed(900), "done"}}},
        {"bytes add up over several drops",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "sleep 0ms close"}, {ok(), "connect " + url}, {opened(), "send from 100"},
          {head(206, {{"Content-Range", "bytes 100-999/1000"}}), "stream_body"}, {stream_cut(50), "sleep 0ms close"},
          {ok(), "connect " + url}, {opened(), "send from 150"}}},
        {"the caller's own range shifts",
         [&](request_params& p) {
             streaming(p);
             p.range = "bytes=500-999";
         },
         {{start(), "connect " + url}, {opened(), "send"}, {head(206, {{"Content-Range", "bytes 500-999/1000"}}), "stream_body"},
          {stream_cut(100), "sleep 0ms close"}, {ok(), "connect " + url}, {opened(), "send from 100"},
          {head(206, {{"Content-Range", "bytes 600-999/1000"}}), "stream_body"}}},
        {"a resumed answer that starts elsewhere: restart, then a new request for all of it",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "sleep 0ms close"}, {ok(), "connect " + url}, {opened(), "send from 100"},
          {head(206, {{"Content-Range", "bytes 0-999/1000"}}), "restart_sink"}, {ok(), "connect " + url + " close"},
          {opened(), "send"}}},
        {"a resumed answer that starts past the point: restart",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "sleep 0ms close"}, {ok(), "connect " + url}, {opened(), "send from 100"},
          {head(206, {{"Content-Range", "bytes 200-999/1000"}}), "restart_sink"}}},
        {"a 206 without Content-Range cannot be a resume",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "sleep 0ms close"}, {ok(), "connect " + url}, {opened(), "send from 100"},
          {head(206), "restart_sink"}, {ok(), "connect " + url + " close"}}},
        {"a 200 to a resume: restart and take it whole",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "sleep 0ms close"}, {ok(), "connect " + url}, {opened(), "send from 100"},
          {head(200), "restart_sink"}, {ok(), "stream_body"}, {stream_cut(10), "sleep 0ms close"},
          {ok(), "connect " + url}, {opened(), "send from 10"}}},
        {"a sink that cannot restart ends the request",
         [](request_params& p) { p.streaming = true; },
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "sleep 0ms close"}, {ok(), "connect " + url}, {opened(), "send from 100"},
          {head(200), "fail protocol_error 200 'the server cannot resume the body' headers"}}},
        {"a drop that is not retryable",
         streaming,
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100, client_errc::io_error, false), "fail io_error 200 'cut' headers"}}},
        {"a drop of a request that is not idempotent",
         [&](request_params& p) {
             streaming(p);
             p.idempotent = false;
         },
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "fail connection_failed 200 'cut' headers"}}},
        {"a drop when retries ran out",
         [&](request_params& p) {
             streaming(p);
             p.retry.max_retries = 0;
         },
         {{start(), "connect " + url}, {opened(), "send"}, {head(200), "stream_body"},
          {stream_cut(100), "fail connection_failed 200 'cut' headers"}}},
    };
    for (const auto& r : rows) run(r);
}

BOOST_AUTO_TEST_SUITE_END()
