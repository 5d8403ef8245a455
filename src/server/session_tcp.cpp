#include "server/session_impl.hpp"

namespace hfhub::server {

boost::asio::awaitable<void> run_plain_session(boost::asio::ip::tcp::socket sock, std::shared_ptr<session_shared> sh,
                                               listener_kind kind) {
    boost::beast::error_code ec;
    auto remote = sock.remote_endpoint(ec);
    bool loopback = !ec && is_loopback(remote.address());
    std::string addr = ec ? std::string() : remote.address().to_string();
    sock.set_option(boost::asio::ip::tcp::no_delay(true), ec);
    boost::beast::tcp_stream stream(std::move(sock));
    try {
        co_await detail::serve_connection(stream, sh, kind, loopback, std::move(addr));
    } catch (const std::exception&) {
        // A broken connection ends only itself.
    }
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace hfhub::server
