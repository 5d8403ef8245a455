// Download counts, as the Hub keeps them: a model's from requests (GET and HEAD) for its
// default query files, a dataset's once per client per 5 minutes; `downloads` covers the last
// 30 days, `downloadsAllTime` (only through expand) all of them. They live with the repo.
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "test_server.hpp"

#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::must_commit;
using hfhub::test::pattern_bytes;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
using hfhub::test::user_config;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::int64_t day = 86400;
// Noon UTC of some day, so hours can be added without crossing into the next.
constexpr std::int64_t t0 = 1'700'000'000 / day * day + day / 2;

// A server whose clock the test sets, and a client with a cache of its own.
struct dl_fixture {
    std::shared_ptr<std::atomic<std::int64_t>> now = std::make_shared<std::atomic<std::int64_t>>(t0);
    temp_dir root;
    std::unique_ptr<test_server> s;
    temp_dir cache;
    asio::io_context ioc;
    std::unique_ptr<client> c;

    dl_fixture() {
        start();
        s->create_repo("alice/m", alice_token);
        std::string weights = pattern_bytes(3000, 5);
        std::string sha = s->upload_lfs("alice/m", weights, alice_token);
        must_commit(*s, "models/alice/m", "main",
                    {test_server::add_file("config.json", R"({"a":1})"), test_server::add_file("README.md", "hi"),
                     test_server::add_file("params.json", "{}"), test_server::add_file("sub/config.json", "{}"),
                     test_server::add_file("config.json.bak", "{}"),
                     test_server::add_lfs("weights.bin", sha, weights.size())});
        BOOST_TEST_REQUIRE(s->post("/api/models/alice/m/tag/main", R"({"tag":"v1"})", alice_token).status == 200u);
    }

    // (Re)starts the server on the same store.
    void start() {
        c.reset();
        s.reset();
        auto clock = now;
        s = std::make_unique<test_server>([this, clock](server::options& o) {
            o.root = root.path() / "store";
            o.clock = [clock] { return std::chrono::system_clock::time_point(std::chrono::seconds(clock->load())); };
        });
        c = std::make_unique<client>(ioc.get_executor(), user_config(s->url(), alice_token, cache.path()));
    }

