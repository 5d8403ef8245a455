// Xet downloads, the pure part: signals from resolve, reconstruction parsing (v1 and v2), which
// range holds each term, range headers, and the chunk cache.
#include "download/chunk_cache.hpp"
#include "download/xet_plan.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

using namespace hfhub::download;
namespace fs = std::filesystem;

namespace {

const std::string X1(64, 'a'), X2(64, 'b'), F(64, 'c');

std::optional<xet_reconstruction> parse(const std::string& body) {
    std::string why;
    auto r = parse_reconstruction(body, why);
    BOOST_TEST_MESSAGE(why);
    return r;
}

bool rejected(const std::string& body) {
    std::string why;
    auto r = parse_reconstruction(body, why);
    return !r && !why.empty();
}

// Three terms (X1 [1,4), X2 [0,3), X1 [3,43)) the way the spec's example gives them.
std::string v2_example() {
    return R"({"offset_into_first_range":0,"terms":[
      {"hash":")" + X1 + R"(","unpacked_length":100,"range":{"start":1,"end":4}},
      {"hash":")" + X2 + R"(","unpacked_length":50,"range":{"start":0,"end":3}},
      {"hash":")" + X1 + R"(","unpacked_length":1000,"range":{"start":3,"end":43}}],
     "xorbs":{")" + X1 + R"(":[{"url":"http://s/x1?sig","ranges":[{"chunks":{"start":1,"end":43},"bytes":{"start":10,"end":999}}]}],
              ")" + X2 + R"(":[{"url":"http://s/x2?sig","ranges":[{"chunks":{"start":0,"end":3},"bytes":{"start":0,"end":49}}]}]}})";
}

struct temp_dir {
    fs::path dir;
    temp_dir() {
        std::random_device rd;
        dir = fs::temp_directory_path() / ("hfhub-chunk-cache-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(dir);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_download_plan)

BOOST_AUTO_TEST_CASE(signals_from_resolve) {
    const std::string link = "<http://h/api/models/a/b/xet-read-token/c1>; rel=\"xet-auth\", <http://s/v1/reconstructions/" + F +
                             ">; rel=\"xet-reconstruction-info\"";
    auto s = read_xet_signal(F, link, std::nullopt);
    BOOST_TEST_REQUIRE(s.has_value());
    BOOST_TEST(s->file_hash == F);
    BOOST_TEST(s->refresh_url == "http://h/api/models/a/b/xet-read-token/c1");
    // The header form when no Link names it.
    auto r = read_xet_signal(std::string(64, 'C'), std::nullopt, std::string_view("/api/models/a/b/xet-read-token/c1"));
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->file_hash == std::string(64, 'c'));  // lower-cased
    BOOST_TEST(r->refresh_url == "/api/models/a/b/xet-read-token/c1");
    BOOST_TEST(!read_xet_signal(std::nullopt, link, std::nullopt));             // no hash
    BOOST_TEST(!read_xet_signal(F, std::nullopt, std::nullopt));                // no route
    BOOST_TEST(!read_xet_signal(std::string(63, 'a'), link, std::nullopt));     // malformed hash
    BOOST_TEST(!read_xet_signal(F, "<http://x>; rel=\"next\"", std::nullopt));  // another rel
}

BOOST_AUTO_TEST_CASE(link_rels) {
    BOOST_TEST(link_with_rel("<a>; rel=\"next\", <b>; rel=\"xet-auth\"", "xet-auth").value_or("") == "b");
    BOOST_TEST(link_with_rel("<a>;rel=xet-auth", "xet-auth").value_or("") == "a");
    BOOST_TEST(link_with_rel("<a>; title=\"x, y\"; rel=\"other xet-auth\"", "xet-auth").value_or("") == "a");
    BOOST_TEST(!link_with_rel("<a>; rel=\"xet-authx\"", "xet-auth"));
    BOOST_TEST(!link_with_rel("garbage", "xet-auth"));
}

BOOST_AUTO_TEST_CASE(v2_terms_find_their_ranges) {
    auto r = parse(v2_example());
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->terms.size() == 3u);
    BOOST_TEST(r->fetches.size() == 2u);
    BOOST_TEST(r->total == 1150u);
    // File offsets follow the terms' lengths.
    BOOST_TEST(r->terms[0].file_offset == 0u);
    BOOST_TEST(r->terms[1].file_offset == 100u);
    BOOST_TEST(r->terms[2].file_offset == 150u);
    // Both X1 terms come from the one X1 range: it is fetched once.
    BOOST_TEST(r->fetches[r->terms[0].fetch].xorb == X1);
    BOOST_TEST(r->terms[0].fetch == r->terms[2].fetch);
    BOOST_TEST(r->terms[0].range == r->terms[2].range);
    BOOST_TEST(r->fetches[r->terms[1].fetch].xorb == X2);
    BOOST_TEST(used_ranges(*r, r->terms[0].fetch).size() == 1u);
    BOOST_TEST(range_header(r->fetches[r->terms[0].fetch], {0}) == "bytes=10-999");
}

BOOST_AUTO_TEST_CASE(v2_several_ranges_in_one_request) {
    std::string body = R"({"terms":[
      {"hash":")" + X1 + R"(","unpacked_length":10,"range":{"start":0,"end":2}},
      {"hash":")" + X1 + R"(","unpacked_length":20,"range":{"start":5,"end":7}}],
     "xorbs":{")" + X1 + R"(":[{"url":"http://s/x1","ranges":[
        {"chunks":{"start":0,"end":2},"bytes":{"start":0,"end":99}},
        {"chunks":{"start":5,"end":7},"bytes":{"start":300,"end":420}}]}]}})";
    auto r = parse(body);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->fetches.size() == 1u);
    BOOST_TEST(r->terms[0].range == 0u);
    BOOST_TEST(r->terms[1].range == 1u);
    auto used = used_ranges(*r, 0);
    BOOST_TEST(used.size() == 2u);
    BOOST_TEST(range_header(r->fetches[0], used) == "bytes=0-99,300-420");
}

