// The request loop: pool lease, connect, exchange, redirects, retries, resume.
#include <hfhub/client.hpp>

#include "http/connection.hpp"
#include "http/policy.hpp"
#include "http/pool.hpp"
#include "blocking_call.hpp"
#include "util/blocking.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <strings.h>

#include <openssl/crypto.h>

#ifndef HFHUB_VERSION
#define HFHUB_VERSION "0.0.0"
#endif

namespace hfhub {

namespace asio = boost::asio;
using namespace hfhub::http;

namespace {

bool default_idempotent(std::string_view method) { return method != "POST" && method != "PATCH"; }

void check_header_text(std::string_view s) {
    if (s.find_first_of("\r\n") != std::string_view::npos)
        throw hfhub::error(client_errc::invalid_argument, {.client_message = "header text contains a line break"});
}

// "bytes=a-b" shifted by `n` bytes already received (the Python client's arithmetic).
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

// Where a resumed body must start: the caller's range start, shifted by what arrived.
std::uint64_t resume_start(std::optional<std::string_view> range, std::uint64_t n) {
    if (range && range->starts_with("bytes=") && range->size() > 6 && (*range)[6] != '-')
        return std::stoull(std::string(range->substr(6, range->find('-') - 6))) + n;
    return n;
}

struct attempt_failure {
    std::error_code code;
    std::string message;
    bool retryable = true;
};

// What an exception from the I/O layer means for the request.
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
        if (ec.category() == boost::beast::http::make_error_code(boost::beast::http::error::bad_version).category() &&
            ec != boost::beast::http::error::end_of_stream && ec != boost::beast::http::error::partial_message)
            return {client_errc::protocol_error, ec.message(), true};
        return {client_errc::connection_failed, ec.message(), true};
    } catch (const std::system_error& e) {
        // Sockets fail with Boost's error type; the standard one comes from local files (a
        // request body that is missing or unreadable).
        return {client_errc::io_error, e.what(), false};
    }
}

}  // namespace

// The thread blocking calls run on: their caller may run nothing else (a plain main()), or be
// the thread of the client's executor, so they can't rely on it.
struct blocking_runner {
    asio::io_context ioc{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard{ioc.get_executor()};
    std::thread thread{[this] {
        ioc.run();
        OPENSSL_thread_stop();  // its TLS state, freed when joined rather than at exit
    }};
    ~blocking_runner() {
        guard.reset();  // what is queued still runs: a disk job a cancelled call left behind
        thread.join();
    }
};

struct client::impl {
    asio::any_io_executor ex;
    config cfg;
    std::mutex runner_mu;
    std::unique_ptr<blocking_runner> runner;  // before the pool: its sockets may belong to runner->ioc
    std::once_flag tls_once;
    std::optional<asio::ssl::context> tls;  // made on first use: the trust store takes ms to load
    http::pool connections;
    std::string ua;
    std::atomic<std::uint64_t> retries_used{0};
    std::atomic<std::uint64_t> seed{std::random_device{}()};
    // Last, so joined first: its jobs end by posting to a caller's executor, which may be the
    // runner's, and what they left queued (closes, unlinks) runs before anything else goes.
    std::once_flag blocking_once;
    std::unique_ptr<util::blocking_pool> blocking;

    util::blocking_pool& blocking_pool() {
        std::call_once(blocking_once, [&] { blocking = std::make_unique<util::blocking_pool>(cfg.blocking_threads); });
        return *blocking;
    }

    impl(asio::any_io_executor e, config c) : ex(std::move(e)), cfg(std::move(c)), connections(cfg.pool) {
        // OpenSSL's exit handler is registered on its first use: before this client exists, it
        // runs after the client is gone (a client that lives to the process's end included), so
        // the blocking pool's threads still free their OpenSSL state when they are joined.
        OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
        ua = "hfhub/" HFHUB_VERSION;
        if (!cfg.library_name.empty())
            ua += "; " + cfg.library_name + "/" + (cfg.library_version.empty() ? "None" : cfg.library_version);
    }


