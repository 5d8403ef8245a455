#include "http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <stdexcept>

namespace hfhub::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

http_response http_request(const std::string& method, const std::string& url, const std::string& body,
                           const header_pairs& headers) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) throw std::invalid_argument("bad url: " + url);
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(60));
    stream.connect(resolver.resolve(std::string(u->host()), std::string(u->port())));

    std::string target = std::string(u->encoded_path());
    if (target.empty()) target = "/";
    if (u->has_query()) target += "?" + std::string(u->encoded_query());
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, std::string(u->host()) + ":" + std::string(u->port()));
    req.set(http::field::user_agent, "hfhub-tests");
    for (auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == "POST" || method == "PUT") {
        req.body() = body;
        req.prepare_payload();
    }
    http::write(stream, req);

    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    p.body_limit(1ull << 32);
    p.skip(method == "HEAD");
    http::read(stream, buf, p);
    auto& res = p.get();
    http_response out;
    out.status = res.result_int();
    for (auto& f : res) {
        std::string name(f.name_string());
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        out.headers[name] = std::string(f.value());
    }
    out.body = std::move(res.body());
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return out;
}

std::string bearer(const std::string& token) { return "Bearer " + token; }

std::string raw_exchange(const std::string& base_url, const std::string& raw) {
    auto u = boost::urls::parse_absolute_uri(base_url);
    if (!u) throw std::invalid_argument("bad url: " + base_url);
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(60));
    stream.connect(resolver.resolve(std::string(u->host()), std::string(u->port())));
    asio::write(stream, asio::buffer(raw));
    std::string out;
    char buf[4096];
    for (;;) {
        beast::error_code ec;
        std::size_t n = stream.read_some(asio::buffer(buf), ec);
        out.append(buf, n);
        if (ec == asio::error::eof || ec == asio::error::connection_reset) break;
        if (ec) throw beast::system_error(ec);
    }
    return out;
}

}  // namespace hfhub::test
