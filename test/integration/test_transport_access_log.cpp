// The access log: one JSON object per request with the body bytes actually sent, and never a
// token. Requests go through `exchange`, which waits for the server's close, so the line for
// a request is on disk when it returns.
#include "transport_util.hpp"

#include <boost/test/unit_test.hpp>

using namespace hfhub::test;
using namespace hfhub::test::transport;
namespace json = boost::json;

namespace {

std::vector<json::object> entries(const test_server& s) {
    std::vector<json::object> out;
    for (auto& line : s.log_lines()) {
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        BOOST_TEST_REQUIRE(!ec, "not JSON: " << line);
        BOOST_TEST_REQUIRE(v.is_object(), line);
        out.push_back(v.as_object());
    }
    return out;
}

const json::object& last_for(const std::vector<json::object>& es, std::string_view target_part) {
    for (auto it = es.rbegin(); it != es.rend(); ++it)
        if (json::value_to<std::string>(it->at("target")).find(target_part) != std::string::npos) return *it;
    throw std::runtime_error("no log line for " + std::string(target_part));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_access_log)

BOOST_AUTO_TEST_CASE(fields_and_byte_counts) {
    test_server s;
    std::string content = pattern_bytes(3000);
    make_repo_with_file(s, "f", "a.bin", content);
    std::string base = s.url() + "/alice/f/resolve/main/a.bin";

    auto g = exchange(base + "?x=1");
    BOOST_TEST(g.status == 200u);
    auto h = exchange(base + "?x=2", "HEAD", {{"Authorization", bearer(alice_token)}});
    BOOST_TEST(h.status == 200u);
    BOOST_TEST(h.content_length() == 3000u);
    auto r = exchange(base + "?x=3", "GET", {{"Range", "bytes=100-599"}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body.size() == 500u);
    auto missing = exchange(s.url() + "/alice/f/resolve/main/nope.txt?x=4");
    BOOST_TEST(missing.status == 404u);

    auto es = entries(s);
    for (auto& e : es) {
        for (auto key : {"listener", "method", "target", "status", "bytes", "authorized", "duration_ms"})
            BOOST_TEST(e.contains(key), key << " missing in " << json::serialize(e));
        BOOST_TEST(e.at("duration_ms").to_number<double>() >= 0.0);
    }
    auto& eg = last_for(es, "x=1");
    BOOST_TEST(eg.at("listener") == "api");
    BOOST_TEST(eg.at("method") == "GET");
    BOOST_TEST(eg.at("target") == "/alice/f/resolve/main/a.bin?x=1");
    BOOST_TEST(eg.at("status").to_number<int>() == 200);
    BOOST_TEST(eg.at("bytes").to_number<std::uint64_t>() == 3000u);
    BOOST_TEST(eg.at("authorized") == false);
    auto& eh = last_for(es, "x=2");
    BOOST_TEST(eh.at("method") == "HEAD");
    BOOST_TEST(eh.at("bytes").to_number<std::uint64_t>() == 0u);
    BOOST_TEST(eh.at("authorized") == true);
    auto& er = last_for(es, "x=3");
    BOOST_TEST(er.at("status").to_number<int>() == 206);
    BOOST_TEST(er.at("bytes").to_number<std::uint64_t>() == 500u);
    auto& em = last_for(es, "x=4");
    BOOST_TEST(em.at("status").to_number<int>() == 404);
    BOOST_TEST(em.at("bytes").to_number<std::uint64_t>() == missing.body.size());
}

BOOST_AUTO_TEST_CASE(storage_listener_and_dropped_response) {
    test_server s;
    std::string content = pattern_bytes(50000, 3);
    std::string loc = make_repo_with_lfs(s, "l", "w.bin", content);
    auto full = exchange(loc);
    BOOST_TEST(full.status == 200u);
    BOOST_TEST((full.body == content));
    auto es = entries(s);
    auto& e = last_for(es, "/lfs/");
    BOOST_TEST(e.at("listener") == "storage");
    BOOST_TEST(e.at("method") == "GET");
    BOOST_TEST(e.at("bytes").to_number<std::uint64_t>() == content.size());
    BOOST_TEST(e.at("authorized") == false);
    auto& put = last_for(es, "/upload/");
    BOOST_TEST(put.at("listener") == "storage");
    BOOST_TEST(put.at("method") == "PUT");
    BOOST_TEST(put.at("status").to_number<int>() == 200);

    admin_set_faults(s, R"({"rules":[{"listener":"storage","drop_after_bytes":777}]})");
    auto dropped = exchange(loc);  // the URL is signed: nothing can be appended to mark it
    BOOST_TEST(dropped.body.size() == 777u);
    auto after = entries(s);
    auto& d = last_for(after, "/lfs/");
    BOOST_TEST(d.at("bytes").to_number<std::uint64_t>() == 777u);
    BOOST_TEST(d.at("status").to_number<int>() == 200);
}

BOOST_AUTO_TEST_CASE(authorized_flag_and_no_token_in_the_log) {
    test_server s;
    make_repo_with_file(s, "f", "a.txt", "hi");
    auto who = exchange(s.url() + "/api/whoami-v2?t=1", "GET", {{"Authorization", bearer(alice_token)}});
    BOOST_TEST(who.status == 200u);
    auto bad = exchange(s.url() + "/api/whoami-v2?t=2", "GET", {{"Authorization", bearer(bob_token + "x")}});
    BOOST_TEST(bad.status == 401u);
    auto anon = exchange(s.url() + "/api/whoami-v2?t=3");
    BOOST_TEST(anon.status == 401u);
    // A token in a rejected header must not leak either.
    auto big = exchange(s.url() + "/api/whoami-v2?t=4", "GET",
                        {{"Authorization", bearer(bob_token)}, {"X-Pad", std::string(100000, 'p')}});
    BOOST_TEST(big.status == 431u);

    auto es = entries(s);
    BOOST_TEST(last_for(es, "t=1").at("authorized") == true);
    BOOST_TEST(last_for(es, "t=2").at("authorized") == true);  // present, even if wrong
    BOOST_TEST(last_for(es, "t=3").at("authorized") == false);
    std::string text = read_text(s.access_log());
    BOOST_TEST(!text.empty());
    for (auto& secret : {alice_token, bob_token, std::string("Bearer")})
        BOOST_TEST(text.find(secret) == std::string::npos, secret << " appears in the access log");
    BOOST_TEST(text.back() == '\n');  // whole lines only
}

BOOST_AUTO_TEST_SUITE_END()
