// Persistent connections: answers in order, Connection: close, and HEAD answers that leave
// the stream usable.
#include "transport_util.hpp"

#include <boost/test/unit_test.hpp>

#include <set>

using namespace hfhub::test;
using namespace hfhub::test::transport;
namespace json = boost::json;

BOOST_AUTO_TEST_SUITE(transport_keepalive)

BOOST_AUTO_TEST_CASE(sequential_requests_on_one_connection) {
    test_server s;
    make_repo_with_file(s, "k", "a.txt", "alpha");
    raw_conn c(s.url());
    std::set<std::string> ids;
    for (int i = 0; i < 5; ++i) {
        c.send(c.request("GET", "/alice/k/resolve/main/a.txt"));
        auto r = c.read_response();
        BOOST_TEST(r.status == 200u);
        BOOST_TEST(r.body == "alpha");
        BOOST_TEST(!r.header("Connection").has_value());
        ids.insert(r.header("X-Request-Id").value_or(""));
    }
    BOOST_TEST(ids.size() == 5u);  // one id per request
}

BOOST_AUTO_TEST_CASE(pipelined_requests_answer_in_order) {
    test_server s;
    make_repo_with_file(s, "k", "a.txt", "alpha");
    raw_conn c(s.url());
    std::string batch = c.request("GET", "/api/whoami-v2", {{"Authorization", bearer(alice_token)}}) +
                        c.request("GET", "/alice/k/resolve/main/a.txt") +
                        c.request("POST", "/api/validate-yaml", {{"Content-Type", "application/json"}},
                                  R"({"content":"a: 1\n","repoType":"model"})") +
                        c.request("GET", "/alice/k/resolve/main/missing.txt") +
                        c.request("GET", "/api/whoami-v2", {{"Authorization", bearer(bob_token)}});
    c.send(batch);
    auto r1 = c.read_response();
    BOOST_TEST(r1.status == 200u);
    BOOST_TEST(json::parse(r1.body).at("name") == "alice");
    auto r2 = c.read_response();
    BOOST_TEST(r2.body == "alpha");
    auto r3 = c.read_response();
    BOOST_TEST(r3.status == 200u, r3.body);
    auto r4 = c.read_response();
    BOOST_TEST(r4.status == 404u);
    auto r5 = c.read_response();
    BOOST_TEST(json::parse(r5.body).at("name") == "bob");
}

BOOST_AUTO_TEST_CASE(connection_close_closes_after_the_answer) {
    test_server s;
    raw_conn c(s.url());
    c.send(c.request("GET", "/api/whoami-v2", {{"Authorization", bearer(alice_token)}, {"Connection", "close"}}) +
           c.request("GET", "/api/whoami-v2", {{"Authorization", bearer(bob_token)}}));
    auto r = c.read_response();
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("Connection").value_or("") == "close");
    c.read_to_eof();
    BOOST_TEST(c.buf.empty());  // the second, pipelined request was not answered

    raw_conn old(s.url());  // HTTP/1.0 closes by default
    old.send("GET /api/whoami-v2 HTTP/1.0\r\nAuthorization: " + bearer(alice_token) + "\r\n\r\n");
    BOOST_TEST(old.read_response().status == 200u);
    old.read_to_eof();
}

BOOST_AUTO_TEST_CASE(head_answers_never_carry_a_body) {
    test_server s;
    make_repo_with_file(s, "k", "a.txt", "alpha");
    admin_set_faults(s, R"({"rules":[{"method":"HEAD","match":"fault","status":503}]})");
    raw_conn c(s.url());
    // A routed HEAD, a HEAD that errors inside the hub, a HEAD with an injected fault: then a GET
    // whose answer must parse cleanly.
    for (std::string path : {"/alice/k/resolve/main/a.txt", "/alice/nope/resolve/main/a.txt",
                             "/api/models/alice/nope", "/alice/k/resolve/main/a.txt?fault=1"}) {
        c.send(c.request("HEAD", path));
        auto r = c.read_response(true);
        BOOST_TEST(r.status >= 200u, path);
        c.send(c.request("GET", "/alice/k/resolve/main/a.txt"));
        auto g = c.read_response();
        BOOST_TEST(g.status == 200u, path);
        BOOST_TEST(g.body == "alpha", path);
    }
}

BOOST_AUTO_TEST_SUITE_END()
