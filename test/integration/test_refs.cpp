// Branches, tags and discussions / pull requests.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <set>

using namespace hfhub::test;

namespace {

const std::string R = "models/alice/b";

struct refs_fixture {
    test_server s;
    std::string c1, c2;
    refs_fixture() {
        s.create_repo("alice/b", alice_token);
        c1 = must_commit(s, R, "main", {test_server::add_file("f.txt", "one")});
        c2 = must_commit(s, R, "main", {test_server::add_file("f.txt", "two")});
    }
    http_response branch(const std::string& method, const std::string& name, const std::string& body = {},
                         const std::string& token = alice_token) {
        return s.send(method, "/api/" + R + "/branch/" + q(name), body, token, {{"Content-Type", "application/json"}});
    }
    http_response tag(const std::string& method, const std::string& rev, const std::string& body = {},
                      const std::string& token = alice_token) {
        return s.send(method, "/api/" + R + "/tag/" + q(rev), body, token, {{"Content-Type", "application/json"}});
    }
    std::string content(const std::string& rev, const std::string& path = "f.txt") {
        return s.get("/alice/b/resolve/" + q(rev) + "/" + path).body;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(refs_and_discussions)

BOOST_FIXTURE_TEST_CASE(branch_create, refs_fixture) {
    // From a starting point, and from main by default.
    auto r = branch("POST", "old", R"({"startingPoint":")" + c1 + "\"}");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(head_of(s, R, "old") == c1);
    BOOST_TEST(content("old") == "one");
    BOOST_TEST_REQUIRE(branch("POST", "dev").status == 200u);
    BOOST_TEST(head_of(s, R, "dev") == c2);
    // A branch name with a slash.
    BOOST_TEST_REQUIRE(branch("POST", "feature/x", R"({"startingPoint":"old"})").status == 200u);
    BOOST_TEST(head_of(s, R, "feature/x") == c1);

    r = branch("POST", "dev", R"({"startingPoint":")" + c1 + "\"}");
    BOOST_TEST(r.status == 409u);
    BOOST_TEST(head_of(s, R, "dev") == c2);  // not moved
    r = branch("POST", "other", R"({"startingPoint":"nope"})");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
    BOOST_TEST(s.get("/api/" + R + "/revision/other").status == 404u);
    // Names git refuses.
    // "HEAD" would be shadowed by the HEAD alias for main.
    for (std::string bad : {"a..b", "x~1", "refs/heads/y", "ends.lock", "HEAD"}) {
        r = branch("POST", bad);
        BOOST_TEST(r.status == 400u, bad);
    }
    BOOST_TEST(branch("POST", "bobs", {}, bob_token).status == 403u);
    BOOST_TEST(branch("POST", "anon", {}, "").status == 401u);
}

BOOST_FIXTURE_TEST_CASE(branch_delete, refs_fixture) {
    BOOST_TEST_REQUIRE(branch("POST", "dev").status == 200u);
    BOOST_TEST(branch("DELETE", "dev", {}, bob_token).status == 403u);
    auto r = branch("DELETE", "dev");
    BOOST_TEST(r.status == 200u);
    r = s.get("/alice/b/resolve/dev/f.txt");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
    r = branch("DELETE", "dev");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
    r = branch("DELETE", "main");
    BOOST_TEST(r.status == 403u);
    BOOST_TEST(r.body.find("Cannot delete refs/heads/main") != std::string::npos);
    BOOST_TEST(head_of(s, R) == c2);
    // A tag's name is not a branch.
    BOOST_TEST_REQUIRE(tag("POST", "main", R"({"tag":"v1"})").status == 200u);
    BOOST_TEST(branch("DELETE", "v1").status == 404u);
    BOOST_TEST(head_of(s, R, "v1") == c2);
}

BOOST_FIXTURE_TEST_CASE(commit_to_branch_leaves_main, refs_fixture) {
    BOOST_TEST_REQUIRE(branch("POST", "dev").status == 200u);
    std::string d = must_commit(s, R, "dev", {test_server::add_file("f.txt", "dev")});
    BOOST_TEST(head_of(s, R, "dev") == d);
    BOOST_TEST(head_of(s, R) == c2);
    BOOST_TEST(content("main") == "two");
    BOOST_TEST(content("dev") == "dev");
    // A slash-named branch through its encoded name, and refs/heads/ spelled out.
    BOOST_TEST_REQUIRE(branch("POST", "feat/y").status == 200u);
    must_commit(s, R, "feat/y", {test_server::add_file("g.txt", "g")});
    must_commit(s, R, "refs/heads/feat/y", {test_server::add_file("h.txt", "h")});
    BOOST_TEST(content("feat/y", "h.txt") == "h");
    BOOST_TEST(s.head("/alice/b/resolve/main/g.txt").status == 404u);
}

BOOST_FIXTURE_TEST_CASE(tags, refs_fixture) {
    auto r = tag("POST", c1, R"({"tag":"v1","message":"first"})");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(content("v1") == "one");
    BOOST_TEST(head_of(s, R, "refs/tags/v1") == c1);
    BOOST_TEST_REQUIRE(tag("POST", "main", R"({"tag":"v2"})").status == 200u);
    BOOST_TEST(head_of(s, R, "v2") == c2);

    r = tag("POST", "main", R"({"tag":"v1"})");
    BOOST_TEST(r.status == 409u);
    BOOST_TEST(head_of(s, R, "v1") == c1);
    r = tag("POST", "nope", R"({"tag":"v3"})");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
    BOOST_TEST(s.get("/api/" + R + "/revision/v3").status == 404u);
    BOOST_TEST(tag("POST", "main", R"({})").status == 400u);
    BOOST_TEST(tag("POST", "main", R"({"tag":"HEAD"})").status == 400u);
    BOOST_TEST(tag("POST", "main", R"({"tag":"v4"})", bob_token).status == 403u);

    BOOST_TEST(tag("DELETE", "v1").status == 200u);
    BOOST_TEST(s.get("/alice/b/resolve/v1/f.txt").header("x-error-code") == "RevisionNotFound");
    r = tag("DELETE", "v1");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
    BOOST_TEST(head_of(s, R, "v2") == c2);
}

BOOST_FIXTURE_TEST_CASE(pull_requests, refs_fixture) {
    auto r = s.post("/api/" + R + "/discussions", R"({"title":"My PR","description":"d","pullRequest":true})",
                    alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto v = parse_json(r);
    BOOST_TEST(v.at("num").as_int64() == 1);
    BOOST_TEST(jstr(v, "url").ends_with("/alice/b/discussions/1"));
    // The new PR starts at main's head.
    BOOST_TEST(head_of(s, R, "refs/pr/1") == c2);
    BOOST_TEST(content("refs/pr/1") == "two");

    // A plain discussion takes the next number; anyone may open one on a public repo.
    r = s.post("/api/" + R + "/discussions", R"({"title":"question"})", bob_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(parse_json(r).at("num").as_int64() == 2);
    BOOST_TEST(s.get("/api/" + R + "/revision/" + q("refs/pr/2")).status == 404u);  // not a PR
    // Anyone signed in may open a PR (test_hub_workflows), but not anonymously.
    BOOST_TEST(s.post("/api/" + R + "/discussions", R"({"title":"x","pullRequest":true})", "").status == 401u);
    BOOST_TEST(s.post("/api/" + R + "/discussions", R"({"title":"x"})", "").status == 401u);
    BOOST_TEST(s.post("/api/" + R + "/discussions", R"({"pullRequest":true})", alice_token).status == 400u);

    // create_pr=1: a new PR holding the commit; main unchanged.
    auto c = s.commit(R, "main", {test_server::add_file("f.txt", "proposed")}, alice_token, "Propose", "?create_pr=1");
    BOOST_TEST_REQUIRE(c.status == 200u, c.body);
    auto cv = parse_json(c);
    std::string pr_commit = jstr(cv, "commitOid");
    BOOST_TEST(jstr(cv, "pullRequestUrl") == s.url() + "/alice/b/discussions/3");
    BOOST_TEST(head_of(s, R) == c2);
    BOOST_TEST(content("main") == "two");
    BOOST_TEST(head_of(s, R, "refs/pr/3") == pr_commit);
    BOOST_TEST(content("refs/pr/3") == "proposed");

    // A commit to refs%2Fpr%2F1 moves only that PR.
    std::string p1 = must_commit(s, R, "refs/pr/1", {test_server::add_file("pr1.txt", "1")});
    BOOST_TEST(head_of(s, R, "refs/pr/1") == p1);
    BOOST_TEST(head_of(s, R) == c2);
    BOOST_TEST(head_of(s, R, "refs/pr/3") == pr_commit);
    BOOST_TEST(s.head("/alice/b/resolve/main/pr1.txt").status == 404u);
    BOOST_TEST(s.get("/alice/b/resolve/refs%2Fpr%2F1/pr1.txt").body == "1");
    // parentCommit applies to the PR's head.
    auto stale = s.commit(R, q("refs/pr/1"), {test_server::add_file("x", "x")}, alice_token, "t", "", c2);
    BOOST_TEST(stale.status == 412u);
    // Not a PR, or missing: refused.
    BOOST_TEST(s.commit(R, q("refs/pr/2"), {test_server::add_file("x", "x")}, alice_token).status == 404u);
    BOOST_TEST(s.commit(R, q("refs/pr/9"), {test_server::add_file("x", "x")}, alice_token).status == 404u);

    // Details and list.
    auto d = s.get("/api/" + R + "/discussions/1");
    BOOST_TEST_REQUIRE(d.status == 200u);
    auto dv = parse_json(d);
    BOOST_TEST(dv.at("num").as_int64() == 1);
    BOOST_TEST(jstr(dv, "title") == "My PR");
    BOOST_TEST(dv.at("isPullRequest").as_bool());
    BOOST_TEST(jstr(dv, "status") == "open");
    BOOST_TEST(jstr(dv.at("author"), "name") == "alice");
    BOOST_TEST(jstr(dv.at("repo"), "name") == "alice/b");
    BOOST_TEST(jstr(dv.at("repo"), "type") == "model");
    BOOST_TEST(jstr(dv.at("changes"), "base") == "refs/heads/main");
    BOOST_TEST(dv.as_object().contains("events"));
    auto d3 = parse_json(s.get("/api/" + R + "/discussions/3"));
    BOOST_TEST(jstr(d3, "title") == "Propose");
    BOOST_TEST(d3.at("isPullRequest").as_bool());
    auto d2 = parse_json(s.get("/api/" + R + "/discussions/2"));
    BOOST_TEST(!d2.at("isPullRequest").as_bool());
    BOOST_TEST(jstr(d2.at("author"), "name") == "bob");
    BOOST_TEST(s.get("/api/" + R + "/discussions/4").status == 404u);
    BOOST_TEST(s.get("/api/" + R + "/discussions/x").status == 404u);

    auto list = parse_json(s.get("/api/" + R + "/discussions"));
    BOOST_TEST(list.at("count").to_number<int>() == 3);
    std::set<std::int64_t> nums;
    for (auto& e : list.at("discussions").as_array()) nums.insert(e.at("num").as_int64());
    BOOST_TEST((nums == std::set<std::int64_t>{1, 2, 3}));

    auto refs = parse_json(s.get("/api/" + R + "/refs?include_prs=1"));
    BOOST_TEST(refs.at("pullRequests").as_array().size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
