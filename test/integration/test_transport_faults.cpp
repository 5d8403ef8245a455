// Fault injection through the admin route and --faults: statuses, counting, filters,
// rate-limit headers, stalls and dropped connections, on both listeners.
#include "transport_util.hpp"

#include "server/hub.hpp"

#include <boost/test/unit_test.hpp>

using namespace hfhub::test;
using namespace hfhub::test::transport;
namespace json = boost::json;

namespace {

std::vector<unsigned> statuses(test_server& s, const std::string& path, int n, const std::string& method = "GET") {
    std::vector<unsigned> out;
    for (int i = 0; i < n; ++i) out.push_back(s.send(method, path, {}).status);
    return out;
}

json::object rule_counters(test_server& s, std::size_t i) {
    auto r = s.get("/admin/faults");
    BOOST_TEST_REQUIRE(r.status == 200u);
    return json::parse(r.body).at("rules").at(i).as_object();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_faults)

BOOST_AUTO_TEST_CASE(three_503s_then_success) {
    test_server s;
    make_repo_with_file(s, "f", "a.txt", "hello");
    admin_set_faults(s, R"({"rules":[{"match":"/resolve/","status":503,"times":3}]})");
    auto got = statuses(s, "/alice/f/resolve/main/a.txt", 4);
    std::vector<unsigned> want{503, 503, 503, 200};
    BOOST_TEST(got == want, boost::test_tools::per_element());
    auto last = s.get("/alice/f/resolve/main/a.txt");
    BOOST_TEST(last.body == "hello");
    auto c = rule_counters(s, 0);
    BOOST_TEST(c.at("seen").as_int64() == 5);
    BOOST_TEST(c.at("fired").as_int64() == 3);
}

BOOST_AUTO_TEST_CASE(injected_error_looks_like_a_hub_error) {
    test_server s;
    admin_set_faults(s, R"({"rules":[{"match":"whoami","status":500,"headers":{"X-Error-Code":"Boom"}}]})");
    auto r = s.get("/api/whoami-v2", alice_token);
    BOOST_TEST(r.status == 500u);
    BOOST_TEST(r.header("x-error-code") == "Boom");
    BOOST_TEST(json::parse(r.body).at("error").is_string());
    BOOST_TEST(s.get("/api/whoami-v2", alice_token).status == 200u);
}

BOOST_AUTO_TEST_CASE(nth_and_times) {
    test_server s;
    admin_set_faults(s, R"({"rules":[{"match":"whoami","status":502,"nth":2,"times":2}]})");
    std::vector<unsigned> got;
    for (int i = 0; i < 5; ++i) got.push_back(s.get("/api/whoami-v2", alice_token).status);
    std::vector<unsigned> want{200, 502, 502, 200, 200};
    BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(times_zero_is_forever_and_delete_clears) {
    test_server s;
    admin_set_faults(s, R"({"rules":[{"status":503,"times":0}]})");  // matches everything
    std::vector<unsigned> got;
    for (int i = 0; i < 4; ++i) got.push_back(s.get("/api/whoami-v2", alice_token).status);
    BOOST_TEST(got == std::vector<unsigned>(4, 503u), boost::test_tools::per_element());
    // The admin route itself is exempt, or a catch-all rule could never be removed.
    BOOST_TEST(s.get("/admin/faults").status == 200u);
    BOOST_TEST(s.send("DELETE", "/admin/faults", {}).status == 200u);
    BOOST_TEST(s.get("/api/whoami-v2", alice_token).status == 200u);
    BOOST_TEST(json::parse(s.get("/admin/faults").body).at("rules").as_array().empty());
}

BOOST_AUTO_TEST_CASE(method_match_and_listener_filters) {
    test_server s;
    make_repo_with_file(s, "f", "a.txt", "hello");
    std::string loc = make_repo_with_lfs(s, "l", "w.bin", pattern_bytes(3000));
    admin_set_faults(s, R"({"rules":[
        {"method":"HEAD","match":"/resolve/","status":503,"times":0},
        {"match":"b.txt","status":504,"times":0},
        {"listener":"storage","method":"GET","status":500,"times":0}]})");
    BOOST_TEST(s.get("/alice/f/resolve/main/a.txt").status == 200u);   // GET: the HEAD rule skips it
    BOOST_TEST(s.head("/alice/f/resolve/main/a.txt").status == 503u);  // HEAD
    BOOST_TEST(s.get("/alice/f/resolve/main/b.txt").status == 504u);   // match
    BOOST_TEST(s.get("/alice/l/resolve/main/w.bin").status == 302u);   // API: not the storage rule
    BOOST_TEST(http_request("GET", loc).status == 500u);               // storage
    BOOST_TEST(http_request("HEAD", loc).status == 200u);
    BOOST_TEST(rule_counters(s, 2).at("fired").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(retry_after_and_ratelimit_headers) {
    test_server s;
    admin_set_faults(s, R"({"rules":[{"match":"whoami","retry_after":7},
                                     {"match":"/api/models","ratelimit_reset":3}]})");
    auto a = s.get("/api/whoami-v2", alice_token);
    BOOST_TEST(a.status == 429u);
    BOOST_TEST(a.header("retry-after") == "7");
    auto b = s.get("/api/models/alice/none", alice_token);
    BOOST_TEST(b.status == 429u);
    BOOST_TEST(b.header("ratelimit") == "\"api\";r=0;t=3");
    BOOST_TEST(b.has_header("ratelimit-policy"));
    BOOST_TEST(!b.has_header("retry-after"));
}

