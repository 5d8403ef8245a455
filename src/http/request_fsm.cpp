#include "http/request_fsm.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>

namespace hfhub::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using kind = request_action::kind;
using ev_kind = request_event::kind;

attempt_failure classify(std::exception_ptr ep) {
    try {
        std::rethrow_exception(ep);
    } catch (const hfhub::error& e) {
        bool retry = e.code() == make_error_code(client_errc::connection_failed) ||
                     e.code() == make_error_code(client_errc::timeout);
        return {e.code(), e.diag().client_message, retry};
    } catch (const boost::system::system_error& e) {
        auto ec = e.code();
        if (ec == boost::beast::error::timeout) return {client_errc::timeout, "timed out", true};
        if (ec == asio::error::operation_aborted) return {client_errc::cancelled, "cancelled", false};
        if (ec.category() == asio::error::get_ssl_category() || ec == asio::ssl::error::stream_truncated)
            return {client_errc::tls_error, ec.message(), false};
        if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
            ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
            return {client_errc::protocol_error, ec.message(), true};
        return {client_errc::connection_failed, ec.message(), true};
    } catch (const std::system_error& e) {
        // Sockets fail with Boost's error type; the standard one comes from local files (a
        // request body that is missing or unreadable).
        return {client_errc::io_error, e.what(), false};
    }
}

std::string shifted_range(std::optional<std::string_view> range, std::uint64_t n) {
    if (!range) return "bytes=" + std::to_string(n) + "-";
    std::string_view r = *range;
    if (!r.starts_with("bytes=")) return std::string(r);
    r.remove_prefix(6);
    auto dash = r.find('-');
    if (dash == std::string_view::npos) return std::string(*range);
    std::string a(r.substr(0, dash)), b(r.substr(dash + 1));
    if (a.empty()) return "bytes=-" + std::to_string(std::stoull(b) - n);
    return "bytes=" + std::to_string(std::stoull(a) + n) + "-" + b;
}

std::uint64_t resume_start(std::optional<std::string_view> range, std::uint64_t n) {
    if (range && range->starts_with("bytes=") && range->size() > 6 && (*range)[6] != '-')
        return std::stoull(std::string(range->substr(6, range->find('-') - 6))) + n;
    return n;
}

request_fsm::request_fsm(request_params p, retry_budget budget)
    : p_(std::move(p)), budget_(budget), schedule_(p_.retry, p_.seed), url_(p_.url), token_(p_.token) {}

request_action request_fsm::resume(const request_event& ev) {
    if (ev.what == ev_kind::source_failed) {
        state_ = state::finished;
        return {.what = kind::rethrow, .close = true};
    }
    switch (state_) {
    case state::idle:
    case state::waiting: return connect();
    case state::connecting:
        // Only opening a new connection does I/O here.
        fresh_ = ev.what == ev_kind::failed || ev.fresh;
        if (ev.what == ev_kind::failed) return on_exchange_failed(ev);
        absolute_form_ = ev.absolute_form;
        proxy_ = ev.proxy;
        state_ = state::sending;
        return {.what = kind::send};
    case state::sending:
        if (ev.what == ev_kind::failed) return on_exchange_failed(ev);
        return on_head(ev);
    case state::reading:
        if (ev.what == ev_kind::failed) return on_read_failed(ev);
        // Through an absolute-form proxy a 407 is the proxy's answer, never the origin's.
        if (status_ == 407 && !proxy_.empty() && absolute_form_)
            return fail(client_errc::proxy_error, status_, "the proxy at " + proxy_ + " requires authentication", true);
        state_ = state::finished;
        return {.what = kind::done};
    case state::streaming:
        delivered_ += ev.streamed;
        if (ev.what == ev_kind::failed) return on_stream_failed(ev);
        state_ = state::finished;
        return {.what = kind::done};
    case state::restarting:
        delivered_ = 0;
        // Asked for a range we can't use: fetch the whole body again.
        if (restart_reconnects_) return connect(true);
        state_ = state::streaming;
        return {.what = kind::stream_body};
    case state::finished: break;
    }
    return fail(client_errc::invalid_argument, 0, "the request has already ended", false);
}

