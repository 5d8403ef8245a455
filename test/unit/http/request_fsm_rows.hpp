// Rows for the request state machine: a scenario is a list of (outcome reported, action
// expected), written as text so a row reads like the exchange it stands for.
#pragma once

#include "http/request_fsm.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <atomic>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace fsm_rows {

using namespace hfhub;
using namespace hfhub::http;
using kind = request_action::kind;

struct outcome {
    request_event ev;
    header_fields headers;  // for a head
};

inline outcome start() { return {}; }
inline outcome ok() { return {{.what = request_event::kind::done}, {}}; }
// A connection opened for the request, or taken from the pool.
inline outcome opened(bool absolute_form = false, std::string proxy = "") {
    return {{.what = request_event::kind::done, .fresh = true, .absolute_form = absolute_form, .proxy = std::move(proxy)}, {}};
}
inline outcome pooled() { return {{.what = request_event::kind::done, .fresh = false}, {}}; }
inline outcome head(unsigned status, header_fields h = header_fields()) {
    return {{.what = request_event::kind::done, .status = status}, std::move(h)};
}
inline outcome failed(client_errc code, bool retryable, std::string message = "boom") {
    outcome o{{.what = request_event::kind::failed}, {}};
    o.ev.failure = {make_error_code(code), std::move(message), retryable};
    return o;
}
inline outcome cancelled() {
    outcome o{{.what = request_event::kind::failed}, {}};
    o.ev.cancelled = true;
    return o;
}
inline outcome streamed(std::uint64_t n) {
    outcome o = ok();
    o.ev.streamed = n;
    return o;
}
inline outcome stream_cut(std::uint64_t n, client_errc code = client_errc::connection_failed, bool retryable = true) {
    outcome o = failed(code, retryable, "cut");
    o.ev.streamed = n;
    return o;
}
inline outcome source_failed() { return {{.what = request_event::kind::source_failed}, {}}; }

// The action as text, with what of the machine's state the next I/O uses.
inline std::string describe(const request_action& a, const request_fsm& f) {
    std::ostringstream o;
    switch (a.what) {
    case kind::connect: o << "connect " << f.url(); break;
    case kind::send:
        o << "send";
        if (f.resume_from()) o << " from " << f.resume_from();
        if (f.token()) o << " token";
        break;
    case kind::read_body: o << "read_body " << a.limit; break;
    case kind::stream_body: o << "stream_body"; break;
    case kind::restart_sink: o << "restart_sink"; break;
    case kind::follow_redirect:
        o << "follow_redirect " << f.url();
        if (a.as_get) o << " as_get";
        break;
    case kind::sleep:
        o << "sleep " << a.wait.count() << "ms";
        if (a.drain) o << " drain";
        break;
    case kind::done: o << "done"; break;
    case kind::fail:
        o << "fail " << error_name(a.code) << " " << a.status << " '" << a.message << "'";
        if (a.with_headers) o << " headers";
        break;
    case kind::rethrow: o << "rethrow"; break;
    }
    if (a.close) o << " close";
    return o.str();
}

inline constexpr std::uint64_t mb64 = 64ull << 20;
inline constexpr std::uint64_t mb1 = 1ull << 20;

// Backoff without delay, so waits are exact: only server hints make them longer.
inline request_params base_params() {
    request_params p;
    p.url = "https://hub.test/api/x";
    p.retry.max_retries = 3;
    p.retry.base_delay = std::chrono::milliseconds(0);
    p.retry.max_delay = std::chrono::milliseconds(0);
    p.retry.request_budget = std::chrono::seconds(60);
    p.seed = 1;
    return p;
}

struct step {
    outcome in;
    std::string want;
};

struct scenario {
    std::string name;
    std::function<void(request_params&)> setup;
    std::vector<step> steps;
    std::uint64_t budget = 1000;  // retries left to the client
};

inline void run(const scenario& s) {
    request_params p = base_params();
    if (s.setup) s.setup(p);
    std::atomic<std::uint64_t> used{0};
    request_fsm fsm(p, retry_budget{used, s.budget});
    for (std::size_t i = 0; i < s.steps.size(); ++i) {
        request_event ev = s.steps[i].in.ev;
        if (ev.status) ev.headers = &s.steps[i].in.headers;
        auto got = describe(fsm.resume(ev), fsm);
        BOOST_TEST_CONTEXT(s.name << ", step " << i) { BOOST_TEST(got == s.steps[i].want); }
    }
}

}  // namespace fsm_rows