    asio::ssl::context& tls_context() {
        std::call_once(tls_once, [&] {
            asio::ssl::context ctx{asio::ssl::context::tls_client};
            ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                            asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                            asio::ssl::context::no_tlsv1_1);
            boost::system::error_code ec;
            if (cfg.ca_bundle) ctx.load_verify_file(cfg.ca_bundle->string(), ec);
            else ctx.set_default_verify_paths(ec);
            if (ec)
                throw hfhub::error(client_errc::tls_error,
                                   {.client_message =
                                    "cannot load the trust store" +
                                        (cfg.ca_bundle ? " " + cfg.ca_bundle->string() : std::string()) + ": " +
                                        ec.message()});
            tls.emplace(std::move(ctx));
        });
        return *tls;
    }

    // A connection serves the execution context that opened it: its socket's handlers run there.
    // Calls on the client's own executor share one set per host; others (the blocking thread, a
    // second io_context) get their own.
    std::string context_suffix(const asio::any_io_executor& caller) const {
        auto& mine = asio::query(ex, asio::execution::context);
        auto& theirs = asio::query(caller, asio::execution::context);
        if (&mine == &theirs) return {};
        char buf[32];
        std::snprintf(buf, sizeof buf, " on %p", static_cast<const void*>(&theirs));
        return buf;
    }

    // Idle connections are kept only for the client's own executor and its blocking thread. Any
    // other context (a second io_context, another client's blocking thread) may be destroyed
    // before this client, and a kept socket would outlive it.
    bool may_keep(const asio::any_io_executor& caller) {
        auto* theirs = &asio::query(caller, asio::execution::context);
        if (theirs == &asio::query(ex, asio::execution::context)) return true;
        std::lock_guard lk(runner_mu);
        return runner && theirs == static_cast<asio::execution_context*>(&runner->ioc);
    }

