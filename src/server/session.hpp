// One connection: read requests (streaming storage uploads to disk), ask the hub, write
// answers (files in large pread chunks), apply injected faults, log.
#pragma once

#include "server/access_log.hpp"
#include "server/hub.hpp"

#include <hfhub/server/server.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>

namespace hfhub::server {

// What every session of one server shares. Sessions own it jointly with the server, so a
// connection that outlives the server object never touches freed state.
struct session_shared {
    session_shared(std::shared_ptr<hub> hub_, std::shared_ptr<access_log> log_, options opts_)
        : hub_owner(std::move(hub_)), log_owner(std::move(log_)), h(*hub_owner), log(*log_owner),
          opts(std::move(opts_)) {}

    std::shared_ptr<hub> hub_owner;
    std::shared_ptr<access_log> log_owner;
    hub& h;
    access_log& log;
    const options opts;
    // Where store work runs (see options::store_threads); empty: on the session's thread.
    boost::asio::any_io_executor store_ex;
    std::atomic<std::size_t> in_flight{0};
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> next_id{0};
    std::string id_prefix;
    std::mutex drain_mu;
    std::function<void()> on_drained;

    // One per open connection, so stop() can close those waiting for a request.
    struct connection {
        boost::asio::any_io_executor ex;             // the connection's strand
        boost::beast::tcp_stream* stream = nullptr;  // these two only on `ex`
        bool idle = false;                           // waiting for the next request
    };
    std::mutex conns_mu;
    std::set<std::shared_ptr<connection>> conns;

    void request_done();
    void close_idle();  // after `stopping` is set
};

// Loopback, including 127.0.0.1 seen through a dual-stack socket as ::ffff:127.0.0.1.
bool is_loopback(const boost::asio::ip::address& a);

boost::asio::awaitable<void> run_plain_session(boost::asio::ip::tcp::socket sock,
                                               std::shared_ptr<session_shared> sh, listener_kind kind);
boost::asio::awaitable<void> run_tls_session(boost::asio::ip::tcp::socket sock, boost::asio::ssl::context& tls,
                                             std::shared_ptr<session_shared> sh, listener_kind kind);

}  // namespace hfhub::server
