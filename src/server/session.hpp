// One connection: read requests (streaming storage uploads to disk), ask the hub, write
// answers (files in large pread chunks), apply injected faults, log.
#pragma once

#include "server/access_log.hpp"
#include "server/hub.hpp"

#include <hfhub/server/server.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <functional>
#include <mutex>

namespace hfhub::server {

// What every session of one server shares.
struct session_shared {
    hub& h;
    access_log& log;
    const options& opts;
    std::atomic<std::size_t> in_flight{0};
    std::atomic<bool> stopping{false};
    std::atomic<std::uint64_t> next_id{0};
    std::string id_prefix;
    std::mutex drain_mu;
    std::function<void()> on_drained;

    void request_done();
};

boost::asio::awaitable<void> run_plain_session(boost::asio::ip::tcp::socket sock,
                                               std::shared_ptr<session_shared> sh, listener_kind kind);
boost::asio::awaitable<void> run_tls_session(boost::asio::ip::tcp::socket sock, boost::asio::ssl::context& tls,
                                             std::shared_ptr<session_shared> sh, listener_kind kind);

}  // namespace hfhub::server
