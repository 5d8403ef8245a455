// The HTTP client against the local server: pooling, redirects, retries, resume, cancellation.
#include "client_util.hpp"
#include "test_server.hpp"

#include "util/hash.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <atomic>
#include <random>
#include <thread>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::string_sink;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

// A repo with a small regular file and an LFS file of `lfs_size` bytes.
struct client_fixture {
    test_server srv;
    std::string small = "hello from the hub\n";
    std::string big;
    client_fixture(std::size_t lfs_size = 4 << 20) : big(random_bytes(lfs_size, 7)) {
        srv.create_repo("alice/c", alice_token);
        auto sha = srv.upload_lfs("alice/c", big, alice_token);
        auto r = srv.commit("models/alice/c", "main",
                            {test_server::add_file("small.txt", small), test_server::add_lfs("big.bin", sha, big.size())},
                            alice_token);
        if (r.status != 200) throw std::runtime_error("fixture commit failed: " + r.body);
    }
    void faults(const std::string& rules) {
        auto r = srv.post("/admin/faults", rules);
        if (r.status != 200) throw std::runtime_error("faults: " + r.body);
    }
    std::vector<json::object> log() const {
        std::vector<json::object> out;
        for (auto& l : srv.log_lines()) out.push_back(json::parse(l).as_object());
        return out;
    }
};

http_request get(const std::string& url) {
    http_request r;
    r.url = url;
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_http)

BOOST_FIXTURE_TEST_CASE(keep_alive_reuses_one_connection, client_fixture) {
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);
    for (int i = 0; i < 20; ++i) {
        auto r = run(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")));
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.body == small);
    }
    auto s = c.stats();
    BOOST_TEST(s.opened == 1u);
    BOOST_TEST(s.reused == 19u);
}

BOOST_FIXTURE_TEST_CASE(hundred_concurrent_requests_never_exceed_the_cap, client_fixture) {
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.pool.per_host = 8;
    client c(ioc.get_executor(), cfg);
    int ok = 0, failed = 0;
    for (int i = 0; i < 100; ++i)
        asio::co_spawn(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")),
                       [&](std::exception_ptr e, http_response r) { (e || r.body != small) ? ++failed : ++ok; });
    hfhub::test::run_all(ioc);
    BOOST_TEST(ok == 100);
    BOOST_TEST(failed == 0);
    BOOST_TEST(c.stats().peak_open <= 8u);
    BOOST_TEST(c.stats().opened <= 8u);
    BOOST_TEST(c.stats().opened >= 2u);  // the requests really overlapped
}

// Releases on one thread wake waiters queued on the other: a wake-up that comes before the
// waiter starts waiting must not be lost (it used to hang a snapshot download now and then).
BOOST_FIXTURE_TEST_CASE(waiters_on_two_threads_are_all_woken, client_fixture) {
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.pool.per_host = 1;
    client c(ioc.get_executor(), cfg);
    std::atomic<int> ok{0}, failed{0};
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 100; ++i)
            asio::co_spawn(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")),
                           [&](std::exception_ptr e, http_response r) { (e || r.body != small) ? ++failed : ++ok; });
        ioc.restart();
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        std::thread other([&] { ioc.run_until(deadline); });
        ioc.run_until(deadline);
        other.join();
        BOOST_REQUIRE_MESSAGE(ok + failed == 100 * (round + 1), "round " << round << ": requests left waiting");
    }
    BOOST_TEST(failed == 0);
    BOOST_TEST(c.stats().peak_open == 1u);
}

BOOST_FIXTURE_TEST_CASE(cancelling_a_request_waiting_for_a_slot, client_fixture, *boost::unit_test::label("timing")) {
    faults(R"({"rules":[{"listener":"api","method":"GET","match":"slow","nth":1,"stall_ms":1500}]})");
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.pool.per_host = 1;
    client c(ioc.get_executor(), cfg);
    // The first request holds the only slot for 1.5 s; the second waits for it and is cancelled.
    bool first_done = false;
    asio::co_spawn(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt?slow"), false),
                   [&](std::exception_ptr, http_response) { first_done = true; });
    asio::cancellation_signal cancel;
    std::exception_ptr second;
    std::chrono::steady_clock::time_point finished;
    asio::co_spawn(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, http_response) {
                       second = e;
                       finished = std::chrono::steady_clock::now();
                   }));
    asio::steady_timer t(ioc, std::chrono::milliseconds(200));
    std::chrono::steady_clock::time_point cancelled;
    t.async_wait([&](auto) {
        cancelled = std::chrono::steady_clock::now();
        cancel.emit(asio::cancellation_type::terminal);
    });
    hfhub::test::run_all(ioc);
    BOOST_TEST(first_done);
    BOOST_REQUIRE(static_cast<bool>(second));
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(finished - cancelled).count() < 100);
    BOOST_TEST(hfhub::test::error_of([&] { std::rethrow_exception(second); }) == make_error_code(client_errc::cancelled));
    auto r = run(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")));
    BOOST_TEST(r.body == small);
}

