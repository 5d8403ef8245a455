// Request limits and timeouts: oversized headers and bodies, slow and silent clients,
// clients that stop reading, and 100-continue.
#include "transport_util.hpp"

#include "util/hash.hpp"

#include <boost/test/unit_test.hpp>

#include <thread>

using namespace hfhub::test;
using namespace hfhub::test::transport;
namespace json = boost::json;

namespace {

// The signed upload URL for `content` in alice/<repo> (created here).
std::string upload_href(test_server& s, const std::string& repo, const std::string& content) {
    s.create_repo("alice/" + repo, alice_token);
    json::object req{{"operation", "upload"},
                     {"transfers", json::array{"basic"}},
                     {"objects", json::array{json::object{{"oid", hfhub::util::sha256_hex(content)},
                                                          {"size", content.size()}}}}};
    auto r = s.post("/alice/" + repo + ".git/info/lfs/objects/batch", json::serialize(req), alice_token,
                    "application/vnd.git-lfs+json");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    return json::value_to<std::string>(json::parse(r.body).at("objects").at(0).at("actions").at("upload").at("href"));
}

std::string chunked(const std::string& body) {
    std::ostringstream os;
    os << std::hex << body.size() << "\r\n" << body << "\r\n0\r\n\r\n";
    return os.str();
}

unsigned whoami_status(test_server& s) { return s.get("/api/whoami-v2", alice_token).status; }

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_limits)

BOOST_AUTO_TEST_CASE(header_over_limit_gets_431) {
    test_server s([](hfhub::server::options& o) { o.max_header_bytes = 4096; });
    raw_conn ok(s.url());
    ok.send(ok.request("GET", "/api/whoami-v2",
                       {{"Authorization", bearer(alice_token)}, {"X-Pad", std::string(2000, 'a')}}));
    BOOST_TEST(ok.read_response().status == 200u);

    raw_conn big(s.url());
    big.send(big.request("GET", "/api/whoami-v2", {{"X-Pad", std::string(8000, 'a')}}));
    auto r = big.read_head();
    BOOST_TEST(r.status == 431u);
    BOOST_TEST(r.header("Connection").value_or("") == "close");
    big.read_to_eof();
    // The server goes on, including on the connection opened before.
    ok.send(ok.request("GET", "/api/whoami-v2", {{"Authorization", bearer(alice_token)}}));
    BOOST_TEST(ok.read_response().status == 200u);
    BOOST_TEST(whoami_status(s) == 200u);
}

BOOST_AUTO_TEST_CASE(api_body_over_limit_gets_413) {
    test_server s([](hfhub::server::options& o) { o.max_body_bytes = 1024; });
    std::string body(4096, ' ');
    auto sized = exchange(s.url() + "/api/validate-yaml", "POST", {{"Content-Type", "application/json"}}, body);
    BOOST_TEST(sized.status == 413u);

    // Without a Content-Length the limit applies while reading.
    raw_conn c(s.url());
    c.send(c.request("POST", "/api/validate-yaml",
                     {{"Transfer-Encoding", "chunked"}, {"Content-Type", "application/json"}}, chunked(body), false));
    BOOST_TEST(c.read_head().status == 413u);
    c.read_to_eof();

    // Under the limit is fine.
    auto r = s.post("/api/repos/create", R"({"name":"small","organization":"alice"})", alice_token);
    BOOST_TEST(r.status == 200u, r.body);
}

BOOST_AUTO_TEST_CASE(a_large_refused_body_still_gets_its_413) {
    // The client writes the whole 8 MB before reading: the server must drain rather than reset.
    test_server s([](hfhub::server::options& o) { o.max_body_bytes = 1024; });
    raw_conn c(s.url());
    c.send(c.request("POST", "/api/validate-yaml", {{"Content-Type", "application/json"}}, std::string(8 << 20, ' ')));
    BOOST_TEST(c.read_head().status == 413u);
    c.read_to_eof();
}

BOOST_AUTO_TEST_CASE(storage_requests_other_than_uploads_obey_max_body_bytes) {
    test_server s([](hfhub::server::options& o) { o.max_body_bytes = 1024; });
    std::string oid(64, 'a');
    auto r = exchange(s.storage_url() + "/multipart/" + oid + "/" + std::string(16, 'b') + "/complete?size=1&chunk=1",
                      "POST", {{"Content-Type", "application/json"}},
                      std::string(4096, ' '));
    BOOST_TEST(r.status == 413u);
}