    repo_metadata info(const std::string& id = "alice/m", std::vector<std::string> expand = {},
                       repo_type type = repo_type::model) {
        repo_info_query q;
        q.type = type;
        q.expand = std::move(expand);
        return run(ioc, co_repo_info(*c, id, std::move(q)));
    }
    void download(const std::string& file, repo_type type = repo_type::model, const std::string& id = "alice/m") {
        download_options o;
        o.force_download = true;
        o.type = type;
        run(ioc, co_hf_hub_download(*c, id, file, std::move(o)));
    }
    // Served (status < 400) resolves of alice/m's config.json at any revision, as the access
    // log has them.
    std::size_t served_configs() {
        std::size_t n = 0;
        const std::string prefix = "/alice/m/resolve/", file = "/config.json";
        for (auto& line : s->log_lines()) {
            auto o = json::parse(line).as_object();
            std::string target(o.at("target").as_string());
            std::string path = target.substr(0, target.find('?'));
            if (o.at("listener").as_string() == "api" && path.starts_with(prefix) && path.ends_with(file) &&
                path.find('/', prefix.size()) == path.size() - file.size() &&
                o.at("status").to_number<unsigned>() < 400)
                ++n;
        }
        return n;
    }
    unsigned get(const std::string& path, const std::string& range = {}) {
        test::header_pairs h;
        if (!range.empty()) h.emplace_back("Range", range);
        return s->send("GET", path, "", alice_token, h).status;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(download_counts)

BOOST_FIXTURE_TEST_CASE(every_get_and_head_of_config_json_is_a_download, dl_fixture) {
    auto before = info();
    BOOST_TEST((before.downloads == std::optional<std::uint64_t>(0)));
    BOOST_TEST(!before.downloads_all_time.has_value());  // only when expanded, as on the Hub

    for (int i = 0; i < 3; ++i) download("config.json");
    for (int i = 0; i < 2; ++i) BOOST_TEST(run(ioc, co_file_exists(*c, "alice/m", "config.json")));  // HEAD
    std::size_t by_library = served_configs();
    BOOST_TEST(by_library >= 5u);  // one or more requests per call, each a download

    // Ranges, other revisions (a tag, a commit), HEAD: each request counts once.
    std::string head = hfhub::test::head_of(*s, "models/alice/m");
    BOOST_TEST(get("/alice/m/resolve/main/config.json", "bytes=0-1") == 206u);
    BOOST_TEST(get("/alice/m/resolve/v1/config.json") == 200u);
    BOOST_TEST(get("/alice/m/resolve/" + head + "/config.json") == 200u);
    BOOST_TEST(s->head("/alice/m/resolve/main/config.json", alice_token).status == 200u);
    std::uint64_t expected = by_library + 4;

    auto m = info();
    BOOST_TEST((m.downloads == std::optional<std::uint64_t>(expected)));
    BOOST_TEST(!m.downloads_all_time.has_value());
    BOOST_TEST(!m.sha.empty());

    auto both = info("alice/m", {"downloads", "downloadsAllTime"});
    BOOST_TEST(both.id == "alice/m");
    BOOST_TEST(both.sha.empty());  // only what was asked for
    BOOST_TEST((both.downloads == std::optional<std::uint64_t>(expected)));
    BOOST_TEST((both.downloads_all_time == std::optional<std::uint64_t>(expected)));
    auto all = info("alice/m", {"downloadsAllTime"});
    BOOST_TEST(!all.downloads.has_value());
    BOOST_TEST((all.downloads_all_time == std::optional<std::uint64_t>(expected)));

    // On the wire, for any client: numbers, and only the expanded keys.
    auto r = s->get("/api/models/alice/m?expand%5B%5D=downloads&expand%5B%5D=downloadsAllTime", alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u);
    auto o = json::parse(r.body).as_object();
    BOOST_TEST(o.at("downloads").to_number<std::uint64_t>() == expected);
    BOOST_TEST(o.at("downloadsAllTime").to_number<std::uint64_t>() == expected);
    BOOST_TEST(!o.contains("sha"));
    o = json::parse(s->get("/api/models/alice/m/revision/v1", alice_token).body).as_object();
    BOOST_TEST(o.at("downloads").to_number<std::uint64_t>() == expected);
    BOOST_TEST(!o.contains("downloadsAllTime"));
}

BOOST_FIXTURE_TEST_CASE(only_the_default_query_files_count, dl_fixture) {
    download("README.md");
    download("weights.bin");  // LFS: the resolve redirects to the storage origin
    download("sub/config.json");
    download("config.json.bak");
    BOOST_TEST(get("/alice/m/raw/main/config.json") == 200u);     // the git view, not a download
    BOOST_TEST(get("/alice/m/resolve/main/config.yaml") == 404u);  // not in the repo
    BOOST_TEST(get("/alice/m/resolve/nope/config.json") == 404u);  // no such revision
    BOOST_TEST(get("/alice/m/resolve/main/config.json", "bytes=100-") == 416u);
    BOOST_TEST((info().downloads == std::optional<std::uint64_t>(0)));
    // params.json is one of the Hub's defaults too.
    BOOST_TEST(get("/alice/m/resolve/main/params.json") == 200u);
    BOOST_TEST((info("alice/m", {"downloadsAllTime"}).downloads_all_time == std::optional<std::uint64_t>(1)));
}

BOOST_FIXTURE_TEST_CASE(counts_outlive_a_restart_follow_a_move_and_go_with_a_delete, dl_fixture) {
    for (int i = 0; i < 3; ++i) BOOST_TEST(get("/alice/m/resolve/main/config.json") == 200u);
    start();
    BOOST_TEST((info().downloads == std::optional<std::uint64_t>(3)));
    BOOST_TEST(get("/alice/m/resolve/main/config.json") == 200u);
    auto mv = s->post("/api/repos/move", R"({"fromRepo":"alice/m","toRepo":"acme/m2"})", alice_token);
    BOOST_TEST_REQUIRE(mv.status == 200u);
    BOOST_TEST((info("acme/m2", {"downloads", "downloadsAllTime"}).downloads_all_time == std::optional<std::uint64_t>(4)));
    BOOST_TEST(get("/acme/m2/resolve/main/config.json") == 200u);
    start();
    BOOST_TEST((info("acme/m2").downloads == std::optional<std::uint64_t>(5)));

    auto del = s->send("DELETE", "/api/repos/delete", R"({"name":"acme/m2"})", alice_token);
    BOOST_TEST_REQUIRE(del.status == 200u);
    s->create_repo("acme/m2", alice_token);
    must_commit(*s, "models/acme/m2", "main", {test_server::add_file("config.json", "{}")});
    auto fresh = info("acme/m2", {"downloads", "downloadsAllTime"});
    BOOST_TEST((fresh.downloads == std::optional<std::uint64_t>(0)));
    BOOST_TEST((fresh.downloads_all_time == std::optional<std::uint64_t>(0)));
}

BOOST_FIXTURE_TEST_CASE(downloads_cover_the_last_30_days, dl_fixture) {
    auto counts = [&] {
        auto m = info("alice/m", {"downloads", "downloadsAllTime"});
        return std::make_pair(m.downloads.value_or(999), m.downloads_all_time.value_or(999));
    };
    using p = std::pair<std::uint64_t, std::uint64_t>;
    for (int i = 0; i < 2; ++i) BOOST_TEST(get("/alice/m/resolve/main/config.json") == 200u);  // day 0
    *now = t0 + 10 * day;
    BOOST_TEST(get("/alice/m/resolve/main/config.json") == 200u);  // day 10
    BOOST_TEST((counts() == p{3, 3}));
    *now = t0 + 29 * day + day / 2 - 1;  // the last second of day 29: day 0 is still in
    BOOST_TEST((counts() == p{3, 3}));
    *now = t0 + 30 * day;
    BOOST_TEST((counts() == p{1, 3}));
    start();  // the days are kept, not only the sums
    BOOST_TEST((counts() == p{1, 3}));
    *now = t0 + 40 * day;
    BOOST_TEST((counts() == p{0, 3}));
}

BOOST_FIXTURE_TEST_CASE(a_dataset_counts_once_per_client_per_5_minutes, dl_fixture) {
    s->create_repo("alice/ds", alice_token, false, "dataset");
    must_commit(*s, "datasets/alice/ds", "main",
                {test_server::add_file("a.csv", "1"), test_server::add_file("b.csv", "2")});
    auto downloads = [&] { return info("alice/ds", {}, repo_type::dataset).downloads; };
    BOOST_TEST((downloads() == std::optional<std::uint64_t>(0)));
    download("a.csv", repo_type::dataset, "alice/ds");
    download("b.csv", repo_type::dataset, "alice/ds");
    BOOST_TEST(s->head("/datasets/alice/ds/resolve/main/a.csv", alice_token).status == 200u);
    BOOST_TEST((downloads() == std::optional<std::uint64_t>(1)));
    *now = t0 + 299;
    BOOST_TEST(get("/datasets/alice/ds/resolve/main/a.csv") == 200u);
    BOOST_TEST((downloads() == std::optional<std::uint64_t>(1)));
    *now = t0 + 300;
    BOOST_TEST(get("/datasets/alice/ds/resolve/main/b.csv") == 200u);
    BOOST_TEST((downloads() == std::optional<std::uint64_t>(2)));
    // A model's counts are its own.
    BOOST_TEST((info().downloads == std::optional<std::uint64_t>(0)));
}

BOOST_FIXTURE_TEST_CASE(spaces_report_no_downloads, dl_fixture) {
    s->create_repo("alice/sp", alice_token, false, "space");
    must_commit(*s, "spaces/alice/sp", "main", {test_server::add_file("config.json", "{}")});
    BOOST_TEST(get("/spaces/alice/sp/resolve/main/config.json") == 200u);
    auto m = info("alice/sp", {}, repo_type::space);
    BOOST_TEST(!m.downloads.has_value());
    BOOST_TEST(!m.downloads_all_time.has_value());
    // As on the Hub, a Space has no such property to expand.
    BOOST_TEST(s->get("/api/spaces/alice/sp?expand=downloads", alice_token).status == 400u);
}

BOOST_AUTO_TEST_SUITE_END()
