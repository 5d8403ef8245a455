// The client over TLS (a test CA made here) and through a real proxy (tinyproxy).
#include "client_util.hpp"
#include "test_server.hpp"

#include "util/hash.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::string_sink;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// A CA, and a server certificate it signed for the given subjectAltName.
struct test_pki {
    temp_dir dir;
    fs::path ca, cert, key;
    explicit test_pki(const std::string& san) {
        auto d = dir.path().string();
        ca = dir.path() / "ca.pem";
        cert = dir.path() / "server.pem";
        key = dir.path() / "server.key";
        std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        int rc = sh("cd " + d + " && openssl req -x509 " + ec + " -keyout ca.key -out ca.pem -days 2 -subj '/CN=hfhub test CA' 2>/dev/null" +
                    " && openssl req " + ec + " -keyout server.key -out server.csr -subj '/CN=hfhub test server' 2>/dev/null" +
                    " && printf 'subjectAltName=" + san + "\\nbasicConstraints=CA:FALSE\\n' > ext.cnf" +
                    " && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf 2>/dev/null");
        if (rc != 0) throw std::runtime_error("openssl failed to make test certificates");
    }
};

std::uint16_t free_port() {
    asio::io_context ioc;
    asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

// tinyproxy in the foreground on a free port, optionally with Basic auth; killed on scope exit.
struct tinyproxy {
    temp_dir dir;
    std::uint16_t port = free_port();
    pid_t pid = -1;
    explicit tinyproxy(const std::string& basic_auth = {}) {
        auto conf = dir.path() / "tinyproxy.conf";
        std::ofstream(conf) << "Port " << port << "\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 30\nMaxClients 64\n"
                            << "LogLevel Error\nLogFile \"" << (dir.path() / "log").string() << "\"\n"
                            << "DisableViaHeader Yes\n" << (basic_auth.empty() ? "" : "BasicAuth " + basic_auth + "\n");
        std::string c = conf.string();
        const char* argv[] = {"tinyproxy", "-d", "-c", c.c_str(), nullptr};
        if (posix_spawnp(&pid, "tinyproxy", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
            throw std::runtime_error("cannot start tinyproxy (is it installed?)");
        // Ready once it accepts connections.
        for (int i = 0; i < 200; ++i) {
            asio::io_context ioc;
            asio::ip::tcp::socket s(ioc);
            boost::system::error_code ec;
            s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
            if (!ec) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        throw std::runtime_error("tinyproxy did not start listening");
    }
    ~tinyproxy() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, nullptr, 0);
        }
    }
    std::string url(const std::string& userinfo = {}) const {
        return "http://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" + std::to_string(port);
    }
};

// Sets up alice/p through the hfhub client itself, so it works over TLS too.
struct repo_with_files {
    std::string small = "through the proxy\n";
    std::string big = std::string(300000, 'z');
    repo_with_files(test_server& s, const std::optional<fs::path>& ca = {}) {
        asio::io_context ioc;
        auto cfg = quick_config(s.url());
        cfg.token = alice_token;
        cfg.ca_bundle = ca;
        client c(ioc.get_executor(), cfg);
        auto post = [&](const std::string& path, const std::string& body, const char* type) {
            http_request r;
            r.method = "POST";
            r.url = s.url() + path;
            r.body = body;
            r.headers = {{"Content-Type", type}};
            return run(ioc, c.co_request(r));
        };
        post("/api/repos/create", R"({"name":"p","organization":"alice"})", "application/json");
        std::string sha = hfhub::util::sha256_hex(big);
        auto batch = post("/alice/p.git/info/lfs/objects/batch",
                          R"({"operation":"upload","transfers":["basic"],"objects":[{"oid":")" + sha +
                              R"(","size":)" + std::to_string(big.size()) + "}]}",
                          "application/vnd.git-lfs+json");
        auto href = boost::json::value_to<std::string>(
            boost::json::parse(batch.body).at("objects").at(0).at("actions").at("upload").at("href"));
        http_request put;
        put.method = "PUT";
        put.url = href;
        put.body = big;
        run(ioc, c.co_request(put));
        std::string ndjson = boost::json::serialize(boost::json::object{{"key", "header"}, {"value", {{"summary", "files"}}}}) +
                             "\n" + test_server::add_file("small.txt", small) + "\n" +
                             test_server::add_lfs("big.bin", sha, big.size()) + "\n";
        post("/api/models/alice/p/commit/main", ndjson, "application/x-ndjson");
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(client_tls)