BOOST_FIXTURE_TEST_CASE(token_is_dropped_on_the_cross_origin_redirect, client_fixture) {
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);
    std::string got;
    auto r = run(ioc, c.co_stream(get(srv.url() + "/alice/c/resolve/main/big.bin"), string_sink(got)));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.url.starts_with(srv.storage_url()));
    BOOST_TEST((got == big));
    bool api_authorized = false, storage_seen = false, storage_authorized = false;
    for (auto& e : log()) {
        if (e.at("listener") == "api" && e.at("status") == 302) api_authorized = e.at("authorized").as_bool();
        if (e.at("listener") == "storage" && e.at("method") == "GET") {
            storage_seen = true;
            storage_authorized |= e.at("authorized").as_bool();
        }
    }
    BOOST_TEST(api_authorized);
    BOOST_TEST(storage_seen);
    BOOST_TEST(!storage_authorized);
}

BOOST_FIXTURE_TEST_CASE(three_503s_then_success, client_fixture) {
    faults(R"({"rules":[{"match":"/small.txt","nth":1,"times":3,"status":503}]})");
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(srv.url()));
    auto r = run(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == small);
    int n503 = 0;
    for (auto& e : log()) n503 += e.at("status") == 503;
    BOOST_TEST(n503 == 3);
}

BOOST_FIXTURE_TEST_CASE(retries_give_up_with_the_server_error, client_fixture) {
    faults(R"({"rules":[{"match":"/small.txt","times":0,"status":503}]})");
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.retry.max_retries = 2;
    client c(ioc.get_executor(), cfg);
    try {
        run(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")));
        BOOST_FAIL("expected an error");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == hub_errc::server_error));
        BOOST_TEST(e.diag().status == 503u);
        BOOST_TEST(!e.diag().request_id.empty());
    }
}

BOOST_FIXTURE_TEST_CASE(a_post_is_not_retried, client_fixture) {
    faults(R"({"rules":[{"match":"/preupload/","nth":1,"status":503}]})");
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);
    http_request r;
    r.method = "POST";
    r.url = srv.url() + "/api/models/alice/c/preupload/main";
    r.body = R"({"files":[]})";
    BOOST_CHECK_THROW(run(ioc, c.co_request(r)), hfhub::error);
    int posts = 0;
    for (auto& e : log()) posts += e.at("method") == "POST" && e.at("target").as_string().starts_with("/api/models/alice/c/preupload");
    BOOST_TEST(posts == 1);
}

BOOST_FIXTURE_TEST_CASE(retry_after_makes_the_client_wait, client_fixture) {
    faults(R"({"rules":[{"match":"/small.txt","nth":1,"retry_after":1}]})");
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(srv.url()));
    auto t0 = std::chrono::steady_clock::now();
    auto r = run(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")));
    auto waited = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.status == 200u);
    BOOST_TEST((waited >= std::chrono::milliseconds(950)));  // base delay is 10 ms: this is the hint
}

BOOST_FIXTURE_TEST_CASE(ratelimit_header_makes_the_client_wait, client_fixture) {
    faults(R"({"rules":[{"match":"/small.txt","nth":1,"ratelimit_reset":1}]})");
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(srv.url()));
    auto t0 = std::chrono::steady_clock::now();
    auto r = run(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(950)));
}

