// The NDJSON commit route: every op kind, the parentCommit rules, and that a refused commit
// changes nothing.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <set>
#include <thread>

using namespace hfhub::test;

namespace {

const std::string R = "models/alice/c";

struct repo_fixture {
    test_server s;
    std::string initial;
    repo_fixture() {
        s.create_repo("alice/c", alice_token);
        initial = head_of(s, R);
    }
    http_response raw_commit(const std::string& body, const std::string& rev = "main") {
        return s.send("POST", "/api/" + R + "/commit/" + rev, body, alice_token,
                      {{"Content-Type", "application/x-ndjson"}});
    }
    bool has_file(const std::string& path, const std::string& rev = "main") {
        auto r = s.head("/alice/c/resolve/" + q(rev) + "/" + path, alice_token);
        return r.status == 200 || r.status == 302;
    }
};

const std::string header_line = R"({"key":"header","value":{"summary":"s","description":""}})";

}  // namespace

BOOST_AUTO_TEST_SUITE(commit_ndjson)

BOOST_FIXTURE_TEST_CASE(response_fields_and_regular_file, repo_fixture) {
    auto r = s.commit(R, "main", {test_server::add_file("dir/a.txt", "alpha\n")}, alice_token, "Add a");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto v = parse_json(r);
    std::string oid = jstr(v, "commitOid");
    BOOST_TEST(hfhub::util::is_hex(oid, 40));
    BOOST_TEST(v.at("success").as_bool());
    BOOST_TEST(jstr(v, "commitUrl") == s.url() + "/alice/c/commit/" + oid);
    BOOST_TEST(!v.as_object().contains("pullRequestUrl"));
    BOOST_TEST(oid != initial);
    BOOST_TEST(head_of(s, R) == oid);
    auto got = s.get("/alice/c/resolve/main/dir/a.txt");
    BOOST_TEST(got.status == 200u);
    BOOST_TEST(got.body == "alpha\n");
    // The commit records its parent and title.
    auto log = parse_json(s.get("/api/" + R + "/commits/main")).as_array();
    BOOST_TEST_REQUIRE(log.size() == 2u);
    BOOST_TEST(jstr(log[0], "id") == oid);
    BOOST_TEST(jstr(log[0], "title") == "Add a");
    BOOST_TEST(jstr(log[1], "id") == initial);
}

BOOST_FIXTURE_TEST_CASE(utf8_encoding_and_normalized_paths, repo_fixture) {
    // A leading "/" or "./" is dropped, not refused.
    std::string body = header_line + "\n" +
                       R"({"key":"file","value":{"path":"/abs.txt","content":"plain","encoding":"utf-8"}})" + "\n" +
                       test_server::add_file("./rel.txt", "rel") + "\n";
    auto r = raw_commit(body);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(s.get("/alice/c/resolve/main/abs.txt").body == "plain");
    BOOST_TEST(s.get("/alice/c/resolve/main/rel.txt").body == "rel");
    auto files = file_list(s, R);
    BOOST_TEST((files == std::vector<std::string>{".gitattributes", "abs.txt", "rel.txt"}));
}

BOOST_FIXTURE_TEST_CASE(last_line_without_newline, repo_fixture) {
    // JS omits the final newline.
    auto r = raw_commit(header_line + "\n" + test_server::add_file("x.txt", "x"));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(has_file("x.txt"));
}