request_action request_fsm::on_head(const request_event& ev) {
    static const header_fields no_headers;
    const header_fields& h = ev.headers ? *ev.headers : no_headers;
    status_ = ev.status;
    if (status_ >= 300 && status_ < 400 && status_ != 304) {
        auto loc = find_header(h, "Location");
        if (loc) {
            auto d = decide_redirect(url_, *loc, hops_, p_.max_redirects, p_.redirects);
            if (d.what == redirect_decision::action::fail)
                return fail(d.error, status_, "redirect to " + std::string(*loc) + " refused", true);
            if (d.what == redirect_decision::action::follow) {
                if (!d.keep_auth) token_.reset();
                url_ = d.url;
                ++hops_;
                state_ = state::waiting;
                return {.what = kind::follow_redirect, .as_get = status_ == 303};
            }
        }
    }
    if (is_retryable_status(status_)) {
        auto wait = retry_wait({p_.idempotent, status_, find_header(h, "Retry-After").value_or(""),
                                find_header(h, "RateLimit").value_or("")});
        if (wait) return sleep(*wait, true);
    }
    return start_body(h);
}

request_action request_fsm::start_body(const header_fields& h) {
    bool ok = status_ >= 200 && status_ < 300;
    if (!p_.streaming || !ok) {
        state_ = state::reading;
        // An error body is read for its message only.
        return {.what = kind::read_body, .limit = ok ? p_.max_body : std::min<std::uint64_t>(p_.max_body, 1 << 20)};
    }
    if (delivered_ > 0) {
        // The range must start exactly where the sink stopped: "bytes 100-" is no resume at 10.
        auto cr = find_header(h, "Content-Range");
        auto range = cr ? parse_content_range(*cr) : std::nullopt;
        bool resumed = status_ == 206 && range && range->first == resume_start(p_.range, delivered_);
        if (!resumed) {
            if (!p_.can_restart)
                return fail(client_errc::protocol_error, status_, "the server cannot resume the body", true);
            restart_reconnects_ = status_ == 206;
            state_ = state::restarting;
            return {.what = kind::restart_sink};
        }
    }
    state_ = state::streaming;
    return {.what = kind::stream_body};
}

request_action request_fsm::on_exchange_failed(const request_event& ev) {
    const auto& f = ev.failure;
    if (ev.cancelled || f.code == make_error_code(client_errc::cancelled))
        return fail(client_errc::cancelled, 0, "cancelled", false);
    if (!fresh_ && !stale_retry_used_ && p_.idempotent) {
        // A pooled connection the server had closed: once more on a new one, without a wait.
        stale_retry_used_ = true;
        return connect(true);
    }
    std::optional<std::chrono::milliseconds> wait;
    if (f.retryable) wait = retry_wait({p_.idempotent, std::nullopt, {}, {}});
    if (!wait) return fail(f.code, 0, f.message, false);
    return sleep(*wait);
}

request_action request_fsm::on_read_failed(const request_event& ev) {
    const auto& f = ev.failure;
    if (ev.cancelled) return fail(client_errc::cancelled, 0, "cancelled", false);
    if (f.code == make_error_code(client_errc::body_too_large) || !f.retryable)
        return fail(f.code, status_, f.message, true);
    auto wait = retry_wait({p_.idempotent, std::nullopt, {}, {}});
    if (!wait) return fail(f.code, status_, f.message, true);
    return sleep(*wait);
}

request_action request_fsm::on_stream_failed(const request_event& ev) {
    const auto& f = ev.failure;
    if (ev.cancelled) return fail(client_errc::cancelled, 0, "cancelled", false);
    std::optional<std::chrono::milliseconds> wait;
    if (f.retryable) wait = retry_wait({p_.idempotent, std::nullopt, {}, {}});
    if (!wait) return fail(f.code, status_, f.message, true);
    return sleep(*wait);
}

// The schedule refuses a request that is not idempotent: a lost answer may mean it took effect.
std::optional<std::chrono::milliseconds> request_fsm::retry_wait(const retry_schedule::failure& f) {
    if (budget_.used.load() >= budget_.total) return std::nullopt;
    auto w = schedule_.next(f);
    if (w) ++budget_.used;
    return w;
}

request_action request_fsm::connect(bool close) {
    state_ = state::connecting;
    return {.what = kind::connect, .close = close};
}

// After a failed I/O the connection is gone; after a retryable status it is kept, drained.
request_action request_fsm::sleep(std::chrono::milliseconds wait, bool drain) {
    state_ = state::waiting;
    return {.what = kind::sleep, .close = !drain, .drain = drain, .wait = wait};
}

request_action request_fsm::fail(std::error_code code, unsigned status, std::string message, bool with_headers) {
    state_ = state::finished;
    return {.what = kind::fail, .code = code, .status = status, .message = std::move(message), .with_headers = with_headers};
}

}  // namespace hfhub::http