BOOST_FIXTURE_TEST_CASE(a_dropped_download_resumes_with_range, client_fixture) {
    faults(R"({"rules":[{"listener":"storage","method":"GET","nth":1,"drop_after_bytes":1000000}]})");
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(srv.url()));
    std::string got;
    auto r = run(ioc, c.co_stream(get(srv.url() + "/alice/c/resolve/main/big.bin"), string_sink(got)));
    BOOST_TEST(r.status == 206u);  // the resumed part
    BOOST_TEST(got.size() == big.size());
    BOOST_TEST((util::sha256_hex(got) == util::sha256_hex(big)));
    std::uint64_t storage_bytes = 0;
    int storage_gets = 0;
    for (auto& e : log())
        if (e.at("listener") == "storage" && e.at("method") == "GET") {
            storage_bytes += e.at("bytes").to_number<std::uint64_t>();
            ++storage_gets;
        }
    BOOST_TEST(storage_gets == 2);
    BOOST_TEST(storage_bytes == big.size());  // nothing fetched twice
}

BOOST_FIXTURE_TEST_CASE(cancellation_mid_transfer_is_prompt_and_the_pool_recovers, client_fixture, *boost::unit_test::label("timing")) {
    faults(R"({"rules":[{"listener":"storage","method":"GET","nth":1,"stall_ms":5000,"stall_after_bytes":65536}]})");
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(srv.url()));
    asio::cancellation_signal cancel;
    std::string got;
    std::exception_ptr result;
    bool done = false;
    bool cancel_sent = false;
    std::chrono::steady_clock::time_point cancelled_at, finished_at;
    body_sink sink{[&](std::span<const char> s) {
                       got.append(s.data(), s.size());
                       if (got.size() >= 65536 && !cancel_sent) {
                           cancel_sent = true;
                           // Mid-transfer: the rest is stalled on the server.
                           cancelled_at = std::chrono::steady_clock::now();
                           asio::post(ioc, [&] {
                               cancel.emit(asio::cancellation_type::terminal);
                           });
                       }
                   },
                   {}};
    asio::co_spawn(ioc, c.co_stream(get(srv.url() + "/alice/c/resolve/main/big.bin"), sink),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e, http_response) {
                       result = e;
                       done = true;
                       finished_at = std::chrono::steady_clock::now();
                   }));
    hfhub::test::run_all(ioc);
    BOOST_TEST_REQUIRE(done);
    BOOST_TEST_REQUIRE(static_cast<bool>(result));
    try {
        std::rethrow_exception(result);
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == client_errc::cancelled));
    }
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(finished_at - cancelled_at).count() < 100);
    // Nothing is left in use, and the cancelled storage connection was closed, not pooled:
    // only the API connection of the redirect stays idle.
    BOOST_TEST(c.stats().open == c.stats().idle);
    BOOST_TEST(c.stats().open == 1u);
    auto r = run(ioc, c.co_request(get(srv.url() + "/alice/c/resolve/main/small.txt")));
    BOOST_TEST(r.body == small);
}

BOOST_FIXTURE_TEST_CASE(errors_map_from_the_hub_codes, client_fixture) {
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    client c(ioc.get_executor(), cfg);
    auto expect = [&](const std::string& path, std::error_code want) {
        try {
            run(ioc, c.co_request(get(srv.url() + path)));
            BOOST_FAIL("expected an error for " << path);
        } catch (const hfhub::error& e) {
            BOOST_TEST(e.code() == want, path << ": " << e.what());
            BOOST_TEST(std::string(e.what()).find(alice_token) == std::string::npos);
            // The server's words, apart from anything the client adds.
            BOOST_TEST(!e.diag().server_message.empty(), path);
            BOOST_TEST(e.diag().client_message.empty(), path << ": " << e.diag().client_message);
            BOOST_TEST(e.diag().status >= 400u);  // 401 for a missing repo when anonymous, as on the Hub
        }
    };
    expect("/alice/c/resolve/main/missing.txt", hub_errc::entry_not_found);
    expect("/alice/c/resolve/nobranch/small.txt", hub_errc::revision_not_found);
    expect("/alice/nope/resolve/main/small.txt", hub_errc::repo_not_found);
}

BOOST_FIXTURE_TEST_CASE(relative_only_mode_returns_the_lfs_redirect, client_fixture) {
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(srv.url()));
    http_request r = get(srv.url() + "/alice/c/resolve/main/big.bin");
    r.method = "HEAD";
    r.redirects = follow_redirects::relative_only;
    auto resp = run(ioc, c.co_request(r));
    BOOST_TEST(resp.status == 302u);
    BOOST_TEST(std::string(resp.header("X-Linked-Size").value_or("")) == std::to_string(big.size()));
    BOOST_TEST(std::string(resp.header("X-Linked-Etag").value_or("")) == "\"" + util::sha256_hex(big) + "\"");
}

