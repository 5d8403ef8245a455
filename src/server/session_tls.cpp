#include "server/session_impl.hpp"

#include <boost/beast/ssl.hpp>

namespace hfhub::server {

boost::asio::awaitable<void> run_tls_session(boost::asio::ip::tcp::socket sock, boost::asio::ssl::context& tls,
                                             std::shared_ptr<session_shared> sh, listener_kind kind) {
    namespace beast = boost::beast;
    beast::error_code ec;
    auto remote = sock.remote_endpoint(ec);
    bool loopback = !ec && is_loopback(remote.address());
    std::string addr = ec ? std::string() : remote.address().to_string();
    sock.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(sock)), tls);
    try {
        beast::get_lowest_layer(stream).expires_after(sh->opts.read_timeout);
        auto [hec] = co_await stream.async_handshake(boost::asio::ssl::stream_base::server, detail::tuple_awaitable);
        if (hec) co_return;
        co_await detail::serve_connection(stream, sh, kind, loopback, std::move(addr));
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
        co_await stream.async_shutdown(detail::tuple_awaitable);
    } catch (const std::exception&) {
    }
}

}  // namespace hfhub::server
