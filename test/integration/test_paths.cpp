// Path safety: traversal and reserved segments are refused wherever a repo path comes in.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace hfhub::test;

namespace {

const std::string R = "models/alice/p";

struct paths_fixture {
    test_server s;
    std::string head;
    paths_fixture() {
        s.create_repo("alice/p", alice_token);
        head = must_commit(s, R, "main", {test_server::add_file("a/b.txt", "b"), test_server::add_file("top.txt", "t")});
    }
};

// Bad paths as JSON strings carry them (no URL encoding involved). The control byte also checks
// that the error, which quotes the path, still makes a valid header.
const std::vector<std::string> bad_paths = {"..",          "../x",     "a/../../x", "a/..",       "a/./b",
                                            ".git/config", "a/.git/b", ".git",      "a\\b",       "..\\ddd",
                                            "a//b",        "",         "/",         "x\x01y"};

// Bad paths as URL tails; decoded segment by segment they must never reach a file.
const std::vector<std::string> bad_url_paths = {"../top.txt",   "a/../top.txt", "%2e%2e/top.txt", "a/%2E%2E/top.txt",
                                                "a%2F..%2Ftop.txt", ".git/config", "a/.git/b",      "a%5Cb.txt",
                                                "..%5Ctop.txt", "a/./b.txt",    "a/%2e/b.txt",   "a//b.txt"};

}  // namespace

BOOST_AUTO_TEST_SUITE(path_safety)

BOOST_FIXTURE_TEST_CASE(commit_refuses_bad_paths, paths_fixture) {
    for (auto& p : bad_paths) {
        for (auto& op : {test_server::add_file(p, "x"), test_server::delete_file(p)}) {
            auto r = s.commit(R, "main", {op}, alice_token);
            BOOST_TEST(r.status == 422u, "'" << p << "' in " << op << ": " << r.status << " " << r.body);
        }
    }
    std::string data = pattern_bytes(64);
    std::string sha = s.upload_lfs("alice/p", data, alice_token);
    for (std::string p : {"../w.bin", ".git/lfs.bin"}) {
        auto r = s.commit(R, "main", {test_server::add_lfs(p, sha, data.size())}, alice_token);
        BOOST_TEST(r.status == 422u, p);
    }
    BOOST_TEST(head_of(s, R) == head);
    BOOST_TEST((file_list(s, R) == std::vector<std::string>{".gitattributes", "a/b.txt", "top.txt"}));
    // Names that only look suspicious are fine.
    std::string ok = must_commit(s, R, "main", {test_server::add_file("..hidden", "1"), test_server::add_file("a/.gitkeep", "2"),
                                                test_server::add_file("x..y/z", "3")});
    BOOST_TEST(s.get("/alice/p/resolve/main/..hidden").body == "1");
    BOOST_TEST(s.get("/alice/p/resolve/main/x..y/z").body == "3");
    BOOST_TEST(head_of(s, R) == ok);
}

BOOST_FIXTURE_TEST_CASE(resolve_and_tree_urls_refuse_bad_paths, paths_fixture) {
    for (auto& p : bad_url_paths) {
        for (std::string method : {"GET", "HEAD"}) {
            auto r = s.send(method, "/alice/p/resolve/main/" + p, {});
            BOOST_TEST(r.status == 400u, method << " resolve " << p << ": " << r.status);
            BOOST_TEST(r.body != "t");
        }
        auto r = s.get("/alice/p/raw/main/" + p);
        BOOST_TEST(r.status == 400u, "raw " << p << ": " << r.status);
        r = s.get("/api/" + R + "/tree/main/" + p);
        BOOST_TEST(r.status == 400u, "tree " << p << ": " << r.status);
    }
    for (std::string p : {"..", "%2e%2e", "a/..", ".git"}) {
        auto r = s.get("/api/" + R + "/tree/main/" + p + "?recursive=true");
        BOOST_TEST(r.status == 400u, "tree " << p);
    }
    // A leading "./" or "/" is dropped, as clients do: not traversal.
    BOOST_TEST(s.get("/alice/p/resolve/main/%2e/top.txt").body == "t");
    BOOST_TEST(s.get("/alice/p/resolve/main//top.txt").body == "t");
    // A malformed escape is a 400 too, not a crash or a 404.
    for (const std::string& target : {std::string("/alice/p/resolve/main/%zz"), "/api/" + R + "/tree/main/%2"}) {
        auto raw = raw_exchange(s.url(), "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        BOOST_TEST(raw.starts_with("HTTP/1.1 400 "), target << ": " << raw.substr(0, 40));
    }
}

BOOST_FIXTURE_TEST_CASE(preupload_refuses_bad_paths, paths_fixture) {
    for (auto& p : bad_paths) {
        json::object body{{"files", json::array{json::object{{"path", p}, {"sample", ""}, {"size", 1}}}}};
        auto r = s.post("/api/" + R + "/preupload/main", json::serialize(body), alice_token);
        BOOST_TEST(r.status == 422u, "'" << p << "': " << r.status << " " << r.body);
    }
}

BOOST_FIXTURE_TEST_CASE(paths_info_skips_bad_paths, paths_fixture) {
    auto r = s.post("/api/" + R + "/paths-info/main",
                    json::serialize(json::object{{"paths", json::array{"../top.txt", "a/../top.txt", ".git", "top.txt"}}}),
                    alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u);
    auto arr = parse_json(r).as_array();
    BOOST_TEST_REQUIRE(arr.size() == 1u);
    BOOST_TEST(jstr(arr[0], "path") == "top.txt");
}

BOOST_FIXTURE_TEST_CASE(create_repo_files_refuse_bad_paths, paths_fixture) {
    json::object body{{"name", "withfiles"},
                      {"files", json::array{json::object{{"path", "../x"}, {"content", "x"}}}}};
    auto r = s.post("/api/repos/create", json::serialize(body), alice_token);
    BOOST_TEST(r.status == 422u);
    BOOST_TEST(s.get("/api/models/alice/withfiles", alice_token).status == 404u);
}

BOOST_AUTO_TEST_SUITE_END()
