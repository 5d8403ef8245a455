#include "http/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/url/parse.hpp>

namespace hfhub::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

origin parse_origin(std::string_view url) {
    auto u = boost::urls::parse_absolute_uri(url);
    auto bad = [&] { return hfhub::error(client_errc::invalid_url, {.url = std::string(url), .client_message = "not an http(s) URL"}); };
    if (!u || !u->has_authority() || u->host().empty()) throw bad();
    origin o;
    o.scheme = std::string(u->scheme());
    for (char& c : o.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (o.scheme != "http" && o.scheme != "https") throw bad();
    o.host = std::string(u->encoded_host_address());
    if (o.host.size() > 2 && o.host.front() == '[') o.host = o.host.substr(1, o.host.size() - 2);
    o.port = u->has_port() ? std::string(u->port()) : (o.scheme == "https" ? "443" : "80");
    o.target = std::string(u->encoded_path());
    if (o.target.empty()) o.target = "/";
    if (u->has_query()) o.target += "?" + std::string(u->encoded_query());
    return o;
}

asio::awaitable<std::unique_ptr<connection>> open_connection(const origin& o, const std::optional<proxy_hop>& proxy,
                                                             const std::function<asio::ssl::context&()>& tls,
                                                             std::chrono::milliseconds connect_timeout) {
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    const std::string& host = proxy ? proxy->host : o.host;
    const std::string& port = proxy ? proxy->port : o.port;
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
    if (rec) {
        if (rec == asio::error::operation_aborted) throw boost::system::system_error(rec);
        throw hfhub::error(client_errc::connection_failed,
                           {.url = o.scheme + "://" + host + ":" + port, .client_message = "cannot resolve " + host + ": " + rec.message()});
    }
    beast::tcp_stream stream(ex);
    stream.expires_after(connect_timeout);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    stream.socket().set_option(tcp::no_delay(true));

    if (proxy && o.scheme == "https") {
        // Tunnel: the proxy sees only host:port, TLS runs end to end.
        std::string authority = (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) + ":" + o.port;
        std::string req = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
        if (!proxy->authorization.empty()) req += "Proxy-Authorization: " + proxy->authorization + "\r\n";
        req += "\r\n";
        stream.expires_after(connect_timeout);
        co_await asio::async_write(stream, asio::buffer(req), asio::use_awaitable);
        beast::flat_buffer buf;
        beast::http::response_parser<beast::http::empty_body> p;
        p.skip(true);  // a 2xx to CONNECT has no body
        co_await beast::http::async_read_header(stream, buf, p, asio::use_awaitable);
        if (p.get().result_int() != 200)
            throw hfhub::error(client_errc::proxy_error,
                               {p.get().result_int(), "CONNECT", "http://" + proxy->host + ":" + proxy->port, "",
                                "proxy refused the tunnel to " + authority});
    }
    if (o.scheme == "https") co_return co_await make_tls_connection(std::move(stream), tls(), o.host, connect_timeout);
    auto c = make_plain_connection(std::move(stream));
    c->absolute_form = proxy.has_value();
    co_return c;
}

}  // namespace hfhub::http
