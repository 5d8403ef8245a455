// One client connection (plain TCP or TLS, possibly through a proxy) and the HTTP/1.1
// exchange on it. The stream types stay inside src/http; the rest of the client sees this
// interface only.
#pragma once

#include <hfhub/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <span>
#include <memory>
#include <optional>
#include <string>

namespace hfhub::http {

struct response_head {
    unsigned status = 0;
    header_fields headers;
    std::optional<std::uint64_t> content_length;
    bool keep_alive = true;
    bool has_body = true;
};

class connection {
public:
    virtual ~connection() = default;

    // Writes the request head (already serialized) and the body (`req.body`, `req.body_file` or
    // `req.body_source`), then reads the response head.
    virtual boost::asio::awaitable<response_head> exchange(const std::string& head, const http_request& req,
                                                           bool head_request, std::chrono::milliseconds timeout) = 0;
    // Reads the body of the response just received into `out` (at most `limit` bytes, else
    // body_too_large) or streams it to `write`. Afterwards `reusable()` says whether the
    // connection may serve another request.
    virtual boost::asio::awaitable<void> read_body(std::string& out, std::uint64_t limit,
                                                   std::chrono::milliseconds timeout) = 0;
    virtual boost::asio::awaitable<void> stream_body(const std::function<void(std::span<const char>)>& write,
                                                     std::chrono::milliseconds timeout) = 0;

    virtual boost::beast::tcp_stream& lowest() = 0;
    // Whether the last response was read whole on a keep-alive connection.
    bool reusable() const { return reusable_; }
    // False when the peer already closed an idle connection (checked without blocking).
    bool alive();

    std::string key;             // the pool key: origin, plus the proxy when there is one
    bool absolute_form = false;  // plain HTTP through a proxy: targets are absolute URLs

protected:
    bool reusable_ = false;
};

// Thrown by exchange when the request's body_source failed: its exception is the request's,
// not the connection's, so the client passes it on without a retry.
struct body_source_failure {
    std::exception_ptr inner;
};

struct origin {
    std::string scheme;  // "http" or "https"
    std::string host;    // without brackets
    std::string port;    // always set
    std::string target;  // path and query, at least "/"
};

// Throws hfhub::error(invalid_url) for anything but an absolute http(s) URL.
origin parse_origin(std::string_view url);

struct proxy_hop {
    std::string host;
    std::string port;
    std::string authorization;  // Proxy-Authorization value, or empty
};

// Resolves, connects (within `connect_timeout`), tunnels through `proxy` with CONNECT for https,
// and does the TLS handshake with SNI and hostname verification. `tls` is asked for the context
// only when the origin is https: loading the trust store costs milliseconds a plain run skips.
boost::asio::awaitable<std::unique_ptr<connection>> open_connection(const origin& o, const std::optional<proxy_hop>& proxy,
                                                                   const std::function<boost::asio::ssl::context&()>& tls,
                                                                   std::chrono::milliseconds connect_timeout);

std::unique_ptr<connection> make_plain_connection(boost::beast::tcp_stream stream);
// Handshakes as a client of `host` (SNI, and the certificate must name it); throws
// hfhub::error(tls_error) naming the host on failure.
boost::asio::awaitable<std::unique_ptr<connection>> make_tls_connection(boost::beast::tcp_stream stream,
                                                                        boost::asio::ssl::context& tls,
                                                                        const std::string& host,
                                                                        std::chrono::milliseconds timeout);

}  // namespace hfhub::http