BOOST_AUTO_TEST_CASE(https_with_the_test_ca) {
    test_pki pki("IP:127.0.0.1,DNS:localhost");
    test_server srv([&](server::options& o) {
        o.tls_cert = pki.cert;
        o.tls_key = pki.key;
    });
    BOOST_TEST_REQUIRE(srv.url().starts_with("https://"));
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.ca_bundle = pki.ca;
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);
    http_request r;
    r.url = srv.url() + "/api/whoami-v2";
    auto resp = run(ioc, c.co_request(r));
    BOOST_TEST(resp.status == 200u);
    BOOST_TEST(resp.body.find("\"alice\"") != std::string::npos);
    // By name as well as by IP: the certificate carries both. Another origin to the client, so
    // a client whose endpoint names it (the token goes to the endpoint's origin only).
    auto by_name = cfg;
    by_name.endpoint = "https://localhost:" + srv.url().substr(srv.url().rfind(':') + 1);
    client named(ioc.get_executor(), by_name);
    r.url = by_name.endpoint + "/api/whoami-v2";
    BOOST_TEST(run(ioc, named.co_request(r)).status == 200u);
}

BOOST_AUTO_TEST_CASE(unknown_ca_is_rejected) {
    test_pki pki("IP:127.0.0.1");
    test_server srv([&](server::options& o) {
        o.tls_cert = pki.cert;
        o.tls_key = pki.key;
    });
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(srv.url()));  // the system store: no test CA
    http_request r;
    r.url = srv.url() + "/api/whoami-v2";
    try {
        run(ioc, c.co_request(r));
        BOOST_FAIL("an unknown CA must be rejected");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == client_errc::tls_error));
        BOOST_TEST(std::string(e.what()).find("127.0.0.1") != std::string::npos);
    }
}

