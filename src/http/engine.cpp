// The request loop: a thin driver of request_fsm over the pool and the connections.
#include "http/engine.hpp"

#include "http/connection.hpp"
#include "http/policy.hpp"
#include "http/pool.hpp"
#include "http/request_fsm.hpp"
#include "blocking_call.hpp"
#include "util/blocking.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/system/system_error.hpp>

#include <cstdio>
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
using kind = request_action::kind;

namespace {

bool default_idempotent(std::string_view method) { return method != "POST" && method != "PATCH"; }

void check_header_text(std::string_view s) {
    if (s.find_first_of("\r\n") != std::string_view::npos)
        throw hfhub::error(client_errc::invalid_argument, {.client_message = "header text contains a line break"});
}

// Gives the lease back when dropped; a connection the caller's context may not keep is closed.
struct held_lease {
    pool& p;
    pool::lease lease;
    bool keep;
    held_lease(pool& p, pool::lease l, bool keep) : p(p), lease(std::move(l)), keep(keep) {}
    held_lease(const held_lease&) = delete;
    held_lease& operator=(const held_lease&) = delete;
    ~held_lease() {
        if (!keep) lease.conn.reset();
        p.release(lease);
    }
};

// A 303 answer: the next request is a GET without a body.
void turn_into_get(http_request& req) {
    req.method = "GET";
    req.body.clear();
    req.body_file.reset();
    req.body_source = nullptr;
    req.body_source_length = 0;
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

client::impl::impl(asio::any_io_executor e, config c)
    : ex(std::move(e)), cfg(std::move(c)), connections(cfg.pool), seed(std::random_device{}()) {
    // OpenSSL's exit handler is registered on its first use: before this client exists, it
    // runs after the client is gone (a client that lives to the process's end included), so
    // the blocking pool's threads still free their OpenSSL state when they are joined.
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    ua = "hfhub/" HFHUB_VERSION;
    if (!cfg.library_name.empty())
        ua += "; " + cfg.library_name + "/" + (cfg.library_version.empty() ? "None" : cfg.library_version);
}

client::impl::~impl() = default;

util::blocking_pool& client::impl::blocking_pool() {
    std::call_once(blocking_once, [&] { blocking = std::make_unique<util::blocking_pool>(cfg.blocking_threads); });
    return *blocking;
}

asio::ssl::context& client::impl::tls_context() {
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
std::string client::impl::context_suffix(const asio::any_io_executor& caller) const {
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
bool client::impl::may_keep(const asio::any_io_executor& caller) {
    auto* theirs = &asio::query(caller, asio::execution::context);
    if (theirs == &asio::query(ex, asio::execution::context)) return true;
    std::lock_guard lk(runner_mu);
    return runner && theirs == static_cast<asio::execution_context*>(&runner->ioc);
}

asio::awaitable<void> client::impl::sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(d);
    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) throw hfhub::error(client_errc::cancelled, {.client_message = "cancelled during a retry wait"});
}

std::string client::impl::serialize(const http_request& req, const origin& o, const std::string& url,
                                    bool absolute_form, const std::optional<proxy_choice>& proxy,
                                    const std::optional<std::string>& token, std::uint64_t resume_from) const {
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

// After a cancellation every further co_await throws operation_aborted; report it as ours.
asio::awaitable<final_answer> client::impl::perform(http_request req, body_sink* sink) {
    std::string method = req.method, url = req.url;
    try {
        co_return co_await attempt_all(std::move(req), sink);
    } catch (const boost::system::system_error& e) {
        if (e.code() != asio::error::operation_aborted) throw;
    }
    throw hfhub::error(client_errc::cancelled, {.method = method, .url = url, .client_message = "cancelled"});
}

// Reads a small body away so the connection can be reused; a large one closes it.
asio::awaitable<void> client::impl::drain(connection& c, const response_head& head) {
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

// One request's lease and answer, carried between the actions its state machine asks for. Each
// I/O step turns its failure into the event the machine decides on.
struct client::impl::attempt {
    impl& self;
    http_request& req;
    body_sink* sink;
    asio::cancellation_state cs;
    asio::any_io_executor caller;
    std::chrono::milliseconds read_timeout;
    const proxy_config& proxies;
    bool keep;
    std::optional<held_lease> held;
    origin o;
    std::optional<proxy_choice> proxy;
    response_head head;
    http_response resp;
    std::exception_ptr source_error;

    connection& conn() { return *held->lease.conn; }

    request_event failed(std::exception_ptr ep) {
        held->lease.conn.reset();  // cut mid-exchange: it can't serve another request
        request_event ev{.what = request_event::kind::failed};
        ev.cancelled = cs.cancelled() != asio::cancellation_type::none;
        if (!ev.cancelled) ev.failure = classify(ep);
        return ev;
    }

    asio::awaitable<request_event> connect(const std::string& url) {
        held.reset();
        o = parse_origin(url);
        proxy = select_proxy(proxies, o.scheme, o.host, o.port);
        std::string key = o.scheme + "://" + o.host + ":" + o.port;
        if (proxy) key += " via " + proxy->host + ":" + proxy->port;
        key += self.context_suffix(caller);
        pool::lease l = co_await self.connections.acquire(key);
        held.emplace(self.connections, std::move(l), keep);
        request_event ev{.what = request_event::kind::done, .fresh = !held->lease.conn};
        if (proxy) ev.proxy = proxy->host + ":" + proxy->port;
        std::exception_ptr failure;
        try {
            if (ev.fresh) {
                std::optional<proxy_hop> hop;
                if (proxy) hop = proxy_hop{proxy->host, proxy->port, proxy->authorization};
                std::function<asio::ssl::context&()> tls = [s = &self]() -> asio::ssl::context& {
                    return s->tls_context();
                };
                held->lease.conn = co_await open_connection(o, hop, tls, self.cfg.timeouts.connect);
                held->lease.conn->key = key;
                self.connections.note_opened();
            }
            ev.absolute_form = conn().absolute_form;
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) co_return failed(failure);
        co_return ev;
    }

    asio::awaitable<request_event> send(const request_fsm& fsm) {
        std::exception_ptr failure;
        try {
            std::string h = self.serialize(req, o, fsm.url(), conn().absolute_form, proxy, fsm.token(), fsm.resume_from());
            head = co_await conn().exchange(h, req, req.method == "HEAD", read_timeout);
        } catch (const body_source_failure& f) {
            held->lease.conn.reset();  // the body was cut short: the connection is unusable
            source_error = f.inner;
            co_return request_event{.what = request_event::kind::source_failed};
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) co_return failed(failure);
        resp = http_response{.status = head.status, .headers = std::move(head.headers), .url = fsm.url()};
        co_return request_event{.what = request_event::kind::done, .status = resp.status, .headers = &resp.headers};
    }

    asio::awaitable<request_event> read(std::uint64_t limit) {
        std::exception_ptr failure;
        try {
            co_await conn().read_body(resp.body, limit, read_timeout);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) co_return failed(failure);
        co_return request_event{.what = request_event::kind::done};
    }

    asio::awaitable<request_event> stream() {
        if (sink->head) sink->head(resp);
        std::uint64_t n = 0;
        std::function<void(std::span<const char>)> write = [&](std::span<const char> s) {
            sink->write(s);
            n += s.size();
        };
        std::exception_ptr failure;
        try {
            co_await conn().stream_body(write, read_timeout);
        } catch (...) {
            failure = std::current_exception();
        }
        request_event ev = failure ? failed(failure) : request_event{.what = request_event::kind::done};
        ev.streamed = n;
        co_return ev;
    }

    // `message` is the client's own account of the failure.
    [[noreturn]] void fail(const request_action& a, const std::string& url) {
        diagnostics d{.status = a.status, .method = req.method, .url = url, .client_message = a.message};
        if (a.with_headers) d.request_id = request_id_of(resp.headers);
        throw hfhub::error(a.code, std::move(d));
    }
};

asio::awaitable<final_answer> client::impl::attempt_all(http_request req, body_sink* sink) {
    // The token goes to the endpoint's origin only, whatever the caller asked: a storage or
    // CDN URL that an answer named must never receive it.
    std::optional<std::string> token =
        req.send_token && same_origin(req.url, cfg.endpoint)
            ? (req.token ? req.token : (cfg.implicit_token ? cfg.token : std::nullopt))
            : std::nullopt;
    if (token && token->empty()) token.reset();
    if (token) check_header_text(*token);
    retry_config retry = cfg.retry;
    if (req.max_retries) retry.max_retries = *req.max_retries;
    auto range = find_header(req.headers, "Range");
    request_fsm fsm(
        request_params{
            .url = req.url,
            .token = std::move(token),
            .idempotent = req.idempotent.value_or(default_idempotent(req.method)),
            .redirects = req.redirects == follow_redirects::none            ? redirect_mode::none
                         : req.redirects == follow_redirects::relative_only ? redirect_mode::relative_only
                                                                            : redirect_mode::follow,
            .max_redirects = cfg.max_redirects,
            .streaming = sink != nullptr,
            .can_restart = sink && sink->restart,
            .range = range ? std::optional<std::string>(*range) : std::nullopt,
            .max_body = req.max_body,
            .retry = retry,
            .seed = seed.fetch_add(0x9e3779b97f4a7c15ull),
        },
        retry_budget{retries_used, cfg.retry.total_retries});

    auto cs = co_await asio::this_coro::cancellation_state;
    auto caller = co_await asio::this_coro::executor;
    attempt t{.self = *this, .req = req, .sink = sink, .cs = cs, .caller = caller,
              .read_timeout = req.read_timeout.value_or(cfg.timeouts.read),
              .proxies = req.proxies ? *req.proxies : cfg.proxies, .keep = may_keep(caller)};
    request_event ev;
    for (;;) {
        request_action a = fsm.resume(ev);
        if (a.close && t.held) t.held->lease.conn.reset();
        ev = request_event{.what = request_event::kind::done};
        switch (a.what) {
        case kind::connect: ev = co_await t.connect(fsm.url()); break;
        case kind::send: ev = co_await t.send(fsm); break;
        case kind::read_body: ev = co_await t.read(a.limit); break;
        case kind::stream_body: ev = co_await t.stream(); break;
        case kind::restart_sink: sink->restart(); break;
        case kind::follow_redirect:
            if (a.as_get) turn_into_get(req);
            co_await drain(t.conn(), t.head);
            break;
        case kind::sleep:
            if (a.drain) co_await drain(t.conn(), t.head);
            co_await sleep(a.wait);
            break;
        case kind::done: co_return final_answer{std::move(t.resp), req.method};
        case kind::fail: t.fail(a, fsm.url());
        case kind::rethrow: std::rethrow_exception(t.source_error);
        }
    }
}

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