BOOST_AUTO_TEST_CASE(v1_fetch_info) {
    std::string body = R"({"offset_into_first_range":0,"terms":[
      {"hash":")" + X1 + R"(","unpacked_length":10,"range":{"start":0,"end":2}},
      {"hash":")" + X1 + R"(","unpacked_length":20,"range":{"start":5,"end":7}}],
     "fetch_info":{")" + X1 + R"(":[
        {"range":{"start":0,"end":2},"url":"http://s/a","url_range":{"start":0,"end":99}},
        {"range":{"start":5,"end":7},"url":"http://s/b","url_range":{"start":300,"end":420}}]}})";
    auto r = parse(body);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->fetches.size() == 2u);  // one URL per range: separate requests
    BOOST_TEST(r->fetches[r->terms[0].fetch].url == "http://s/a");
    BOOST_TEST(r->fetches[r->terms[1].fetch].url == "http://s/b");
    BOOST_TEST(r->fetches[r->terms[1].fetch].ranges[0].byte_start == 300u);
}

BOOST_AUTO_TEST_CASE(malformed_reconstructions) {
    const std::string ok_xorbs = R"("xorbs":{")" + X1 + R"(":[{"url":"http://s/x","ranges":[{"chunks":{"start":0,"end":4},"bytes":{"start":0,"end":9}}]}]})";
    auto term = [&](const std::string& h, int a, int b, int len) {
        return R"({"hash":")" + h + R"(","unpacked_length":)" + std::to_string(len) + R"(,"range":{"start":)" +
               std::to_string(a) + R"(,"end":)" + std::to_string(b) + "}}";
    };
    BOOST_TEST(parse(R"({"terms":[)" + term(X1, 0, 4, 5) + "]," + ok_xorbs + "}").has_value());
    BOOST_TEST(rejected("nope"));
    BOOST_TEST(rejected("[]"));
    BOOST_TEST(rejected(R"({"terms":[)" + term(X1, 0, 4, 5) + "]}"));                     // no fetches
    BOOST_TEST(rejected(R"({"terms":[)" + term(X1, 0, 5, 5) + "]," + ok_xorbs + "}"));    // past the range
    BOOST_TEST(rejected(R"({"terms":[)" + term(X2, 0, 1, 5) + "]," + ok_xorbs + "}"));    // no range of X2
    BOOST_TEST(rejected(R"({"terms":[)" + term(X1, 2, 2, 5) + "]," + ok_xorbs + "}"));    // empty
    BOOST_TEST(rejected(R"({"terms":[)" + term(X1, 0, 4, 0) + "]," + ok_xorbs + "}"));    // no length
    BOOST_TEST(rejected(R"({"terms":[)" + term("xyz", 0, 4, 5) + "]," + ok_xorbs + "}"));  // bad hash
    BOOST_TEST(rejected(R"({"offset_into_first_range":5,"terms":[)" + term(X1, 0, 4, 5) + "]," + ok_xorbs + "}"));
    BOOST_TEST(rejected(R"({"terms":[)" + term(X1, 0, 4, 5) + R"(],"xorbs":{")" + X1 +
                        R"(":[{"url":"ftp://s","ranges":[{"chunks":{"start":0,"end":4},"bytes":{"start":0,"end":9}}]}]}})"));
    BOOST_TEST(rejected(R"({"terms":[)" + term(X1, 0, 4, 5) + R"(],"xorbs":{")" + X1 +
                        R"(":[{"url":"http://s","ranges":[{"chunks":{"start":0,"end":4},"bytes":{"start":9,"end":0}}]}]}})"));
    // Ranges that overlap in one fetch.
    BOOST_TEST(rejected(R"({"terms":[)" + term(X1, 0, 4, 5) + R"(],"xorbs":{")" + X1 +
                        R"(":[{"url":"http://s","ranges":[{"chunks":{"start":0,"end":4},"bytes":{"start":0,"end":9}},)"
                        R"({"chunks":{"start":3,"end":6},"bytes":{"start":5,"end":19}}]}]}})"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(xet_chunk_cache)

BOOST_AUTO_TEST_CASE(eviction_choice_is_least_recently_used) {
    std::vector<cache_entry_info> e{{100, 30}, {100, 10}, {100, 20}, {100, 40}};
    auto out = choose_evictions(e, 250);  // 400 -> at most 250: two go, the oldest
    BOOST_TEST(out.size() == 2u);
    BOOST_TEST(out[0] == 1u);
    BOOST_TEST(out[1] == 2u);
    BOOST_TEST(choose_evictions(e, 400).empty());
    BOOST_TEST(choose_evictions(e, 0).size() == 4u);
}

BOOST_AUTO_TEST_CASE(put_get_cover_and_damage) {
    temp_dir t;
    chunk_cache c(t.dir, 1 << 20);
    BOOST_TEST(!c.get(X1, 0, 4));
    c.put(X1, 2, 10, "range-2-10");
    auto exact = c.get(X1, 2, 10);
    BOOST_TEST_REQUIRE(exact.has_value());
    BOOST_TEST(exact->bytes == "range-2-10");
    // A wider entry answers a narrower ask, saying what it holds.
    auto inner = c.get(X1, 3, 5);
    BOOST_TEST_REQUIRE(inner.has_value());
    BOOST_TEST(inner->chunk_start == 2u);
    BOOST_TEST(inner->chunk_end == 10u);
    BOOST_TEST(!c.get(X1, 1, 5));   // not covered
    BOOST_TEST(!c.get(X2, 2, 10));  // another xorb
    // A damaged entry is a miss, and is removed.
    fs::path p = t.dir / X1.substr(0, 2) / chunk_cache::entry_name(X1, 2, 10);
    {
        std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(-1, std::ios::end);
        f.put('X');
    }
    BOOST_TEST(!c.get(X1, 2, 10));
    BOOST_TEST(!fs::exists(p));
    c.put(X2, 0, 1, "x");
    c.remove(X2);
    BOOST_TEST(!c.get(X2, 0, 1));
    // Capacity 0: off.
    chunk_cache off(t.dir, 0);
    off.put(X1, 0, 1, "y");
    BOOST_TEST(!off.get(X1, 0, 1));
}

BOOST_AUTO_TEST_CASE(stays_within_its_bound) {
    temp_dir t;
    const std::string payload(1000, 'p');
    chunk_cache c(t.dir, 5000);
    for (std::uint32_t i = 0; i < 20; ++i) {
        c.put(X1, i, i + 1, payload);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // distinct mtimes
    }
    BOOST_TEST(c.measure() <= 5000u);
    BOOST_TEST(c.measure() > 3000u);  // it evicts what it must, not everything
    BOOST_TEST(c.get(X1, 19, 20).has_value());  // the newest stays
    BOOST_TEST(!c.get(X1, 0, 1).has_value());   // the oldest went
    // A second cache over the same folder (another process) respects the bound too.
    chunk_cache other(t.dir, 5000);
    for (std::uint32_t i = 0; i < 5; ++i) other.put(X2, i, i + 1, payload);
    BOOST_TEST(other.measure() <= 5000u);
    // An entry bigger than the bound is not stored at all.
    chunk_cache tiny(t.dir, 100);
    tiny.put(X2, 50, 51, payload);
    BOOST_TEST(!tiny.get(X2, 50, 51).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
