// A small HTTP service on the same io_context as hfhub: GET /<namespace>/<repo>/<file> answers
// with that file, fetched through hfhub into the shared cache on first use and served from the
// cache after. With --self-test it asks itself for the given paths and exits.
//   HF_ENDPOINT=http://127.0.0.1:8080 file_service [--self-test /acme/model/config.json ...]
#include <hfhub/download.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <iostream>
#include <string_view>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// "/acme/model/sub/dir/file.bin" -> repo "acme/model", file "sub/dir/file.bin".
bool split_target(std::string_view t, std::string& repo, std::string& file) {
    if (t.empty() || t[0] != '/') return false;
    t.remove_prefix(1);
    auto slash = t.find('/');
    if (slash == t.npos) return false;
    auto second = t.find('/', slash + 1);
    if (second == t.npos || second + 1 == t.size()) return false;
    repo = t.substr(0, second);
    file = t.substr(second + 1);
    return true;
}

asio::awaitable<void> serve_one(hfhub::client& hub, tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buf;
    buf.reserve(16 * 1024);
    http::request<http::empty_body> req;
    co_await http::async_read(stream, buf, req, asio::use_awaitable);

    std::string repo, file;
    http::response<http::file_body> res{http::status::ok, req.version()};
    http::response<http::string_body> err{http::status::not_found, req.version()};
    if (!split_target(req.target(), repo, file)) {
        err.result(http::status::bad_request);
    } else {
        try {
            auto path = co_await hfhub::co_hf_hub_download(hub, repo, file);
            beast::error_code ec;
            res.body().open(path.c_str(), beast::file_mode::scan, ec);
            if (!ec) {
                res.prepare_payload();
                co_await http::async_write(stream, res, asio::use_awaitable);
                co_return;
            }
            err.result(http::status::internal_server_error);
        } catch (const hfhub::error& e) {  // the Hub's typed errors become this service's answers
            if (e.code() != hfhub::hub_errc::repo_not_found && e.code() != hfhub::hub_errc::entry_not_found)
                err.result(http::status::bad_gateway);
            err.body() = e.what();
        }
    }
    err.prepare_payload();
    co_await http::async_write(stream, err, asio::use_awaitable);
}

asio::awaitable<void> listen(hfhub::client& hub, tcp::acceptor& acceptor) {
    for (;;) {
        tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
        asio::co_spawn(acceptor.get_executor(), serve_one(hub, std::move(s)), asio::detached);
    }
}

// Asks the service for each path, through hfhub's own HTTP client, then stops everything.
asio::awaitable<void> self_test(hfhub::client& hub, std::string base, std::vector<std::string> paths, tcp::acceptor& acceptor) {
    for (const auto& p : paths) {
        hfhub::http_request req;
        req.url = base + p;
        try {
            hfhub::http_response res = co_await hub.co_request(std::move(req));
            std::cout << res.status << " " << p << " " << res.body.size() << " bytes\n";
        } catch (const hfhub::error& e) {  // an answer that is not 2xx
            std::cout << e.diag().status << " " << p << " " << hfhub::error_name(e.code()) << "\n";
        }
    }
    acceptor.close();
}

int main(int argc, char** argv) {
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    std::string base = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
    std::cout << "serving on " << base << std::endl;
    asio::co_spawn(ioc, listen(hub, acceptor), asio::detached);
    if (argc > 1 && std::string_view(argv[1]) == "--self-test") {
        std::vector<std::string> paths(argv + 2, argv + argc);
        int rc = 1;
        asio::co_spawn(ioc, self_test(hub, base, std::move(paths), acceptor), [&](std::exception_ptr e) {
            rc = e ? 1 : 0;
            ioc.stop();
        });
        ioc.run();
        return rc;
    }
    ioc.run();
}