// The trust store is loaded on the first https connection: a bad bundle doesn't stop plain
// http, and https then fails typed, naming the bundle.
BOOST_AUTO_TEST_CASE(a_missing_ca_bundle_fails_https_only) {
    test_server plain;
    test_pki pki("IP:127.0.0.1");
    test_server tls([&](server::options& o) {
        o.tls_cert = pki.cert;
        o.tls_key = pki.key;
    });
    asio::io_context ioc;
    auto cfg = quick_config(tls.url());
    cfg.ca_bundle = pki.ca.parent_path() / "no-such-bundle.pem";
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);
    http_request r;
    // Another origin than the endpoint: no token goes there, so the answer is 401, but it is
    // an answer over plain http.
    r.url = plain.url() + "/api/whoami-v2";
    BOOST_TEST(run(ioc, c.co_request(r, false)).status == 401u);
    r.url = tls.url() + "/api/whoami-v2";
    try {
        run(ioc, c.co_request(r));
        BOOST_FAIL("a trust store that can't be loaded must fail the request");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == client_errc::tls_error));
        BOOST_TEST(std::string(e.what()).find("no-such-bundle.pem") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(wrong_hostname_is_rejected) {
    test_pki pki("IP:127.0.0.1");  // no DNS name
    test_server srv([&](server::options& o) {
        o.tls_cert = pki.cert;
        o.tls_key = pki.key;
    });
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.ca_bundle = pki.ca;
    client c(ioc.get_executor(), cfg);
    http_request r;
    r.url = "https://localhost:" + srv.url().substr(srv.url().rfind(':') + 1) + "/api/whoami-v2";
    try {
        run(ioc, c.co_request(r));
        BOOST_FAIL("a certificate for another name must be rejected");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == client_errc::tls_error));
        BOOST_TEST(std::string(e.what()).find("localhost") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(https_keep_alive_and_the_pool_cap) {
    test_pki pki("IP:127.0.0.1");
    test_server srv([&](server::options& o) {
        o.tls_cert = pki.cert;
        o.tls_key = pki.key;
    });
    repo_with_files repo(srv, pki.ca);
    http_request r;
    r.url = srv.url() + "/alice/p/resolve/main/small.txt";

    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.ca_bundle = pki.ca;
    client sequential(ioc.get_executor(), cfg);
    for (int i = 0; i < 20; ++i) BOOST_TEST(run(ioc, sequential.co_request(r)).body == repo.small);
    BOOST_TEST(sequential.stats().opened == 1u);  // one TLS handshake for 20 requests
    BOOST_TEST(sequential.stats().reused == 19u);

    cfg.pool.per_host = 8;
    client parallel(ioc.get_executor(), cfg);
    int ok = 0;
    for (int i = 0; i < 100; ++i)
        asio::co_spawn(ioc, parallel.co_request(r), [&](std::exception_ptr e, http_response resp) {
            ok += !e && resp.body == repo.small;
        });
    ioc.restart();
    hfhub::test::run_all(ioc);
    BOOST_TEST(ok == 100);
    BOOST_TEST(parallel.stats().peak_open <= 8u);
    BOOST_TEST(parallel.stats().opened >= 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(client_proxy)

BOOST_AUTO_TEST_CASE(http_through_tinyproxy_with_auth) {
    test_server srv;
    repo_with_files repo(srv);
    tinyproxy proxy("hfuser hfpass");
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.proxies.http = proxy.url("hfuser:hfpass");
    client c(ioc.get_executor(), cfg);
    http_request r;
    r.url = srv.url() + "/alice/p/resolve/main/small.txt";
    BOOST_TEST(run(ioc, c.co_request(r)).body == repo.small);
    // The proxy really is in the path: without credentials it refuses, and that is the proxy's
    // error, not the Hub's, even when the caller reads Hub errors itself.
    r.proxies = proxy_config{proxy.url(), "", ""};
    for (bool throw_on_error : {true, false}) {
        try {
            run(ioc, c.co_request(r, throw_on_error));
            BOOST_ERROR("a 407 went through");
        } catch (const hfhub::error& e) {
            BOOST_TEST(e.code() == make_error_code(client_errc::proxy_error));
            BOOST_TEST(e.diag().status == 407u);
        }
    }
}

BOOST_AUTO_TEST_CASE(https_through_tinyproxy_connect) {
    test_pki pki("IP:127.0.0.1");
    test_server srv([&](server::options& o) {
        o.tls_cert = pki.cert;
        o.tls_key = pki.key;
    });
    repo_with_files repo(srv, pki.ca);
    tinyproxy proxy;
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.ca_bundle = pki.ca;
    cfg.proxies.https = proxy.url();
    client c(ioc.get_executor(), cfg);
    std::string got;
    http_request r;
    r.url = srv.url() + "/alice/p/resolve/main/big.bin";  // API, then the storage origin, both tunnelled
    auto resp = run(ioc, c.co_stream(r, string_sink(got)));
    BOOST_TEST(resp.status == 200u);
    BOOST_TEST((got == repo.big));
    BOOST_TEST(c.stats().opened == 2u);  // one tunnel per origin
}

BOOST_AUTO_TEST_CASE(no_proxy_goes_direct_and_a_per_call_proxy_wins) {
    test_server srv;
    repo_with_files repo(srv);
    asio::io_context ioc;
    auto cfg = quick_config(srv.url());
    cfg.proxies.http = "http://127.0.0.1:" + std::to_string(free_port());  // nothing listens there
    cfg.proxies.no_proxy = "localhost,127.0.0.1";
    cfg.retry.max_retries = 0;
    client c(ioc.get_executor(), cfg);
    http_request r;
    r.url = srv.url() + "/alice/p/resolve/main/small.txt";
    BOOST_TEST(run(ioc, c.co_request(r)).body == repo.small);
    // The same dead proxy without NO_PROXY, given per call: the request fails.
    r.proxies = proxy_config{cfg.proxies.http, "", ""};
    BOOST_CHECK_THROW(run(ioc, c.co_request(r)), hfhub::error);
}

BOOST_AUTO_TEST_SUITE_END()
