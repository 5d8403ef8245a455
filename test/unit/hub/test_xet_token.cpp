// Xet tokens: the refresh decision, the token route's URL, the reply's parsing, refresh URLs.
#include "hub/xet_token.hpp"

#include <hfhub/config.hpp>
#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <map>
#include <string>

using namespace hfhub;
using namespace hfhub::hub;
using namespace std::chrono_literals;
using sys = std::chrono::system_clock;

namespace {

sys::time_point at(std::int64_t unix_seconds) { return sys::time_point(std::chrono::seconds(unix_seconds)); }

xet_token token_until(std::int64_t exp) { return {"xet_abc", "http://cas.local", exp}; }

xet_token parse(const std::string& body) {
    http_request req;
    req.url = "http://hub.local/api/models/a/b/xet-read-token/main";
    http_response resp;
    resp.status = 200;
    resp.body = body;
    return parse_xet_token(req, resp);
}

bool protocol_error_on(const std::string& body) {
    try {
        parse(body);
    } catch (const hfhub::error& e) {
        return e.code() == client_errc::protocol_error;
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_token_unit)

BOOST_AUTO_TEST_CASE(refresh_decision) {
    const std::int64_t exp = 1'000'000;
    BOOST_TEST(xet_token_needs_refresh(std::nullopt, at(0)));                         // none yet
    BOOST_TEST(!xet_token_needs_refresh(token_until(exp), at(exp - 31)));             // fresh
    BOOST_TEST(xet_token_needs_refresh(token_until(exp), at(exp - 30)));              // inside the margin
    BOOST_TEST(xet_token_needs_refresh(token_until(exp), at(exp - 1)));
    BOOST_TEST(xet_token_needs_refresh(token_until(exp), at(exp + 100)));             // expired
    BOOST_TEST(!xet_token_needs_refresh(token_until(exp), at(exp - 5), 0s));          // no margin
    BOOST_TEST(xet_token_needs_refresh(token_until(exp), at(exp - 59), 60s));         // JS's margin
    xet_token empty = token_until(exp);
    empty.access_token.clear();
    BOOST_TEST(xet_token_needs_refresh(empty, at(0)));
    BOOST_TEST(xet_token_margin == 30s);
}

BOOST_AUTO_TEST_CASE(route_urls) {
    BOOST_TEST(xet_token_url("http://h:1", repo_type::model, "ns/m", xet_token_kind::read, "main") ==
               "http://h:1/api/models/ns/m/xet-read-token/main");
    BOOST_TEST(xet_token_url("http://h:1/", repo_type::dataset, "ns/d", xet_token_kind::write, "refs/pr/3") ==
               "http://h:1/api/datasets/ns/d/xet-write-token/refs%2Fpr%2F3");
    BOOST_TEST(xet_token_url("https://x", repo_type::space, "s", xet_token_kind::read, "v1.0") ==
               "https://x/api/spaces/s/xet-read-token/v1.0");
}

BOOST_AUTO_TEST_CASE(refresh_urls) {
    BOOST_TEST(absolute_refresh_url("http://h:1", "/api/models/a/b/xet-read-token/c") ==
               "http://h:1/api/models/a/b/xet-read-token/c");
    BOOST_TEST(absolute_refresh_url("http://h:1/", "https://huggingface.co/api/models/a/b/xet-read-token/c") ==
               "http://h:1/api/models/a/b/xet-read-token/c");
    BOOST_TEST(absolute_refresh_url("http://h:1", "https://huggingface.company/x") == "https://huggingface.company/x");
    BOOST_TEST(absolute_refresh_url("http://h:1", "http://other/x") == "http://other/x");
}

BOOST_AUTO_TEST_CASE(reply_parsing) {
    auto t = parse(R"({"accessToken":"xet_t","casUrl":"http://cas:9/","exp":1848535668})");
    BOOST_TEST(t.access_token == "xet_t");
    BOOST_TEST(t.cas_url == "http://cas:9");
    BOOST_TEST(t.exp == 1848535668);
    BOOST_TEST(parse(R"({"accessToken":"a","casUrl":"https://c","exp":1.5e9})").exp == 1500000000);
    BOOST_TEST(protocol_error_on(R"({"casUrl":"http://c","exp":1})"));
    BOOST_TEST(protocol_error_on(R"({"accessToken":"a","exp":1})"));
    BOOST_TEST(protocol_error_on(R"({"accessToken":"a","casUrl":"http://c"})"));
    BOOST_TEST(protocol_error_on(R"({"accessToken":"a","casUrl":"http://c","exp":"soon"})"));
    BOOST_TEST(protocol_error_on(R"({"accessToken":"","casUrl":"http://c","exp":1})"));
    BOOST_TEST(protocol_error_on(R"({"accessToken":"a","casUrl":"file:///etc","exp":1})"));
    BOOST_TEST(protocol_error_on(R"({"accessToken":"a\nb","casUrl":"http://c","exp":1})"));
    BOOST_TEST(protocol_error_on("[]"));
    BOOST_TEST(protocol_error_on("not json"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(xet_config_from_env)

namespace {
config load(const std::map<std::string, std::string, std::less<>>& env) {
    return config::from_env([&](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    });
}
}  // namespace

BOOST_AUTO_TEST_CASE(defaults_and_overrides) {
    auto d = load({{"HF_HOME", "/tmp/hfh"}});
    BOOST_TEST(d.xet.enabled);
    BOOST_TEST(d.xet.dedup);
    BOOST_TEST(d.xet.cache_dir == "/tmp/hfh/xet");
    BOOST_TEST(d.xet.chunk_cache_dir == "/tmp/hfh/xet/hfhub-chunk-cache");
    BOOST_TEST(d.xet.chunk_cache_size == 0u);  // off, as hf_xet's default build
    BOOST_TEST(!d.xet.verify_sha256);
    BOOST_TEST(d.xet.max_parallel == 8u);

    auto o = load({{"HF_HOME", "/tmp/hfh"},
                   {"HF_HUB_DISABLE_XET", "yes"},
                   {"HF_XET_DEDUPLICATION_GLOBAL_DEDUP_QUERY_ENABLED", "false"},
                   {"HF_XET_CACHE", "/var/x"},
                   {"HF_XET_CHUNK_CACHE_SIZE_BYTES", " 12345 "},
                   {"HF_XET_FIXED_DOWNLOAD_CONCURRENCY", "3"},
                   {"HFHUB_XET_VERIFY_SHA256", "1"}});
    BOOST_TEST(!o.xet.enabled);
    BOOST_TEST(!o.xet.dedup);
    BOOST_TEST(o.xet.cache_dir == "/var/x");
    BOOST_TEST(o.xet.chunk_cache_dir == "/var/x/hfhub-chunk-cache");
    BOOST_TEST(o.xet.chunk_cache_size == 12345u);
    BOOST_TEST(o.xet.max_parallel == 3u);
    BOOST_TEST(o.xet.verify_sha256);
}

BOOST_AUTO_TEST_CASE(python_truth_values_and_bad_numbers) {
    BOOST_TEST(!load({{"HF_HUB_DISABLE_XET", "TRUE"}}).xet.enabled);
    BOOST_TEST(!load({{"HF_HUB_DISABLE_XET", "1"}}).xet.enabled);
    BOOST_TEST(load({{"HF_HUB_DISABLE_XET", "0"}}).xet.enabled);
    BOOST_TEST(load({{"HF_HUB_DISABLE_XET", " 1"}}).xet.enabled);  // Python does not strip
    BOOST_TEST(load({{"HF_HUB_DISABLE_XET", ""}}).xet.enabled);
    BOOST_TEST(load({{"HF_XET_DEDUPLICATION_GLOBAL_DEDUP_QUERY_ENABLED", "maybe"}}).xet.dedup);
    BOOST_TEST(load({{"HF_XET_CHUNK_CACHE_SIZE_BYTES", "10000000000"}}).xet.chunk_cache_size == 10'000'000'000ull);
    BOOST_TEST(load({{"HF_XET_CHUNK_CACHE_SIZE_BYTES", "-5"}}).xet.chunk_cache_size == 0u);
    BOOST_TEST(load({{"HF_XET_CHUNK_CACHE_SIZE_BYTES", "10GB"}}).xet.chunk_cache_size == 0u);
    BOOST_TEST(!load({{"HFHUB_XET_VERIFY_SHA256", "maybe"}}).xet.verify_sha256);
    BOOST_TEST(load({{"HF_XET_FIXED_DOWNLOAD_CONCURRENCY", "0"}}).xet.max_parallel == 8u);
}

BOOST_AUTO_TEST_SUITE_END()
