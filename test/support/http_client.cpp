#include "http_client.hpp"

#include "deadline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace hfhub::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;

namespace {

// A connection to `u`'s host and port on `ioc`.
asio::awaitable<void> open_connection(beast::tcp_stream& stream, const boost::urls::url_view& u) {
    asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
    std::string host(u.host()), port(u.port());
    auto endpoints = co_await resolver.async_resolve(host, port, use_awaitable);
    co_await stream.async_connect(endpoints, use_awaitable);
}

}  // namespace

// Blocking for the caller, asynchronous inside: test::run's deadline turns a server that never
// answers into a failed test instead of a hung one.
http_response http_request(const std::string& method, const std::string& url, const std::string& body,
                           const header_pairs& headers) {
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) throw std::invalid_argument("bad url: " + url);
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

    asio::io_context ioc;
    auto exchange = [&]() -> asio::awaitable<http_response> {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        co_await open_connection(stream, *u);
        co_await http::async_write(stream, req, use_awaitable);
        beast::flat_buffer buf;
        http::response_parser<http::string_body> p;
        p.body_limit(1ull << 32);
        p.skip(method == "HEAD");
        co_await http::async_read(stream, buf, p, use_awaitable);
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
        co_return out;
    };
    return run(ioc, exchange());
}

std::string bearer(const std::string& token) { return "Bearer " + token; }

std::string raw_exchange(const std::string& base_url, const std::string& raw) {
    auto u = boost::urls::parse_absolute_uri(base_url);
    if (!u) throw std::invalid_argument("bad url: " + base_url);
    asio::io_context ioc;
    auto exchange = [&]() -> asio::awaitable<std::string> {
        beast::tcp_stream stream(co_await asio::this_coro::executor);
        co_await open_connection(stream, *u);
        co_await asio::async_write(stream, asio::buffer(raw), use_awaitable);
        std::string out;
        std::array<char, 4096> buf;
        for (;;) {
            auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
            out.append(buf.data(), n);
            if (ec == asio::error::eof || ec == asio::error::connection_reset) break;
            if (ec) throw beast::system_error(ec);
        }
        co_return out;
    };
    return run(ioc, exchange());
}

}  // namespace hfhub::test
