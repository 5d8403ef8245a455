// The decisions of one request, without I/O: which step comes next after each outcome (stale
// connections, redirects, retries and their waits, resuming or restarting a streamed body, a
// proxy's 407, cancellation). The client's request loop performs the action it is told and
// reports the outcome; unit tests drive it row by row.
#pragma once

#include "http/policy.hpp"

#include <hfhub/client.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace hfhub::http {

// What an I/O failure means for the request.
struct attempt_failure {
    std::error_code code;
    std::string message;
    bool retryable = true;
};

// Classifies the exception of a failed connect, exchange or body read. Exceptions of no
// library layer (a sink's own) are rethrown as they are.
attempt_failure classify(std::exception_ptr ep);

// The Range of a resumed request, `n` bytes already received: "bytes=a-b" becomes
// "bytes=(a+n)-b", "bytes=-k" becomes "bytes=-(k-n)", no range "bytes=n-".
std::string shifted_range(std::optional<std::string_view> range, std::uint64_t n);
// Where a resumed body must start: the caller's range start, shifted by what arrived.
std::uint64_t resume_start(std::optional<std::string_view> range, std::uint64_t n);

// Fixed for the whole request.
struct request_params {
    std::string url;
    std::optional<std::string> token;  // already limited to the endpoint's origin
    bool idempotent = true;
    redirect_mode redirects = redirect_mode::follow;
    unsigned max_redirects = 10;
    bool streaming = false;    // a sink takes the 2xx body
    bool can_restart = false;  // the sink can discard what it got
    std::optional<std::string> range;  // the caller's Range header
    std::uint64_t max_body = 64ull << 20;
    retry_config retry;
    std::uint64_t seed = 0;
};

// Retries left to the whole client, shared by its requests.
struct retry_budget {
    std::atomic<std::uint64_t>& used;
    std::uint64_t total;
};

struct request_event {
    enum class kind {
        start,          // the first resume
        done,           // the last action succeeded
        failed,         // its I/O failed: `failure`, `cancelled`
        source_failed,  // the request's body source threw: its exception ends the request
    } what = kind::start;
    // After connect: a connection was opened (not taken from the pool); it writes absolute-form
    // targets to a proxy, named `proxy` ("host:port", empty when direct).
    bool fresh = false;
    bool absolute_form = false;
    std::string proxy;
    // After send: the answer's head.
    unsigned status = 0;
    const header_fields* headers = nullptr;
    // After stream_body, done or failed: the bytes the sink got.
    std::uint64_t streamed = 0;
    attempt_failure failure;
    bool cancelled = false;  // the awaiting coroutine was cancelled
};

struct request_action {
    enum class kind {
        connect,          // give back the last lease, take one for url(); open a connection if it has none
        send,             // write the request (url(), token(), Range from resume_from()) and read the head
        read_body,        // buffer the body, at most `limit` bytes
        stream_body,      // announce the answer to the sink, then stream its body into it
        restart_sink,     // the server cannot resume: the sink discards what it got
        follow_redirect,  // read a small body away; the next request goes to url()
        sleep,            // wait `wait` (after reading a small body away when `drain`)
        done,             // the response is final
        fail,             // end with hfhub::error(code)
        rethrow,          // end with the body source's own exception
    } what = kind::connect;
    bool close = false;    // drop the connection first: it cannot serve another request
    bool as_get = false;   // follow_redirect: a 303, so the next request is a GET without a body
    bool drain = false;    // sleep
    std::chrono::milliseconds wait{0};
    std::uint64_t limit = 0;
    // fail: the code, the status for diagnostics (0 before a head), the client's account, and
    // whether the answer's headers (its request id) belong in the diagnostics.
    std::error_code code;
    unsigned status = 0;
    std::string message;
    bool with_headers = false;
};

class request_fsm {
public:
    request_fsm(request_params p, retry_budget budget);

    // The next action, given the outcome of the last one.
    request_action resume(const request_event& ev);

    const std::string& url() const { return url_; }
    const std::optional<std::string>& token() const { return token_; }
    // Body bytes the sink holds: a resumed request asks for the rest with Range.
    std::uint64_t resume_from() const { return delivered_; }
    unsigned hops() const { return hops_; }

private:
    enum class state { idle, connecting, sending, reading, streaming, restarting, waiting, finished };

    request_action on_head(const request_event& ev);
    request_action on_exchange_failed(const request_event& ev);
    request_action on_read_failed(const request_event& ev);
    request_action on_stream_failed(const request_event& ev);
    request_action after_redirect_and_retry(const header_fields& h);
    request_action start_body(const header_fields& h);
    std::optional<std::chrono::milliseconds> retry_wait(const retry_schedule::failure& f);
    request_action connect(bool close = false);
    request_action sleep(std::chrono::milliseconds wait, bool drain = false);
    request_action fail(std::error_code code, unsigned status, std::string message, bool with_headers);

    request_params p_;
    retry_budget budget_;
    retry_schedule schedule_;
    state state_ = state::idle;
    std::string url_;
    std::optional<std::string> token_;
    unsigned hops_ = 0;
    bool stale_retry_used_ = false;
    bool fresh_ = false;
    bool absolute_form_ = false;
    std::string proxy_;
    unsigned status_ = 0;
    bool restart_reconnects_ = false;  // a 206 we can't use: fetch the whole body again
    std::uint64_t delivered_ = 0;
};

}  // namespace hfhub::http
