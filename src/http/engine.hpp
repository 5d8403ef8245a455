// The HTTP engine behind hfhub::client: the pool, TLS, the blocking thread and the request loop.
// It answers every request with the final response, whatever its status; what a status means
// for the Hub is decided a layer up, where the client's public calls are defined.
#pragma once

#include "http/pool.hpp"
#include "http/request_fsm.hpp"

#include <hfhub/client.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace hfhub {

namespace util {
class blocking_pool;
}

struct blocking_runner;

// The final answer to a request, and the method that got it (a 303 turns it into a GET).
struct final_answer {
    http_response response;
    std::string method;
};

struct client::impl {
    impl(boost::asio::any_io_executor e, config c);
    ~impl();

    // Sends `req`, following redirects and retrying as the request's policy says. A 2xx body
    // streams into `sink` when there is one; other bodies are buffered. Throws hfhub::error for
    // failures of the transport, never for a status.
    boost::asio::awaitable<final_answer> perform(http_request req, body_sink* sink);

    util::blocking_pool& blocking_pool();

    boost::asio::any_io_executor ex;
    config cfg;
    std::mutex runner_mu;
    std::unique_ptr<blocking_runner> runner;  // before the pool: its sockets may belong to runner->ioc
    std::once_flag tls_once;
    std::optional<boost::asio::ssl::context> tls;  // made on first use: the trust store takes ms to load
    http::pool connections;
    std::string ua;
    std::atomic<std::uint64_t> retries_used{0};
    std::atomic<std::uint64_t> seed;
    // Last, so joined first: its jobs end by posting to a caller's executor, which may be the
    // runner's, and what they left queued (closes, unlinks) runs before anything else goes.
    std::once_flag blocking_once;
    std::unique_ptr<util::blocking_pool> blocking;

private:
    struct attempt;
    boost::asio::awaitable<final_answer> attempt_all(http_request req, body_sink* sink);
    boost::asio::ssl::context& tls_context();
    std::string context_suffix(const boost::asio::any_io_executor& caller) const;
    bool may_keep(const boost::asio::any_io_executor& caller);
    boost::asio::awaitable<void> sleep(std::chrono::milliseconds d);
    boost::asio::awaitable<void> drain(http::connection& c, const http::response_head& head);
    std::string serialize(const http_request& req, const http::origin& o, const std::string& url, bool absolute_form,
                          const std::optional<http::proxy_choice>& proxy, const std::optional<std::string>& token,
                          std::uint64_t resume_from) const;
};

}  // namespace hfhub
