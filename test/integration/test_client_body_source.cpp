// http_request::body_source: a PUT whose body is pulled in pieces lands byte for byte, a retry
// pulls it again from offset 0, and a failing or short source ends the request unretried.
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "test_server.hpp"

#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::error_of;
using hfhub::test::pattern_bytes;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

struct source_fixture {
    test_server srv;
    asio::io_context ioc;
    std::unique_ptr<client> c;
    std::vector<std::uint64_t> offsets;  // every offset the source was asked for, in order

    source_fixture() {
        srv.create_repo("alice/src", alice_token);
        c = std::make_unique<client>(ioc.get_executor(), quick_config(srv.url()));
    }

    // The basic upload URL the LFS batch hands out for `content`.
    std::string upload_href(const std::string& content) {
        json::object req{{"operation", "upload"},
                         {"transfers", json::array{"basic"}},
                         {"hash_algo", "sha256"},
                         {"objects", json::array{json::object{{"oid", util::sha256_hex(content)}, {"size", content.size()}}}}};
        auto r = srv.post("/alice/src.git/info/lfs/objects/batch", json::serialize(req), alice_token,
                          "application/vnd.git-lfs+json");
        BOOST_REQUIRE(r.status == 200);
        return json::value_to<std::string>(
            json::parse(r.body).at("objects").at(0).at("actions").at("upload").at("href"));
    }

    // A PUT of `content` through a source that hands out at most `piece` bytes per call.
    http_request put(const std::string& url, const std::string& content, std::size_t piece) {
        http_request r;
        r.method = "PUT";
        r.url = url;
        r.send_token = false;
        r.redirects = follow_redirects::none;
        r.body_source_length = content.size();
        r.body_source = [this, &content, piece](std::uint64_t off) -> asio::awaitable<std::string> {
            offsets.push_back(off);
            co_return content.substr(static_cast<std::size_t>(off), piece);
        };
        return r;
    }

    // The stored object's bytes, after a commit that points a file at it.
    std::string stored(const std::string& content) {
        auto sha = util::sha256_hex(content);
        auto cr = srv.commit("models/alice/src", "main", {test_server::add_lfs("o.bin", sha, content.size())},
                             alice_token);
        BOOST_REQUIRE(cr.status == 200);
        auto r = srv.get("/alice/src/resolve/main/o.bin", alice_token);
        if (r.status == 302) r = hfhub::test::http_request("GET", r.header("location"), {}, {});
        BOOST_REQUIRE(r.status == 200);
        return r.body;
    }

    std::size_t count_log(const std::string& method, const std::string& needle) {
        std::size_t n = 0;
        for (auto& line : srv.log_lines()) {
            auto v = json::parse(line).as_object();
            if (v.at("method").as_string() == method &&
                std::string_view(v.at("target").as_string()).find(needle) != std::string_view::npos)
                ++n;
        }
        return n;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(client_body_source)

BOOST_FIXTURE_TEST_CASE(put_from_a_source_stores_every_byte, source_fixture) {
    std::string content = pattern_bytes(3 * 1000 * 1000 + 17, 7);
    auto href = upload_href(content);
    auto resp = run(ioc, c->co_request(put(href, content, 1 << 20)));
    BOOST_TEST(resp.status == 200u);
    // Asked in order, one piece after the other, from 0.
    std::vector<std::uint64_t> want{0, 1u << 20, 2u << 20};
    BOOST_TEST(offsets == want, boost::test_tools::per_element());
    BOOST_TEST((stored(content) == content));
}

BOOST_FIXTURE_TEST_CASE(a_retry_pulls_the_body_again_from_zero, source_fixture) {
    std::string content = pattern_bytes(2 * 1000 * 1000 + 3, 9);
    auto href = upload_href(content);
    auto r = srv.post("/admin/faults",
                      R"({"rules":[{"listener":"storage","method":"PUT","match":"/upload/","nth":1,"times":1,"status":503}]})");
    BOOST_REQUIRE(r.status == 200);
    auto resp = run(ioc, c->co_request(put(href, content, 768 * 1024)));
    BOOST_TEST(resp.status == 200u);
    // The second attempt starts over at 0 and reads the whole body again.
    auto zeros = std::count(offsets.begin(), offsets.end(), 0u);
    BOOST_TEST(zeros == 2);
    BOOST_TEST(offsets.back() == 2u * 768 * 1024);
    BOOST_TEST((stored(content) == content));
    // Counted after later requests: the server logs a request once its answer is out.
    BOOST_TEST(count_log("PUT", "/upload/") == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_failing_source_ends_the_request_unretried, source_fixture) {
    std::string content = pattern_bytes(1 << 20, 3);
    auto href = upload_href(content);
    http_request req = put(href, content, 256 * 1024);
    req.body_source = [this](std::uint64_t off) -> asio::awaitable<std::string> {
        offsets.push_back(off);
        if (off > 0) throw hfhub::error(hub_errc::entry_not_found, {404, "GET", "http://src/x", "", "gone"});
        co_return std::string(256 * 1024, 'x');
    };
    BOOST_TEST(error_of([&] { run(ioc, c->co_request(req)); }) == make_error_code(hub_errc::entry_not_found));
    BOOST_TEST(offsets.size() == 2u);  // no second attempt

    // A source that stops early is a protocol error, not a short body on the wire.
    offsets.clear();
    http_request short_req = put(href, content, 256 * 1024);
    short_req.body_source = [](std::uint64_t off) -> asio::awaitable<std::string> {
        co_return off == 0 ? std::string(1000, 'y') : std::string();
    };
    BOOST_TEST(error_of([&] { run(ioc, c->co_request(short_req)); }) == make_error_code(client_errc::protocol_error));

    // The object is still absent, then lands with a good source on the same client.
    auto resp = run(ioc, c->co_request(put(href, content, 300 * 1000)));
    BOOST_TEST(resp.status == 200u);
    BOOST_TEST((stored(content) == content));
}

BOOST_AUTO_TEST_SUITE_END()
