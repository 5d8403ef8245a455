// What scripts read from the CLI: `--format json` for download (results and typed errors), and
// every subcommand's --help, which must carry examples.
#include "hub_helpers.hpp"
#include "transport_util.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

using namespace hfhub::test;
using hfhub::test::transport::child_process;
using hfhub::test::transport::hfhub_binary;
using hfhub::test::transport::read_text;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

using strings = std::vector<std::string>;

struct run_result {
    int code = -1;
    std::string out, err;
};

run_result run_hfhub(strings args) {
    strings argv{"/usr/bin/env", "-u", "HF_TOKEN", "-u", "HF_ENDPOINT", "-u", "HF_HUB_OFFLINE", hfhub_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    child_process p(argv);
    run_result r;
    r.code = p.wait(30000ms).value_or(-1);
    r.out = p.rest_of_stdout();
    r.err = p.rest_of_stderr();
    return r;
}

// The whole of stdout must be exactly one JSON object on one line.
json::object one_object(const std::string& out) {
    BOOST_TEST_REQUIRE(!out.empty());
    BOOST_TEST(out.back() == '\n');
    BOOST_TEST(out.find('\n') == out.size() - 1, "more than one line: " << out);
    boost::system::error_code ec;
    auto v = json::parse(out, ec);
    BOOST_TEST_REQUIRE(!ec, "not JSON: " << out);
    BOOST_TEST_REQUIRE(v.is_object());
    return v.as_object();
}

struct json_fixture {
    test_server s;
    temp_dir cache;
    std::string commit;
    json_fixture() {
        s.create_repo("alice/j", alice_token);
        commit = must_commit(s, "models/alice/j", "main",
                             {test_server::add_file("config.json", "{\"a\": 1}"), test_server::add_file("w/x.txt", "x")});
    }
    strings common() const {
        return {"--endpoint", s.url(), "--token", alice_token, "--cache-dir", cache.path().string()};
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_output)

BOOST_FIXTURE_TEST_CASE(download_json_names_the_path_it_wrote, json_fixture) {
    strings a{"download", "alice/j", "config.json", "--format", "json"};
    auto c = common();
    a.insert(a.end(), c.begin(), c.end());
    auto r = run_hfhub(a);
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    auto o = one_object(r.out);
    fs::path path = json::value_to<std::string>(o.at("path"));
    BOOST_TEST(path == cache.path() / "models--alice--j" / "snapshots" / commit / "config.json");
    BOOST_TEST(read_text(path) == "{\"a\": 1}");
    BOOST_TEST(o.at("file").as_string() == "config.json");
    BOOST_TEST(o.at("repo_id").as_string() == "alice/j");
    BOOST_TEST(o.at("revision").as_string() == "main");

    // A snapshot names the folder.
    strings b{"download", "alice/j", "--format", "json"};
    b.insert(b.end(), c.begin(), c.end());
    auto r2 = run_hfhub(b);
    BOOST_TEST_REQUIRE(r2.code == 0, r2.err);
    auto o2 = one_object(r2.out);
    fs::path dir = json::value_to<std::string>(o2.at("path"));
    BOOST_TEST(dir == cache.path() / "models--alice--j" / "snapshots" / commit);
    BOOST_TEST(read_text(dir / "w" / "x.txt") == "x");
    BOOST_TEST(!o2.contains("file"));
}

BOOST_FIXTURE_TEST_CASE(download_json_errors_are_typed, json_fixture) {
    auto c = common();
    // A missing repo: the Hub's typed error, with the status.
    strings a{"download", "alice/nope", "config.json", "--format", "json"};
    a.insert(a.end(), c.begin(), c.end());
    auto r = run_hfhub(a);
    BOOST_TEST(r.code == 1);
    auto e = one_object(r.out).at("error").as_object();
    BOOST_TEST(e.at("code").as_string() == "repo_not_found");
    BOOST_TEST(e.at("category").as_string() == "hfhub.hub");
    BOOST_TEST(e.at("status").as_int64() == 404);
    BOOST_TEST(std::string(e.at("message").as_string()).find("alice/nope") != std::string::npos);
    BOOST_TEST(r.err.find("hfhub download:") != std::string::npos);  // humans still get stderr

    // Offline with an empty cache: a client error, no status.
    strings b{"download", "alice/j", "config.json", "--format", "json", "--local-files-only"};
    b.insert(b.end(), c.begin(), c.end());
    auto r2 = run_hfhub(b);
    BOOST_TEST(r2.code == 1);
    auto e2 = one_object(r2.out).at("error").as_object();
    BOOST_TEST(e2.at("code").as_string() == "local_entry_not_found");
    BOOST_TEST(e2.at("category").as_string() == "hfhub.client");
    BOOST_TEST(!e2.contains("status"));

    // A bad --format is a usage error, before any request.
    strings d{"download", "alice/j", "--format", "yaml"};
    d.insert(d.end(), c.begin(), c.end());
    auto r3 = run_hfhub(d);
    BOOST_TEST(r3.code == 2);
    BOOST_TEST(r3.out.empty());
    BOOST_TEST(r3.err.find("--format") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_subcommand_help_has_examples) {
    const std::vector<strings> commands{
        {"--help"},
        {"download", "--help"},
        {"upload", "--help"},
        {"commit", "--help"},
        {"mirror", "--help"},
        {"cache", "--help"},
        {"repo", "--help"},
        {"repo", "create", "--help"},
        {"repo", "delete", "--help"},
        {"repo", "branch", "create", "--help"},
        {"repo", "branch", "delete", "--help"},
        {"repo", "tag", "create", "--help"},
        {"repo", "tag", "delete", "--help"},
        {"repo", "settings", "--help"},
        {"whoami", "--help"},
        {"login", "--help"},
        {"logout", "--help"},
        {"serve", "--help"},
    };
    for (auto& cmd : commands) {
        std::string name;
        for (auto& w : cmd) name += w + " ";
        auto r = run_hfhub(cmd);
        BOOST_TEST(r.code == 0, name << r.err);
        BOOST_TEST(r.out.find("usage: hfhub") != std::string::npos, name);
        // An examples section with at least one command line under it.
        auto at = r.out.find("example");
        BOOST_TEST_REQUIRE(at != std::string::npos, name);
        bool has_line = r.out.find("\n  hfhub ", at) != std::string::npos ||
                        r.out.find("\n  HF_", at) != std::string::npos || r.out.find("\n  printf", at) != std::string::npos;
        BOOST_TEST(has_line, name);
        BOOST_TEST(r.out.find("\n:\n") == std::string::npos, name << "a stray caption");
    }
}

BOOST_AUTO_TEST_SUITE_END()