BOOST_AUTO_TEST_CASE(upload_over_max_upload_bytes_gets_413) {
    test_server s([](hfhub::server::options& o) { o.max_upload_bytes = 1000; });
    std::string content = pattern_bytes(2000);
    std::string href = upload_href(s, "u", content);
    auto sized = exchange(href, "PUT", {}, content);
    BOOST_TEST(sized.status == 413u);
    raw_conn c(href);
    c.send(c.request("PUT", parse_url(href).target, {{"Transfer-Encoding", "chunked"}}, chunked(content), false));
    BOOST_TEST(c.read_head().status == 413u);
    c.read_to_eof();
    // Refused from the header alone: no 100 Continue first.
    raw_conn e(href);
    e.send("PUT " + parse_url(href).target + " HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2000\r\n\r\n");
    BOOST_TEST(e.read_head().status == 413u);
    // Nothing half-written is left behind.
    std::size_t leftovers = 0;
    for (auto& e : std::filesystem::directory_iterator(s.root() / "tmp"))
        leftovers += e.path().filename().string().starts_with("upload.");
    BOOST_TEST(leftovers == 0u);
}

BOOST_AUTO_TEST_CASE(slow_header_is_cut_off_without_blocking_others) {
    test_server s([](hfhub::server::options& o) { o.read_timeout = std::chrono::milliseconds(300); });
    raw_conn slow(s.url());
    auto t0 = clock_type::now();
    slow.send("GET /api/whoami-v2 HTTP/1.1\r\nHost: x\r\nAuthor");
    // Others are served meanwhile, on both listeners.
    BOOST_TEST(whoami_status(s) == 200u);
    BOOST_TEST(http_request("GET", s.storage_url() + "/lfs/x").status == 403u);
    slow.read_to_eof(3000ms);
    auto waited = ms_since(t0);
    BOOST_TEST(waited >= 250);
    BOOST_TEST(waited < 3000);
    BOOST_TEST(slow.buf.find("200") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(slow_body_and_idle_keep_alive_are_cut_off) {
    test_server s([](hfhub::server::options& o) { o.read_timeout = std::chrono::milliseconds(300); });
    raw_conn body(s.url());
    auto t0 = clock_type::now();
    body.send("POST /api/validate-yaml HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"con");
    body.read_to_eof(3000ms);
    BOOST_TEST(ms_since(t0) >= 250);
    BOOST_TEST(body.buf.empty());

    raw_conn idle(s.url());
    idle.send(idle.request("GET", "/api/whoami-v2", {{"Authorization", bearer(alice_token)}}));
    BOOST_TEST(idle.read_response().status == 200u);
    t0 = clock_type::now();
    idle.read_to_eof(3000ms);
    BOOST_TEST(ms_since(t0) >= 250);
    BOOST_TEST(idle.buf.empty());
}

BOOST_AUTO_TEST_CASE(client_that_stops_reading_is_dropped_after_write_timeout) {
    test_server s([](hfhub::server::options& o) { o.write_timeout = std::chrono::milliseconds(300); });
    std::string content = pattern_bytes(16 << 20, 5);  // more than the socket buffers hold
    std::string loc = make_repo_with_lfs(s, "big", "big.bin", content);
    raw_conn c(loc, 4096);
    auto t0 = clock_type::now();
    c.send(c.request("GET", parse_url(loc).target));
    // Wait (bounded) for the server to give up; its log line for the download marks that.
    auto download_line = [&]() -> std::optional<json::object> {
        for (auto& line : s.log_lines())
            if (line.find("\"/lfs/") != std::string::npos) return json::parse(line).as_object();
        return std::nullopt;
    };
    while (!download_line() && ms_since(t0) < 8000) std::this_thread::sleep_for(20ms);
    auto e = download_line();
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(ms_since(t0) >= 250);
    auto logged = e->at("bytes").to_number<std::uint64_t>();
    BOOST_TEST(logged < content.size());
    // What the kernel had accepted still arrives, then the stream ends short.
    auto head = c.read_head();
    BOOST_TEST(head.status == 200u);
    c.read_to_eof();
    BOOST_TEST(c.buf.size() < content.size());
    BOOST_TEST(c.buf.size() == logged);
    BOOST_TEST((c.buf == content.substr(0, c.buf.size())));
}

BOOST_AUTO_TEST_CASE(expect_100_continue_on_storage_put) {
    test_server s;
    std::string content = pattern_bytes(5000, 9);
    std::string href = upload_href(s, "c", content);
    raw_conn c(href);
    std::string req = c.request("PUT", parse_url(href).target, {{"Expect", "100-continue"}}, content);
    std::string head_only = req.substr(0, req.size() - content.size());
    c.send(head_only);
    auto interim = c.read_head();
    BOOST_TEST(interim.status == 100u);
    BOOST_TEST(c.buf.empty());  // nothing more until the body comes
    c.send(content);
    auto fin = c.read_response();
    BOOST_TEST(fin.status == 200u, fin.body);
    // The object is there.
    std::string sha = hfhub::util::sha256_hex(content);
    auto commit = s.commit("models/alice/c", "main", {test_server::add_lfs("x.bin", sha, content.size())}, alice_token);
    BOOST_TEST(commit.status == 200u, commit.body);
}

BOOST_AUTO_TEST_SUITE_END()