    asio::awaitable<void> sleep(std::chrono::milliseconds d) {
        asio::steady_timer t(co_await asio::this_coro::executor);
        t.expires_after(d);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) throw hfhub::error(client_errc::cancelled, {.client_message = "cancelled during a retry wait"});
    }

    std::string serialize(const http_request& req, const origin& o, const std::string& url, bool absolute_form,
                          const std::optional<proxy_choice>& proxy, const std::optional<std::string>& token,
                          std::uint64_t resume_from) {
        bool default_port = (o.scheme == "http" && o.port == "80") || (o.scheme == "https" && o.port == "443");
        std::string host = o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host;
        if (!default_port) host += ":" + o.port;
        std::string h;
        h.reserve(512);
        h += req.method + " " + (absolute_form ? url.substr(0, url.find('#')) : o.target) + " HTTP/1.1\r\n";
        h += "Host: " + host + "\r\n";
        check_header_text(req.user_agent_suffix);
        h += "User-Agent: " + ua + req.user_agent_suffix + "\r\n";
        if (!find_header(req.headers, "Accept-Encoding")) h += "Accept-Encoding: identity\r\n";
        if (token) h += "Authorization: Bearer " + *token + "\r\n";
        if (absolute_form && proxy && !proxy->authorization.empty())
            h += "Proxy-Authorization: " + proxy->authorization + "\r\n";
        std::uint64_t length = req.body_file     ? req.body_file->length
                               : req.body_source ? req.body_source_length
                                                 : req.body.size();
        if (length || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")
            h += "Content-Length: " + std::to_string(length) + "\r\n";
        for (auto& [k, v] : req.headers) {
            check_header_text(k);
            check_header_text(v);
            if (::strcasecmp(k.c_str(), "Host") == 0 || ::strcasecmp(k.c_str(), "Content-Length") == 0) continue;
            if (resume_from && ::strcasecmp(k.c_str(), "Range") == 0) continue;
            h += k + ": " + v + "\r\n";
        }
        if (resume_from) h += "Range: " + shifted_range(find_header(req.headers, "Range"), resume_from) + "\r\n";
        h += "\r\n";
        return h;
    }

    // `message` is the client's own account; the server's words go in `server_said`.
    [[noreturn]] void fail(std::error_code ec, const http_request& req, const std::string& url, unsigned status,
                           std::string message, const header_fields& headers = {}, std::string server_said = {}) {
        diagnostics d;
        d.status = status;
        d.method = req.method;
        d.url = url;
        d.client_message = std::move(message);
        d.server_message = std::move(server_said);
        if (auto id = find_header(headers, "X-Request-Id")) d.request_id = std::string(*id);
        else if (auto tid = find_header(headers, "X-Amzn-Trace-Id")) d.request_id = std::string(*tid);
        throw hfhub::error(ec, std::move(d));
    }

    // After a cancellation every further co_await throws operation_aborted; report it as ours.
    asio::awaitable<http_response> perform(http_request req, body_sink* sink, bool throw_on_error) {
        std::string method = req.method, url = req.url;
        try {
            co_return co_await attempt_all(std::move(req), sink, throw_on_error);
        } catch (const boost::system::system_error& e) {
            if (e.code() != asio::error::operation_aborted) throw;
        }
        throw hfhub::error(client_errc::cancelled, {.method = method, .url = url, .client_message = "cancelled"});
    }

    asio::awaitable<http_response> attempt_all(http_request req, body_sink* sink, bool throw_on_error) {
        auto cs = co_await asio::this_coro::cancellation_state;
        auto cancelled = [&] { return cs.cancelled() != asio::cancellation_type::none; };
        const bool idempotent = req.idempotent.value_or(default_idempotent(req.method));
        const auto read_timeout = req.read_timeout.value_or(cfg.timeouts.read);
        const proxy_config& proxies = req.proxies ? *req.proxies : cfg.proxies;
        // The token goes to the endpoint's origin only, whatever the caller asked: a storage or
        // CDN URL that an answer named must never receive it.
        std::optional<std::string> token =
            req.send_token && same_origin(req.url, cfg.endpoint)
                ? (req.token ? req.token : (cfg.implicit_token ? cfg.token : std::nullopt))
                : std::nullopt;
        if (token && token->empty()) token.reset();
        if (token) check_header_text(*token);

        const redirect_mode mode = req.redirects == follow_redirects::none            ? redirect_mode::none
                                   : req.redirects == follow_redirects::relative_only ? redirect_mode::relative_only
                                                                                      : redirect_mode::follow;
        retry_config retry = cfg.retry;
        if (req.max_retries) retry.max_retries = *req.max_retries;
        retry_schedule schedule(retry, seed.fetch_add(0x9e3779b97f4a7c15ull));
        std::string url = req.url;
        unsigned hops = 0;
        bool stale_retry_used = false;
        std::uint64_t delivered = 0;  // body bytes handed to the sink so far

        auto retry_wait = [&](const retry_schedule::failure& f) -> std::optional<std::chrono::milliseconds> {
            if (retries_used.load() >= cfg.retry.total_retries) return std::nullopt;
            auto w = schedule.next(f);
            if (w) ++retries_used;
            return w;
        };

        for (;;) {
            origin o = parse_origin(url);
            auto proxy = select_proxy(proxies, o.scheme, o.host, o.port);
            std::optional<proxy_hop> hop;
            if (proxy) hop = proxy_hop{proxy->host, proxy->port, proxy->authorization};
            std::string key = o.scheme + "://" + o.host + ":" + o.port;
            if (proxy) key += " via " + proxy->host + ":" + proxy->port;
            auto caller = co_await asio::this_coro::executor;
            key += context_suffix(caller);

            pool::lease lease = co_await connections.acquire(key);
            struct releaser {
                pool& p;
                pool::lease& l;
                bool keep;
                ~releaser() {
                    if (!keep) l.conn.reset();
                    p.release(l);
                }
            } give_back{connections, lease, may_keep(caller)};

            const bool fresh = !lease.conn;
            response_head head;
            std::exception_ptr failure;
            bool source_failed = false;
            try {
                if (fresh) {
                    lease.conn = co_await open_connection(o, hop, [this]() -> asio::ssl::context& { return tls_context(); }, cfg.timeouts.connect);
                    lease.conn->key = key;
                    connections.note_opened();
                }
                std::string h = serialize(req, o, url, lease.conn->absolute_form, proxy, token, delivered);
                head = co_await lease.conn->exchange(h, req, req.method == "HEAD", read_timeout);
            } catch (const body_source_failure& f) {
                lease.conn.reset();  // the body was cut short: the connection is unusable
                failure = f.inner;
                source_failed = true;
            } catch (...) {
                failure = std::current_exception();
            }
            if (source_failed) std::rethrow_exception(failure);
            if (failure) {
                lease.conn.reset();
                if (cancelled()) fail(client_errc::cancelled, req, url, 0, "cancelled");
                auto f = classify(failure);
                if (f.code == make_error_code(client_errc::cancelled)) fail(client_errc::cancelled, req, url, 0, "cancelled");
                if (!fresh && !stale_retry_used && idempotent) {
                    // A pooled connection the server had closed: once more on a new one.
                    stale_retry_used = true;
                    continue;
                }
                std::optional<std::chrono::milliseconds> wait;
                if (f.retryable) wait = retry_wait({idempotent, std::nullopt, {}, {}});
                if (!wait) fail(f.code, req, url, 0, f.message);
                lease.conn.reset();
                co_await sleep(*wait);
                continue;
            }

            http_response resp;
            resp.status = head.status;
            resp.headers = std::move(head.headers);
            resp.url = url;

            // Redirects.
            if (head.status >= 300 && head.status < 400 && head.status != 304) {
                auto loc = resp.header("Location");
                if (loc && mode != redirect_mode::none) {
                    auto d = decide_redirect(url, *loc, hops, cfg.max_redirects, mode);
                    if (d.what == redirect_decision::action::fail)
                        fail(d.error, req, url, head.status, "redirect to " + std::string(*loc) + " refused", resp.headers);
                    if (d.what == redirect_decision::action::follow) {
                        co_await drain(*lease.conn, head);
                        if (!d.keep_auth) token.reset();
                        url = d.url;
                        ++hops;
                        if (head.status == 303) {
                            req.method = "GET";
                            req.body.clear();
                            req.body_file.reset();
                            req.body_source = nullptr;
                            req.body_source_length = 0;
                        }
                        continue;
                    }
                }
            }

            // Retryable statuses.
            if (is_retryable_status(head.status)) {
                auto wait = retry_wait({idempotent, head.status, resp.header("Retry-After").value_or(""),
                                        resp.header("RateLimit").value_or("")});
                if (wait) {
                    co_await drain(*lease.conn, head);
                    co_await sleep(*wait);
                    continue;
                }
            }

            bool ok = head.status >= 200 && head.status < 300;
            if (!sink || !ok) {
                std::uint64_t limit = ok ? req.max_body : std::min<std::uint64_t>(req.max_body, 1 << 20);
                try {
                    co_await lease.conn->read_body(resp.body, limit, read_timeout);
                } catch (...) {
                    failure = std::current_exception();
                }
                if (failure) {
                    lease.conn.reset();
                    if (cancelled()) fail(client_errc::cancelled, req, url, 0, "cancelled");
                    auto f = classify(failure);
                    if (f.code == make_error_code(client_errc::body_too_large) || !f.retryable || !idempotent)
                        fail(f.code, req, url, head.status, f.message, resp.headers);
                    auto wait = retry_wait({idempotent, std::nullopt, {}, {}});
                    if (!wait) fail(f.code, req, url, head.status, f.message, resp.headers);
                    co_await sleep(*wait);
                    continue;
                }
                // Through an absolute-form proxy a 407 is the proxy's answer, never the Hub's.
                if (head.status == 407 && proxy && lease.conn->absolute_form)
                    fail(client_errc::proxy_error, req, url, head.status,
                         "the proxy at " + proxy->host + ":" + proxy->port + " requires authentication", resp.headers);
                if (!ok && head.status >= 400 && throw_on_error) {
                    auto ec = map_status(head.status, resp.header("X-Error-Code").value_or(""),
                                         resp.header("X-Error-Message").value_or(""));
                    fail(ec, req, url, head.status, "", resp.headers,
                         server_message(resp.header("X-Error-Message").value_or(""),
                                        resp.header("Content-Type").value_or(""), resp.body));
                }
                co_return resp;
            }

            // A 2xx streams into the sink; after a drop it resumes where it stopped.
            if (delivered > 0) {
                // The range must start exactly there: "bytes 100-" is no resume at 10.
                auto cr = resp.header("Content-Range");
                auto range = cr ? parse_content_range(*cr) : std::nullopt;
                bool resumed = head.status == 206 && range &&
                               range->first == resume_start(find_header(req.headers, "Range"), delivered);
                if (!resumed) {
                    if (!sink->restart) fail(client_errc::protocol_error, req, url, head.status,
                                             "the server cannot resume the body", resp.headers);
                    sink->restart();
                    delivered = 0;
                    if (head.status == 206) {
                        // Asked for a range we can't use: fetch the whole body again.
                        lease.conn.reset();
                        continue;
                    }
                }
            }
            if (sink->head) sink->head(resp);
            try {
                co_await lease.conn->stream_body(
                    [&](std::span<const char> s) {
                        sink->write(s);
                        delivered += s.size();
                    },
                    read_timeout);
            } catch (...) {
                failure = std::current_exception();
            }
            if (failure) {
                lease.conn.reset();
                if (cancelled()) fail(client_errc::cancelled, req, url, 0, "cancelled");
                auto f = classify(failure);
                std::optional<std::chrono::milliseconds> wait;
                if (f.retryable && idempotent) wait = retry_wait({idempotent, std::nullopt, {}, {}});
                if (!wait) fail(f.code, req, url, head.status, f.message, resp.headers);
                co_await sleep(*wait);
                continue;
            }
            co_return resp;
        }
    }

    // Reads a small body away so the connection can be reused; a large one closes it.
    asio::awaitable<void> drain(connection& c, const response_head& head) {
        if (!head.has_body) co_return;
        if (head.content_length && *head.content_length <= 64 * 1024) {
            std::string ignore;
            try {
                co_await c.read_body(ignore, 64 * 1024, cfg.timeouts.read);
            } catch (...) {
            }
        }
        // Otherwise reusable() stays false and the lease closes it.
    }
};