BOOST_FIXTURE_TEST_CASE(parent_commit_rules, repo_fixture) {
    std::string c1 = must_commit(s, R, "main", {test_server::add_file("a.txt", "1")});
    // Stale: the head moved since `initial`.
    auto r = s.commit(R, "main", {test_server::add_file("b.txt", "2")}, alice_token, "t", "", initial);
    BOOST_TEST(r.status == 412u);
    BOOST_TEST(r.body.find("A commit has happened since") != std::string::npos);
    BOOST_TEST(head_of(s, R) == c1);
    BOOST_TEST(!has_file("b.txt"));
    // A stale short prefix of some other commit is stale too.
    r = s.commit(R, "main", {test_server::add_file("b.txt", "2")}, alice_token, "t", "", initial.substr(0, 8));
    BOOST_TEST(r.status == 412u);

    // A short (>= 5 hex) prefix of the head is accepted.
    r = s.commit(R, "main", {test_server::add_file("b.txt", "2")}, alice_token, "t", "", c1.substr(0, 5));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    std::string c2 = jstr(parse_json(r), "commitOid");
    BOOST_TEST(head_of(s, R) == c2);
    // The full id, upper case, is accepted.
    std::string upper = c2;
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    r = s.commit(R, "main", {test_server::add_file("c.txt", "3")}, alice_token, "t", "", upper);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    std::string c3 = jstr(parse_json(r), "commitOid");

    // Malformed values are 400 even when they'd match: too short, not hex, too long.
    for (const std::string& bad : {c3.substr(0, 4), std::string("zzzzzzz"), c3 + "0", c3.substr(0, 6) + "-x"}) {
        r = s.commit(R, "main", {test_server::add_file("d.txt", "4")}, alice_token, "t", "", bad);
        BOOST_TEST(r.status == 400u, "parentCommit " << bad << " gave " << r.status);
    }
    BOOST_TEST(head_of(s, R) == c3);
    BOOST_TEST(!has_file("d.txt"));
}

BOOST_FIXTURE_TEST_CASE(lfs_file_with_and_without_size, repo_fixture) {
    std::string data = pattern_bytes(3000);
    std::string sha = s.upload_lfs("alice/c", data, alice_token);
    must_commit(s, R, "main", {test_server::add_lfs("w/model.bin", sha, data.size())});
    // A copy: same oid, no size.
    std::string copy = R"({"key":"lfsFile","value":{"path":"copy.bin","algo":"sha256","oid":")" + sha + R"("}})";
    auto r = raw_commit(header_line + "\n" + copy + "\n");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    for (std::string p : {"w/model.bin", "copy.bin"}) {
        auto h = s.head("/alice/c/resolve/main/" + p);
        BOOST_TEST(h.status == 302u);
        BOOST_TEST(h.header("x-linked-size") == std::to_string(data.size()));
        BOOST_TEST(h.header("x-linked-etag") == "\"" + sha + "\"");
    }
    // A size that disagrees with the stored object is refused.
    std::string head = head_of(s, R);
    r = s.commit(R, "main", {test_server::add_lfs("bad.bin", sha, data.size() + 1)}, alice_token);
    BOOST_TEST(r.status == 422u);
    BOOST_TEST(head_of(s, R) == head);
}

BOOST_FIXTURE_TEST_CASE(missing_lfs_object_changes_nothing, repo_fixture) {
    std::string c1 = must_commit(s, R, "main", {test_server::add_file("keep.txt", "k")});
    std::string absent = hfhub::util::sha256_hex("never uploaded");
    auto r = s.commit(R, "main",
                      {test_server::add_file("other.txt", "o"), test_server::add_lfs("big.bin", absent, 14)},
                      alice_token);
    BOOST_TEST(r.status == 422u);
    BOOST_TEST(head_of(s, R) == c1);
    BOOST_TEST(!has_file("big.bin"));
    BOOST_TEST(!has_file("other.txt"));  // all or nothing
    // A malformed oid too.
    r = s.commit(R, "main", {test_server::add_lfs("big.bin", "abc", 14)}, alice_token);
    BOOST_TEST(r.status == 422u);
    BOOST_TEST(head_of(s, R) == c1);
}

