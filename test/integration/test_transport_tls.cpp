// HTTPS on both origins with a certificate made at test time: trusted clients get answers and
// https redirects; untrusted CAs and wrong host names fail the handshake.
#include "transport_util.hpp"

#include "util/hash.hpp"

#include <boost/test/unit_test.hpp>

using namespace hfhub::test;
using namespace hfhub::test::transport;
namespace json = boost::json;

namespace {

// One CA and server certificate for the whole suite.
const test_pki& pki() {
    static temp_dir dir;
    static test_pki k = make_test_pki(dir.path());
    return k;
}

struct tls_server {
    test_server s{[](hfhub::server::options& o) {
        o.tls_cert = pki().server_cert;
        o.tls_key = pki().server_key;
    }};

    http_response call(const std::string& method, const std::string& url, const std::string& body = {},
                       header_pairs headers = {}, const std::string& token = {}) {
        if (!token.empty()) headers.emplace_back("Authorization", bearer(token));
        auto r = tls_request(pki().ca, method, url, body, headers);
        if (r.ec || !r.stage.empty())
            throw std::runtime_error("TLS " + method + " " + url + " failed at " + r.stage + ": " + r.ec.message());
        return r.res;
    }
    http_response api(const std::string& method, const std::string& path, const std::string& body = {},
                      const std::string& token = {}, header_pairs headers = {}) {
        return call(method, s.url() + path, body, std::move(headers), token);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_tls)

BOOST_AUTO_TEST_CASE(https_urls_and_trusted_client) {
    tls_server t;
    BOOST_TEST(t.s.url().starts_with("https://127.0.0.1:"));
    BOOST_TEST(t.s.storage_url().starts_with("https://127.0.0.1:"));
    auto who = t.api("GET", "/api/whoami-v2", {}, alice_token);
    BOOST_TEST(who.status == 200u);
    BOOST_TEST(json::parse(who.body).at("name") == "alice");
    // The certificate also names localhost.
    auto r = tls_request(pki().ca, "GET", t.s.url() + "/api/whoami-v2", {}, {{"Authorization", bearer(bob_token)}},
                         std::string("localhost"));
    BOOST_TEST(!r.ec, r.ec.message());
    BOOST_TEST(r.res.status == 200u);
}

BOOST_AUTO_TEST_CASE(resolve_and_lfs_redirect_over_https) {
    tls_server t;
    auto created = t.api("POST", "/api/repos/create", R"({"name":"t","organization":"alice","type":"model"})",
                         alice_token, {{"Content-Type", "application/json"}});
    BOOST_TEST_REQUIRE(created.status == 200u, created.body);

    std::string big = pattern_bytes(300000, 11);
    std::string sha = hfhub::util::sha256_hex(big);
    json::object batch{{"operation", "upload"},
                       {"transfers", json::array{"basic"}},
                       {"hash_algo", "sha256"},
                       {"objects", json::array{json::object{{"oid", sha}, {"size", big.size()}}}}};
    auto b = t.api("POST", "/alice/t.git/info/lfs/objects/batch", json::serialize(batch), alice_token,
                   {{"Content-Type", "application/vnd.git-lfs+json"}});
    BOOST_TEST_REQUIRE(b.status == 200u, b.body);
    auto href = json::value_to<std::string>(json::parse(b.body).at("objects").at(0).at("actions").at("upload").at("href"));
    BOOST_TEST_REQUIRE(href.starts_with(t.s.storage_url() + "/"));
    BOOST_TEST_REQUIRE(t.call("PUT", href, big).status == 200u);

    std::string ndjson = json::serialize(json::object{{"key", "header"}, {"value", json::object{{"summary", "s"}}}}) +
                         "\n" + test_server::add_file("small.txt", "tls!") + "\n" +
                         test_server::add_lfs("big.bin", sha, big.size()) + "\n";
    auto c = t.api("POST", "/api/models/alice/t/commit/main", ndjson, alice_token,
                   {{"Content-Type", "application/x-ndjson"}});
    BOOST_TEST_REQUIRE(c.status == 200u, c.body);

    auto small = t.api("GET", "/alice/t/resolve/main/small.txt");
    BOOST_TEST(small.status == 200u);
    BOOST_TEST(small.body == "tls!");
    auto red = t.api("GET", "/alice/t/resolve/main/big.bin");
    BOOST_TEST_REQUIRE(red.status == 302u);
    std::string loc = red.header("location");
    BOOST_TEST(loc.starts_with(t.s.storage_url() + "/"), loc);
    BOOST_TEST(loc.starts_with("https://"));
    auto bytes = t.call("GET", loc);
    BOOST_TEST(bytes.status == 200u);
    BOOST_TEST((bytes.body == big));
    auto part = t.call("GET", loc, {}, {{"Range", "bytes=10-19"}});
    BOOST_TEST(part.status == 206u);
    BOOST_TEST((part.body == big.substr(10, 10)));
}

BOOST_AUTO_TEST_CASE(untrusted_ca_fails_the_handshake) {
    tls_server t;
    auto r = tls_request(pki().other_ca, "GET", t.s.url() + "/api/whoami-v2");
    BOOST_TEST(r.stage == "handshake");
    BOOST_TEST((r.ec.category() == boost::asio::error::get_ssl_category()), r.ec.message());
    auto st = tls_request(pki().other_ca, "GET", t.s.storage_url() + "/lfs/x");
    BOOST_TEST(st.stage == "handshake");
    // The server shrugs it off.
    BOOST_TEST(t.api("GET", "/api/whoami-v2", {}, alice_token).status == 200u);
}

BOOST_AUTO_TEST_CASE(wrong_host_name_fails_the_handshake) {
    tls_server t;
    for (std::string name : {"example.com", "127.0.0.2"}) {
        auto r = tls_request(pki().ca, "GET", t.s.url() + "/api/whoami-v2", {}, {}, name);
        BOOST_TEST(r.stage == "handshake", name);
        BOOST_TEST((r.ec.category() == boost::asio::error::get_ssl_category()), name << ": " << r.ec.message());
    }
}

BOOST_AUTO_TEST_CASE(plain_http_on_a_tls_port_gets_nothing) {
    tls_server t;
    std::string http_url = "http://" + t.s.url().substr(std::string("https://").size());
    raw_conn c(http_url);
    c.send(c.request("GET", "/api/whoami-v2"));
    c.read_to_eof();
    BOOST_TEST(c.buf.find("HTTP/1.1 200") == std::string::npos);
    BOOST_TEST(t.api("GET", "/api/whoami-v2", {}, alice_token).status == 200u);
}

BOOST_AUTO_TEST_CASE(drop_after_bytes_over_tls) {
    tls_server t;
    auto f = t.api("POST", "/admin/faults", R"({"rules":[{"match":"whoami","drop_after_bytes":10}]})");
    BOOST_TEST_REQUIRE(f.status == 200u, f.body);
    auto r = tls_request(pki().ca, "GET", t.s.url() + "/api/whoami-v2", {}, {{"Authorization", bearer(alice_token)}});
    BOOST_TEST(r.stage == "read");  // a short body is an error, not a success
    BOOST_TEST(t.api("GET", "/api/whoami-v2", {}, alice_token).status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