client::client(asio::any_io_executor ex, config cfg) : impl_(std::make_shared<impl>(std::move(ex), std::move(cfg))) {}
client::~client() = default;

asio::awaitable<http_response> client::co_request(http_request req, bool throw_on_error) {
    co_return co_await impl_->perform(std::move(req), nullptr, throw_on_error);
}

asio::awaitable<http_response> client::co_stream(http_request req, body_sink sink) {
    co_return co_await impl_->perform(std::move(req), &sink, true);
}

http_response client::request(http_request req, bool throw_on_error) {
    return detail::run_blocking(*this, co_request(std::move(req), throw_on_error));
}

const config& client::settings() const { return impl_->cfg; }
pool_stats client::stats() const { return impl_->connections.stats(); }
std::string client::user_agent() const { return impl_->ua; }
asio::any_io_executor client::get_executor() const { return impl_->ex; }

namespace detail {

namespace {
// Whether this thread runs `ex`, for the executor kinds a client is made with.
bool runs_here(const asio::any_io_executor& ex) {
    using io_ex = asio::io_context::executor_type;
    using pool_ex = asio::thread_pool::executor_type;
    if (auto* e = ex.target<io_ex>()) return e->running_in_this_thread();
    if (auto* e = ex.target<asio::strand<io_ex>>()) return e->get_inner_executor().running_in_this_thread();
    if (auto* e = ex.target<pool_ex>()) return e->running_in_this_thread();
    if (auto* e = ex.target<asio::strand<pool_ex>>()) return e->get_inner_executor().running_in_this_thread();
    return false;
}

[[noreturn]] void would_deadlock() {
    throw hfhub::error(client_errc::would_deadlock,
                       {.client_message =
                        "a blocking call made on a thread that runs the client's executor would wait on itself: "
                        "co_await the co_ call instead"});
}
}  // namespace

asio::any_io_executor blocking_access::enter(client& c) {
    auto& i = *c.impl_;
    std::unique_lock lk(i.runner_mu);
    if (!i.runner) i.runner = std::make_unique<blocking_runner>();
    auto ex = i.runner->ioc.get_executor();
    lk.unlock();
    if (ex.running_in_this_thread() || runs_here(i.ex)) would_deadlock();
    return ex;
}

asio::any_io_executor blocking_access::pool(client& c) { return c.impl_->blocking_pool().get_executor(); }

void blocking_access::refuse_on_executor(client& c) {
    auto& i = *c.impl_;
    if (runs_here(i.ex)) would_deadlock();
    std::lock_guard lk(i.runner_mu);
    if (i.runner && i.runner->ioc.get_executor().running_in_this_thread()) would_deadlock();
}

}  // namespace detail

}  // namespace hfhub
