// hfhub cache scan|rm|verify|prune through the command line, text and --format json; rm asks
// before deleting when a person is at a terminal (tested on a pty), and never asks a script.
#include "hub_helpers.hpp"
#include "pty_util.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>

using namespace hfhub::test;
using namespace hfhub::test::pty;
using hfhub::test::transport::child_process;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

struct result {
    int code = -1;
    std::string out, err;
};

struct cache_fixture {
    test_server s;
    temp_dir home;
    std::string old_commit, new_commit;
    fs::path cache() const { return home.path() / "hub"; }
    fs::path repo_dir() const { return cache() / "models--alice--c"; }

    // Two revisions in the cache: the old one only by its commit, main by its ref.
    cache_fixture() {
        s.create_repo("alice/c", alice_token);
        old_commit = must_commit(s, "models/alice/c", "main", {test_server::add_file("a.txt", "old\n")});
        new_commit = must_commit(s, "models/alice/c", "main", {test_server::add_file("a.txt", "new\n")});
        BOOST_TEST_REQUIRE(run({"download", "alice/c", "--revision", old_commit, "--endpoint", s.url()}).code == 0);
        BOOST_TEST_REQUIRE(run({"download", "alice/c", "--endpoint", s.url()}).code == 0);
    }
    result run(strings args) const {
        strings argv{"/usr/bin/env", "-u", "HF_TOKEN", "-u", "HF_ENDPOINT", "HF_HUB_CACHE=" + cache().string(),
                     transport::hfhub_binary()};
        argv.insert(argv.end(), args.begin(), args.end());
        child_process p(argv);
        result r;
        r.code = p.wait(30000ms).value_or(-1);
        r.out = p.rest_of_stdout();
        r.err = p.rest_of_stderr();
        return r;
    }
    json::object run_json(strings args, int want_code = 0) const {
        args.push_back("--format");
        args.push_back("json");
        auto r = run(args);
        BOOST_TEST(r.code == want_code, r.err);
        BOOST_TEST(r.out.find('\n') == r.out.size() - 1, "not one line: " << r.out);
        return json::parse(r.out).as_object();
    }
    bool has_snapshot(const std::string& commit) const { return fs::exists(repo_dir() / "snapshots" / commit); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(cache_cli)

BOOST_FIXTURE_TEST_CASE(scan_lists_repos_and_revisions_as_text_and_json, cache_fixture) {
    auto r = run({"cache", "scan"});
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(r.out.find("alice/c") != std::string::npos, r.out);
    BOOST_TEST(r.out.find(old_commit) != std::string::npos, r.out);
    auto o = run_json({"cache", "scan"});
    BOOST_TEST(o.at("cache_dir").as_string() == cache().string());
    auto& repos = o.at("repos").as_array();
    BOOST_TEST_REQUIRE(repos.size() == 1u);
    auto& repo = repos[0].as_object();
    BOOST_TEST(repo.at("repo_id").as_string() == "alice/c");
    BOOST_TEST(repo.at("repo_type").as_string() == "model");
    // Both a.txt blobs and the .gitattributes the revisions share.
    BOOST_TEST(repo.at("size_on_disk").to_number<std::uint64_t>() ==
               8u + fs::file_size(repo_dir() / "snapshots" / new_commit / ".gitattributes"));
    auto& revs = repo.at("revisions").as_array();
    BOOST_TEST_REQUIRE(revs.size() == 2u);
    for (auto& v : revs) {
        auto& rev = v.as_object();
        bool is_new = rev.at("commit").as_string() == new_commit;
        BOOST_TEST(rev.at("refs").as_array().size() == (is_new ? 1u : 0u));
        BOOST_TEST(rev.at("nb_files").to_number<std::uint64_t>() == 2u);  // a.txt, .gitattributes
    }
}

BOOST_FIXTURE_TEST_CASE(rm_deletes_a_revision_without_asking_a_script, cache_fixture) {
    auto dry = run_json({"cache", "rm", old_commit, "--dry-run"});
    BOOST_TEST(dry.at("dry_run").as_bool());
    BOOST_TEST(dry.at("freed_bytes").to_number<std::uint64_t>() == 4u);
    BOOST_TEST(has_snapshot(old_commit));
    auto o = run_json({"cache", "rm", old_commit});  // stdin is not a terminal: no question
    BOOST_TEST(!o.at("dry_run").as_bool());
    BOOST_TEST(o.at("snapshots").as_array().size() == 1u);
    BOOST_TEST(!has_snapshot(old_commit));
    BOOST_TEST(has_snapshot(new_commit));
}

BOOST_FIXTURE_TEST_CASE(rm_asks_on_a_terminal_unless_yes, cache_fixture) {
    strings env{"TERM=xterm", "HF_HUB_CACHE=" + cache().string()};
    {
        pty_child p({"cache", "rm", old_commit}, env);
        BOOST_TEST_REQUIRE(p.read_until([](const std::string& o) { return o.find("[y/N]") != std::string::npos; }, 20s),
                           p.output());
        BOOST_TEST(p.output().find("1 revisions, 1 blobs (4B)") != std::string::npos, p.output());
        p.type("n\n");
        BOOST_TEST(p.wait() == 1);
        BOOST_TEST(p.output().find("nothing deleted") != std::string::npos, p.output());
        BOOST_TEST(has_snapshot(old_commit));
    }
    {
        pty_child p({"cache", "rm", old_commit}, env);
        BOOST_TEST_REQUIRE(p.read_until([](const std::string& o) { return o.find("[y/N]") != std::string::npos; }, 20s),
                           p.output());
        p.type("y\n");
        BOOST_TEST(p.wait() == 0, p.output());
        BOOST_TEST(!has_snapshot(old_commit));
    }
    {
        pty_child p({"cache", "rm", new_commit, "--yes"}, env);
        BOOST_TEST(p.wait() == 0, p.output());
        BOOST_TEST(p.output().find("[y/N]") == std::string::npos, p.output());
        BOOST_TEST(!has_snapshot(new_commit));
    }
}

BOOST_FIXTURE_TEST_CASE(verify_names_a_corrupted_blob, cache_fixture) {
    auto o = run_json({"cache", "verify"});
    BOOST_TEST(o.at("checked").to_number<std::uint64_t>() == 3u);  // two a.txt, one .gitattributes
    BOOST_TEST(o.at("corrupted").as_array().empty());
    fs::path blob = fs::canonical(repo_dir() / "snapshots" / new_commit / "a.txt");
    fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
    std::ofstream(blob, std::ios::binary) << "bad\n";
    auto bad = run_json({"cache", "verify"}, 1);
    BOOST_TEST_REQUIRE(bad.at("corrupted").as_array().size() == 1u);
    BOOST_TEST(bad.at("corrupted").as_array()[0].as_string() == blob.string());
    auto text = run({"cache", "verify"});
    BOOST_TEST(text.code == 1);
    BOOST_TEST(text.out.find("corrupted: " + blob.string()) != std::string::npos, text.out);
}

BOOST_FIXTURE_TEST_CASE(prune_removes_unreferenced_revisions_and_partial_files, cache_fixture) {
    std::ofstream(repo_dir() / "blobs" / "0123.incomplete") << "part";
    auto o = run_json({"cache", "prune"});
    BOOST_TEST(!o.at("dry_run").as_bool());
    BOOST_TEST(o.at("snapshots").as_array().size() == 1u);  // the old revision: no ref names it
    BOOST_TEST(o.at("other").as_array().size() == 1u);
    BOOST_TEST(!has_snapshot(old_commit));
    BOOST_TEST(has_snapshot(new_commit));
    BOOST_TEST(!fs::exists(repo_dir() / "blobs" / "0123.incomplete"));
}

BOOST_AUTO_TEST_SUITE_END()