BOOST_AUTO_TEST_CASE(extra_headers_without_status) {
    test_server s;
    admin_set_faults(s, R"({"rules":[{"match":"whoami","headers":{"X-Injected":"yes"}}]})");
    auto r = s.get("/api/whoami-v2", alice_token);
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.header("x-injected") == "yes");
    BOOST_TEST(json::parse(r.body).at("name") == "alice");
}

BOOST_AUTO_TEST_CASE(stall_delays_the_answer) {
    test_server s;
    admin_set_faults(s, R"({"rules":[{"match":"whoami","stall_ms":400}]})");
    auto t0 = clock_type::now();
    auto r = s.get("/api/whoami-v2", alice_token);
    auto stalled = ms_since(t0);
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(stalled >= 400);
    BOOST_TEST(stalled < 5000);
    t0 = clock_type::now();
    BOOST_TEST(s.get("/api/whoami-v2", alice_token).status == 200u);  // times defaults to 1
    BOOST_TEST(ms_since(t0) < 400);
}

BOOST_AUTO_TEST_CASE(stall_after_bytes_sends_the_head_and_a_prefix_first) {
    test_server s;
    std::string content = pattern_bytes(5000);
    make_repo_with_file(s, "f", "a.bin", content);
    admin_set_faults(s, R"({"rules":[{"match":"a.bin","stall_ms":500,"stall_after_bytes":100}]})");
    raw_conn c(s.url());
    auto t0 = clock_type::now();
    c.send(c.request("GET", "/alice/f/resolve/main/a.bin"));
    auto head = c.read_head();
    BOOST_TEST(head.status == 200u);
    BOOST_TEST_REQUIRE(c.fill(100));
    BOOST_TEST(ms_since(t0) < 500);  // the prefix is not held back
    BOOST_TEST_REQUIRE(c.fill(content.size()));
    BOOST_TEST(ms_since(t0) >= 500);
    BOOST_TEST(c.buf == content);
}

BOOST_AUTO_TEST_CASE(drop_after_bytes_on_api_file) {
    test_server s;
    std::string content = pattern_bytes(10000);
    make_repo_with_file(s, "f", "a.bin", content);
    admin_set_faults(s, R"({"rules":[{"match":"a.bin","drop_after_bytes":1234}]})");
    raw_conn c(s.url());
    c.send(c.request("GET", "/alice/f/resolve/main/a.bin"));
    auto head = c.read_head();
    BOOST_TEST(head.status == 200u);
    BOOST_TEST(head.content_length() == 10000u);
    c.read_to_eof();
    BOOST_TEST(c.buf.size() == 1234u);
    BOOST_TEST((c.buf == content.substr(0, 1234)));
    // Only that one request was dropped.
    BOOST_TEST(s.get("/alice/f/resolve/main/a.bin").body == content);
}

BOOST_AUTO_TEST_CASE(drop_after_bytes_on_storage_download) {
    test_server s;
    std::string content = pattern_bytes(200000, 7);
    std::string loc = make_repo_with_lfs(s, "l", "w.bin", content);
    BOOST_TEST_REQUIRE(loc.starts_with(s.storage_url()));
    admin_set_faults(s, R"({"rules":[{"listener":"storage","match":"/lfs/","drop_after_bytes":4096}]})");
    raw_conn c(loc);
    c.send(c.request("GET", parse_url(loc).target));
    auto head = c.read_head();
    BOOST_TEST(head.status == 200u);
    BOOST_TEST(head.content_length() == content.size());
    c.read_to_eof();
    BOOST_TEST(c.buf.size() == 4096u);
    BOOST_TEST((c.buf == content.substr(0, 4096)));
    auto again = http_request("GET", loc);
    BOOST_TEST(again.status == 200u);
    BOOST_TEST((again.body == content));
}