BOOST_FIXTURE_TEST_CASE(deleted_file, repo_fixture) {
    must_commit(s, R, "main", {test_server::add_file("a.txt", "a"), test_server::add_file("b.txt", "b")});
    std::string c2 = must_commit(s, R, "main", {test_server::delete_file("a.txt")});
    BOOST_TEST(!has_file("a.txt"));
    BOOST_TEST(has_file("b.txt"));
    auto r = s.commit(R, "main", {test_server::add_file("n.txt", "n"), test_server::delete_file("a.txt")},
                      alice_token);
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "EntryNotFound");
    BOOST_TEST(head_of(s, R) == c2);
    BOOST_TEST(!has_file("n.txt"));
}

BOOST_FIXTURE_TEST_CASE(deleted_folder_with_and_without_slash, repo_fixture) {
    must_commit(s, R, "main",
                {test_server::add_file("logs/1.txt", "1"), test_server::add_file("logs/sub/2.txt", "2"),
                 test_server::add_file("data/3.txt", "3"), test_server::add_file("logsx.txt", "x")});
    must_commit(s, R, "main", {test_server::delete_folder("logs/")});
    BOOST_TEST((file_list(s, R) == std::vector<std::string>{".gitattributes", "data/3.txt", "logsx.txt"}));
    std::string c3 = must_commit(s, R, "main", {test_server::delete_folder("data")});
    BOOST_TEST((file_list(s, R) == std::vector<std::string>{".gitattributes", "logsx.txt"}));
    // A folder that isn't there.
    auto r = s.commit(R, "main", {test_server::delete_folder("nope/")}, alice_token);
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(head_of(s, R) == c3);
}

BOOST_FIXTURE_TEST_CASE(file_and_folder_conflicts, repo_fixture) {
    std::string c1 = must_commit(s, R, "main", {test_server::add_file("a.txt", "a"), test_server::add_file("d/x", "x")});
    auto r = s.commit(R, "main", {test_server::add_file("a.txt/b.txt", "b")}, alice_token);
    BOOST_TEST(r.status == 422u);
    r = s.commit(R, "main", {test_server::add_file("d", "now a file")}, alice_token);
    BOOST_TEST(r.status == 422u);
    BOOST_TEST(head_of(s, R) == c1);
    BOOST_TEST(!has_file("a.txt/b.txt"));
    BOOST_TEST(s.get("/alice/c/resolve/main/d/x").body == "x");
}

BOOST_FIXTURE_TEST_CASE(regular_file_over_10_mib_is_refused, repo_fixture) {
    std::string big((10u << 20) + 1, 'a');
    auto r = s.commit(R, "main", {test_server::add_file("big.txt", big)}, alice_token);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("larger than 10 MiB") != std::string::npos);
    BOOST_TEST(head_of(s, R) == initial);
    BOOST_TEST(!has_file("big.txt"));
    // Exactly 10 MiB is allowed.
    std::string limit(10u << 20, 'b');
    r = s.commit(R, "main", {test_server::add_file("limit.txt", limit)}, alice_token);
    BOOST_TEST(r.status == 200u, r.body);
    BOOST_TEST(s.head("/alice/c/resolve/main/limit.txt").header("content-length") == std::to_string(limit.size()));
}

BOOST_FIXTURE_TEST_CASE(malformed_payloads_are_400_and_change_nothing, repo_fixture) {
    std::string ok = test_server::add_file("ok.txt", "ok");
    const std::vector<std::pair<std::string, std::string>> bodies = {
        {"not json", header_line + "\n{not json\n" + ok + "\n"},
        {"not an object", header_line + "\n[1,2]\n"},
        {"unknown key", header_line + "\n" + R"({"key":"renameFile","value":{"path":"a"}})" + "\n"},
        {"bad base64", header_line + "\n" + R"({"key":"file","value":{"path":"b.txt","content":"!!!","encoding":"base64"}})" + "\n"},
        {"unknown encoding", header_line + "\n" + R"({"key":"file","value":{"path":"b.txt","content":"x","encoding":"rot13"}})" + "\n"},
        {"missing path", header_line + "\n" + R"({"key":"file","value":{"content":"eA=="}})" + "\n"},
        {"value not an object", header_line + "\n" + R"({"key":"file","value":"x"})" + "\n"},
        {"no header", ok + "\n"},
        {"empty body", ""},
    };
    for (auto& [what, body] : bodies) {
        auto r = raw_commit(body);
        BOOST_TEST(r.status == 400u, what << ": " << r.status << " " << r.body);
        BOOST_TEST(r.header("content-type").starts_with("application/json"), what);
    }
    BOOST_TEST(head_of(s, R) == initial);
    BOOST_TEST(!has_file("ok.txt"));
}