BOOST_FIXTURE_TEST_CASE(uploads_stream_from_a_file, client_fixture) {
    // A file body goes through pread, never loaded whole: PUT it to the storage origin.
    temp_dir d;
    auto path = d.path() / "obj.bin";
    std::string data = random_bytes(3 << 20, 11);
    { std::ofstream(path, std::ios::binary) << data; }
    std::string sha = util::sha256_hex(data);
    json::object batch{{"operation", "upload"}, {"transfers", json::array{"basic"}},
                       {"objects", json::array{json::object{{"oid", sha}, {"size", data.size()}}}}};
    auto b = srv.post("/alice/c.git/info/lfs/objects/batch", json::serialize(batch), alice_token);
    std::string href = json::value_to<std::string>(json::parse(b.body).at("objects").at(0).at("actions").at("upload").at("href"));
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(srv.url()));
    http_request put;
    put.method = "PUT";
    put.url = href;
    put.body_file = file_range{path, 0, data.size()};
    auto r = run(ioc, c.co_request(put));
    BOOST_TEST(r.status == 200u);
    auto commit = srv.commit("models/alice/c", "main", {test_server::add_lfs("up.bin", sha, data.size())}, alice_token);
    BOOST_TEST(commit.status == 200u);
}

BOOST_AUTO_TEST_CASE(a_peer_closing_mid_upload_is_an_error_not_a_signal) {
    // A listener that takes the head and a little of the body, then resets the connection.
    int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    BOOST_TEST_REQUIRE(lfd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    BOOST_TEST_REQUIRE(::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_TEST_REQUIRE(::listen(lfd, 4) == 0);
    BOOST_TEST_REQUIRE(::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    std::thread peer([lfd] {
        for (int i = 0; i < 4; ++i) {  // the client may retry: refuse every attempt the same way
            int fd = ::accept(lfd, nullptr, nullptr);
            if (fd < 0) return;
            std::vector<char> buf(256 * 1024);
            (void)::recv(fd, buf.data(), buf.size(), MSG_WAITALL);
            linger lg{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            ::close(fd);
        }
    });
    temp_dir d;
    auto path = d.path() / "obj.bin";
    std::string data = random_bytes(64 << 20, 12);
    { std::ofstream(path, std::ios::binary) << data; }
    // With the default action a SIGPIPE from the kernel's send path would end this process.
    auto before = std::signal(SIGPIPE, SIG_DFL);
    asio::io_context ioc;
    auto cfg = quick_config("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
    cfg.retry.max_retries = 0;
    client c(ioc.get_executor(), cfg);
    http_request put;
    put.method = "PUT";
    put.url = cfg.endpoint + "/upload";
    put.body_file = file_range{path, 0, data.size()};
    BOOST_CHECK_THROW(run(ioc, c.co_request(put)), hfhub::error);
    std::signal(SIGPIPE, before);
    ::shutdown(lfd, SHUT_RDWR);
    ::close(lfd);
    peer.join();
}

BOOST_AUTO_TEST_CASE(user_agent_names_hfhub_and_the_calling_library) {
    asio::io_context ioc;
    config cfg;
    BOOST_TEST(client(ioc.get_executor(), cfg).user_agent().starts_with("hfhub/"));
    cfg.library_name = "mylib";
    cfg.library_version = "1.2";
    auto ua = client(ioc.get_executor(), cfg).user_agent();
    BOOST_TEST(ua.starts_with("hfhub/"));
    BOOST_TEST(ua.ends_with("; mylib/1.2"));
}

BOOST_AUTO_TEST_CASE(blocking_twin_from_another_thread) {
    client_fixture f(1024);
    asio::io_context ioc;
    auto guard = asio::make_work_guard(ioc);
    std::thread t([&] { ioc.run(); });
    client c(ioc.get_executor(), quick_config(f.srv.url()));
    auto r = c.request(get(f.srv.url() + "/alice/c/resolve/main/small.txt"));
    BOOST_TEST(r.body == f.small);
    guard.reset();
    ioc.stop();
    t.join();
}

BOOST_AUTO_TEST_SUITE_END()