BOOST_AUTO_TEST_CASE(faults_file_at_startup) {
    temp_dir d;
    auto file = d.path() / "faults.json";
    std::ofstream(file) << R"({"rules":[{"match":"whoami","status":503,"times":2}]})";
    test_server s([&](hfhub::server::options& o) { o.faults_file = file; });
    std::vector<unsigned> got;
    for (int i = 0; i < 3; ++i) got.push_back(s.get("/api/whoami-v2", alice_token).status);
    std::vector<unsigned> want{503, 503, 200};
    BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_faults_file_refuses_to_start) {
    temp_dir d;
    auto bad = d.path() / "bad.json";
    std::ofstream(bad) << R"({"rules":[{"stauts":503}]})";
    BOOST_CHECK_THROW(test_server([&](hfhub::server::options& o) { o.faults_file = bad; }), std::exception);
    auto missing = d.path() / "missing.json";
    try {
        test_server s([&](hfhub::server::options& o) { o.faults_file = missing; });
        BOOST_FAIL("a missing faults file was accepted");
    } catch (const std::exception& e) {
        BOOST_TEST(std::string(e.what()).find("missing.json") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(admin_rejects_bad_rules) {
    test_server s;
    BOOST_TEST(s.post("/admin/faults", "not json").status == 400u);
    BOOST_TEST(s.post("/admin/faults", R"({"rules":[{"nth":0}]})").status == 400u);
    BOOST_TEST(s.post("/admin/faults", R"({"rules":[{"bogus":1}]})").status == 400u);
    BOOST_TEST(s.post("/admin/faults", R"({"rules":[{"match":7}]})").status == 400u);
    BOOST_TEST(s.post("/admin/faults", R"({"rules":[{"headers":[1]}]})").status == 400u);
    BOOST_TEST(s.post("/admin/faults", R"({"rules":[{"times":4294967296}]})").status == 400u);  // not 0 = forever
    BOOST_TEST(s.post("/admin/faults", R"({"rules":[{"stall_ms":1.5}]})").status == 400u);
    // Nothing was installed.
    BOOST_TEST(json::parse(s.get("/admin/faults").body).at("rules").as_array().empty());
}

BOOST_AUTO_TEST_CASE(huge_times_does_not_wrap) {
    test_server s;
    admin_set_faults(s, R"({"rules":[{"match":"whoami","status":503,"nth":2,"times":4294967295}]})");
    std::vector<unsigned> got;
    for (int i = 0; i < 3; ++i) got.push_back(s.get("/api/whoami-v2", alice_token).status);
    std::vector<unsigned> want{200, 503, 503};
    BOOST_TEST(got == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(admin_route_is_loopback_only) {
    // No non-loopback source is available here, so drive the hub directly.
    temp_dir d;
    hfhub::server::hub h(d.path(), hfhub::server::authenticator(), hfhub::server::hub_config{});
    for (std::string method : {"GET", "POST", "DELETE"}) {
        hfhub::server::request req;
        req.method = method;
        req.target = req.path = "/admin/faults";
        req.body = R"({"rules":[]})";
        req.from_loopback = false;
        BOOST_TEST(h.handle(req).status == 404u, method);
        req.from_loopback = true;
        BOOST_TEST(h.handle(req).status == 200u, method);
    }
}

BOOST_AUTO_TEST_CASE(v4_mapped_loopback_counts_as_loopback) {
    // A dual-stack listener sees 127.0.0.1 as ::ffff:127.0.0.1.
    std::unique_ptr<test_server> s;
    try {
        s = std::make_unique<test_server>([](hfhub::server::options& o) { o.host = "::ffff:127.0.0.1"; });
    } catch (const std::exception& e) {
        BOOST_TEST_MESSAGE("no IPv6 here, skipped: " << e.what());
        return;
    }
    auto r = exchange(s->url() + "/admin/faults");
    BOOST_TEST(r.status == 200u, r.body);
}

BOOST_AUTO_TEST_SUITE_END()