BOOST_FIXTURE_TEST_CASE(lfs_size_that_is_no_uint64_names_its_line, repo_fixture) {
    const std::string oid(64, 'a');
    for (std::string size : {"-1", "1.5", "1e30"}) {
        auto r = raw_commit(header_line + "\n" + R"({"key":"lfsFile","value":{"path":"w.bin","oid":")" + oid +
                            R"(","size":)" + size + "}}\n");
        BOOST_TEST(r.status == 400u, size << ": " << r.status);
        BOOST_TEST(r.header("x-error-message").find("line 2: 'size' must be a non-negative integer") != std::string::npos,
                   size << ": " << r.header("x-error-message"));
    }
    BOOST_TEST(head_of(s, R) == initial);
}

BOOST_FIXTURE_TEST_CASE(commit_targets_and_rights, repo_fixture) {
    // Missing branch, tag, commit id: not a branch.
    for (const std::string& rev : {std::string("nope"), initial}) {
        auto r = s.commit(R, rev, {test_server::add_file("x", "x")}, alice_token);
        BOOST_TEST(r.status == 404u);
        BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
    }
    auto r = s.commit(R, "main", {test_server::add_file("x", "x")}, bob_token);
    BOOST_TEST(r.status == 403u);
    r = s.commit(R, "main", {test_server::add_file("x", "x")}, "");
    BOOST_TEST(r.status == 401u);
    r = s.commit("models/alice/none", "main", {test_server::add_file("x", "x")}, alice_token);
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RepoNotFound");
    BOOST_TEST(head_of(s, R) == initial);
}

BOOST_FIXTURE_TEST_CASE(concurrent_commits_are_serialized, repo_fixture) {
    constexpr int n = 8;
    std::vector<http_response> results(n);
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i)
        threads.emplace_back([&, i] {
            results[i] = s.commit(R, "main", {test_server::add_file("f" + std::to_string(i) + ".txt", std::to_string(i))},
                                  alice_token, "commit " + std::to_string(i));
        });
    for (auto& t : threads) t.join();
    std::set<std::string> oids;
    for (int i = 0; i < n; ++i) {
        BOOST_TEST_REQUIRE(results[i].status == 200u, results[i].body);
        oids.insert(jstr(parse_json(results[i]), "commitOid"));
    }
    BOOST_TEST(oids.size() == std::size_t(n));
    auto files = file_list(s, R);
    BOOST_TEST(files.size() == std::size_t(n + 1));
    for (int i = 0; i < n; ++i)
        BOOST_TEST(std::count(files.begin(), files.end(), "f" + std::to_string(i) + ".txt") == 1);
    auto log = s.get("/api/" + R + "/commits/main");
    BOOST_TEST(log.header("x-total-count") == std::to_string(n + 1));
    auto arr = parse_json(log).as_array();
    BOOST_TEST_REQUIRE(arr.size() == std::size_t(n + 1));
    // Every reply's commit is in the single linear history.
    std::set<std::string> history;
    for (auto& e : arr) history.insert(jstr(e, "id"));
    for (auto& o : oids) BOOST_TEST(history.count(o) == 1u);
    BOOST_TEST(jstr(arr.back(), "id") == initial);
}

BOOST_AUTO_TEST_SUITE_END()
