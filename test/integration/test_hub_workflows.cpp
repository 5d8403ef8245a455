// The workflows a team runs on the Hub, against the local server: pull requests from people
// who can't write, the discussion actions and merge, renaming a repo, squashing history,
// validate-yaml, new Spaces and .gitignore at preupload.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <set>

using namespace hfhub::test;

namespace {

const std::string R = "models/alice/w";

// alice/w, public, with f.txt on main.
struct flow_fixture {
    test_server s;
    std::string c1;
    flow_fixture() {
        s.create_repo("alice/w", alice_token);
        c1 = must_commit(s, R, "main", {test_server::add_file("f.txt", "one")});
    }
    http_response act(int num, const std::string& action, const std::string& body, const std::string& token) {
        return s.post("/api/" + R + "/discussions/" + std::to_string(num) + "/" + action, body, token);
    }
    json::value details(int num) { return parse_json(s.get("/api/" + R + "/discussions/" + std::to_string(num))); }
    std::set<std::int64_t> listed(const std::string& query) {
        auto r = s.get("/api/" + R + "/discussions" + query);
        if (r.status != 200) throw std::runtime_error("list: " + std::to_string(r.status) + " " + r.body);
        std::set<std::int64_t> nums;
        auto v = parse_json(r);
        for (auto& d : v.at("discussions").as_array()) nums.insert(d.at("num").as_int64());
        if (v.at("count").to_number<std::size_t>() != nums.size()) throw std::runtime_error("count: " + r.body);
        return nums;
    }
    // A PR opened by `token` with create_pr=1; returns its number.
    int pr_commit(const std::vector<std::string>& ops, const std::string& token, const std::string& title) {
        auto r = s.commit(R, "main", ops, token, title, "?create_pr=1");
        if (r.status != 200) throw std::runtime_error("create_pr: " + std::to_string(r.status) + " " + r.body);
        std::string url = jstr(parse_json(r), "pullRequestUrl");
        return std::stoi(url.substr(url.rfind('/') + 1));
    }
    std::string content(const std::string& rev, const std::string& path) {
        return s.get("/alice/w/resolve/" + q(rev) + "/" + path).body;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(hub_workflows)

BOOST_FIXTURE_TEST_CASE(pull_requests_from_users_who_cannot_write, flow_fixture) {
    std::string body = json::serialize(json::object{
        {"files", json::array{json::object{{"path", "f.txt"}, {"size", 3}, {"sample", hfhub::util::base64_encode("new")}}}}});
    // preupload: only for a PR.
    BOOST_TEST(s.post("/api/" + R + "/preupload/main", body, bob_token).status == 403u);
    auto pre = s.post("/api/" + R + "/preupload/main?create_pr=1", body, bob_token);
    BOOST_TEST(pre.status == 200u, pre.body);
    BOOST_TEST(s.post("/api/" + R + "/preupload/main?create_pr=1", body, "").status == 401u);

    // The LFS batch: a push to main is refused, an upload naming no ref (a PR's) is offered.
    std::string data = pattern_bytes(500, 9);
    std::string sha = hfhub::util::sha256_hex(data);
    auto batch = [&](std::optional<std::string> ref) {
        json::object req{{"operation", "upload"},
                         {"transfers", json::array{"basic"}},
                         {"objects", json::array{json::object{{"oid", sha}, {"size", data.size()}}}}};
        if (ref) req["ref"] = json::object{{"name", *ref}};
        return s.post("/alice/w.git/info/lfs/objects/batch", json::serialize(req), bob_token,
                      "application/vnd.git-lfs+json");
    };
    BOOST_TEST(batch(std::string("main")).status == 403u);
    auto b = batch(std::nullopt);
    BOOST_TEST_REQUIRE(b.status == 200u, b.body);
    auto actions = parse_json(b).at("objects").at(0).at("actions").as_object();
    std::string href = jstr(actions.at("upload"), "href");
    BOOST_TEST(!actions.contains("verify"));  // verify is for writers; clients skip a missing one
    BOOST_TEST_REQUIRE(http_request("PUT", href, data).status == 200u);

    // The commit: create_pr=1 opens bob's PR; main doesn't move; a plain commit is refused.
    BOOST_TEST(s.commit(R, "main", {test_server::add_file("f.txt", "x")}, bob_token).status == 403u);
    int num = pr_commit({test_server::add_file("f.txt", "bob's"), test_server::add_lfs("w.bin", sha, data.size())},
                        bob_token, "Bob's change");
    BOOST_TEST(head_of(s, R) == c1);
    BOOST_TEST(content("refs/pr/" + std::to_string(num), "f.txt") == "bob's");
    BOOST_TEST(jstr(details(num).at("author"), "name") == "bob");
    // bob may push more to his own PR, not to alice's.
    BOOST_TEST(must_commit(s, R, "refs/pr/" + std::to_string(num), {test_server::add_file("g.txt", "g")}, "more",
                           bob_token).size() == 40u);
    int alices = pr_commit({test_server::add_file("h.txt", "h")}, alice_token, "Alice's");
    BOOST_TEST(s.commit(R, q("refs/pr/" + std::to_string(alices)), {test_server::add_file("x", "x")}, bob_token).status ==
               403u);
    // An empty PR through the discussions route, too.
    auto d = s.post("/api/" + R + "/discussions", R"({"title":"Draft","pullRequest":true})", bob_token);
    BOOST_TEST(d.status == 200u, d.body);
    // Not on a private repo bob can't see.
    s.create_repo("alice/hidden", alice_token, true);
    BOOST_TEST(s.commit("models/alice/hidden", "main", {test_server::add_file("x", "x")}, bob_token, "t", "?create_pr=1")
                   .status == 404u);
}

BOOST_FIXTURE_TEST_CASE(discussion_comment_title_status_and_filters, flow_fixture) {
    BOOST_TEST_REQUIRE(s.post("/api/" + R + "/discussions", R"({"title":"Question"})", bob_token).status == 200u);
    int pr = pr_commit({test_server::add_file("f.txt", "two")}, alice_token, "Alice's PR");

    auto c = act(1, "comment", R"({"comment":"Any news?"})", bob_token);
    BOOST_TEST_REQUIRE(c.status == 200u, c.body);
    auto ev = parse_json(c).at("newMessage");
    BOOST_TEST(jstr(ev, "type") == "comment");
    BOOST_TEST(jstr(ev.at("data").at("latest"), "raw") == "Any news?");
    BOOST_TEST(jstr(ev.at("author"), "name") == "bob");
    BOOST_TEST(act(1, "comment", R"({"comment":"x"})", "").status == 401u);
    BOOST_TEST(act(1, "comment", R"({})", bob_token).status == 400u);
    BOOST_TEST(act(9, "comment", R"({"comment":"x"})", bob_token).status == 404u);

    // The author renames it; someone else who can't write may not.
    auto t = act(1, "title", R"({"title":"Better question"})", bob_token);
    BOOST_TEST_REQUIRE(t.status == 200u, t.body);
    BOOST_TEST(jstr(parse_json(t).at("newTitle").at("data"), "from") == "Question");
    BOOST_TEST(jstr(parse_json(t).at("newTitle").at("data"), "to") == "Better question");
    BOOST_TEST(act(pr, "title", R"({"title":"Mine now"})", bob_token).status == 403u);
    BOOST_TEST(jstr(details(1), "title") == "Better question");

    // The repo's owner closes it, with a comment.
    auto st = act(1, "status", R"({"status":"closed","comment":"Answered"})", alice_token);
    BOOST_TEST_REQUIRE(st.status == 200u, st.body);
    BOOST_TEST(jstr(parse_json(st).at("newStatus").at("data"), "status") == "closed");
    BOOST_TEST(act(1, "status", R"({"status":"merged"})", alice_token).status == 400u);
    auto dv = details(1);
    BOOST_TEST(jstr(dv, "status") == "closed");
    std::vector<std::string> types;
    for (auto& e : dv.at("events").as_array()) types.push_back(jstr(e, "type"));
    BOOST_TEST((types == std::vector<std::string>{"comment", "title-change", "comment", "status-change"}));

    // The list's filters.
    BOOST_TEST((listed("") == std::set<std::int64_t>{1, pr}));
    BOOST_TEST((listed("?status=open") == std::set<std::int64_t>{pr}));
    BOOST_TEST((listed("?status=closed") == std::set<std::int64_t>{1}));
    BOOST_TEST((listed("?type=pull_request") == std::set<std::int64_t>{pr}));
    BOOST_TEST((listed("?type=discussion") == std::set<std::int64_t>{1}));
    BOOST_TEST((listed("?author=bob") == std::set<std::int64_t>{1}));
    BOOST_TEST((listed("?author=alice&type=discussion").empty()));
    BOOST_TEST(s.get("/api/" + R + "/discussions?status=bogus").status == 400u);
}

BOOST_FIXTURE_TEST_CASE(merge_fast_forwards_merges_and_refuses_conflicts, flow_fixture) {
    // Fast-forward: main hasn't moved since the PR was opened.
    int ff = pr_commit({test_server::add_file("a.txt", "a")}, bob_token, "Add a");
    std::string ff_head = head_of(s, R, "refs/pr/" + std::to_string(ff));
    BOOST_TEST(act(ff, "merge", "", bob_token).status == 403u);
    auto m = act(ff, "merge", "", alice_token);
    BOOST_TEST_REQUIRE(m.status == 200u, m.body);
    BOOST_TEST(head_of(s, R) == ff_head);
    auto dv = details(ff);
    BOOST_TEST(jstr(dv, "status") == "merged");
    BOOST_TEST(jstr(dv.at("changes"), "mergeCommitId") == ff_head);
    BOOST_TEST(act(ff, "merge", "", alice_token).status == 400u);  // once

    // A merge commit: main moved meanwhile, on other files.
    int mg = pr_commit({test_server::add_file("b.txt", "b")}, bob_token, "Add b");
    std::string main_before = must_commit(s, R, "main", {test_server::add_file("c.txt", "c")});
    m = act(mg, "merge", R"({"comment":"Thanks"})", alice_token);
    BOOST_TEST_REQUIRE(m.status == 200u, m.body);
    std::string merged = head_of(s, R);
    BOOST_TEST(merged != main_before);
    BOOST_TEST(content("main", "b.txt") == "b");
    BOOST_TEST(content("main", "c.txt") == "c");
    BOOST_TEST(content("main", "a.txt") == "a");
    auto commits = parse_json(s.get("/api/" + R + "/commits/main"));
    BOOST_TEST(jstr(commits.at(1), "id") == main_before);  // main stays the first parent

    // A conflict: both sides changed f.txt. Typed failure, nothing moves, the PR stays open.
    int cf = pr_commit({test_server::add_file("f.txt", "theirs")}, bob_token, "Change f");
    std::string ours = must_commit(s, R, "main", {test_server::add_file("f.txt", "ours")});
    m = act(cf, "merge", "", alice_token);
    BOOST_TEST(m.status == 409u, m.body);
    BOOST_TEST(m.header("x-error-message").find("f.txt") != std::string::npos);
    BOOST_TEST(head_of(s, R) == ours);
    BOOST_TEST(jstr(details(cf), "status") == "open");
    // A plain discussion can't be merged.
    BOOST_TEST_REQUIRE(s.post("/api/" + R + "/discussions", R"({"title":"Q"})", bob_token).status == 200u);
    BOOST_TEST(act(cf + 1, "merge", "", alice_token).status == 400u);
}

BOOST_FIXTURE_TEST_CASE(move_repo_and_old_urls_redirect, flow_fixture) {
    auto move = [&](const std::string& from, const std::string& to, const std::string& token) {
        return s.post("/api/repos/move",
                      json::serialize(json::object{{"fromRepo", from}, {"toRepo", to}, {"type", "model"}}), token);
    };
    BOOST_TEST(move("alice/w", "bob/w", bob_token).status == 403u);    // not bob's
    BOOST_TEST(move("alice/w", "bob/w", alice_token).status == 403u);  // not alice's namespace
    s.create_repo("acme/taken", alice_token);
    BOOST_TEST(move("alice/w", "acme/taken", alice_token).status == 409u);
    auto r = move("alice/w", "acme/renamed", alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);

    auto info = s.get("/api/models/acme/renamed");
    BOOST_TEST_REQUIRE(info.status == 200u, info.body);
    BOOST_TEST(jstr(parse_json(info), "id") == "acme/renamed");
    BOOST_TEST(s.get("/acme/renamed/resolve/main/f.txt").body == "one");
    // Old URLs answer a relative 307 to the same place under the new id.
    r = s.get("/api/models/alice/w?blobs=true");
    BOOST_TEST(r.status == 307u);
    BOOST_TEST(r.header("location") == "/api/models/acme/renamed?blobs=true");
    r = s.head("/alice/w/resolve/main/f.txt");
    BOOST_TEST(r.status == 307u);
    BOOST_TEST(r.header("location") == "/acme/renamed/resolve/main/f.txt");
    BOOST_TEST(s.get("/api/models/Alice/W/tree/main").header("location") == "/api/models/acme/renamed/tree/main");
    // Writes through the new id work; the old id is free for a new repo, which then wins.
    must_commit(s, "models/acme/renamed", "main", {test_server::add_file("g.txt", "g")});
    s.create_repo("alice/w", alice_token);
    BOOST_TEST(s.get("/api/models/alice/w").status == 200u);
    BOOST_TEST(s.head("/alice/w/resolve/main/g.txt").status == 404u);
}

BOOST_AUTO_TEST_CASE(moved_private_repo_stays_hidden) {
    test_server s;
    s.create_repo("alice/p", alice_token, true);
    auto r = s.post("/api/repos/move", R"({"fromRepo":"alice/p","toRepo":"alice/q"})", alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(s.get("/api/models/alice/p", alice_token).header("location") == "/api/models/alice/q");
    r = s.get("/api/models/alice/p", bob_token);
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RepoNotFound");
    BOOST_TEST(!r.has_header("location"));
}

BOOST_FIXTURE_TEST_CASE(super_squash_keeps_files_drops_history, flow_fixture) {
    must_commit(s, R, "main", {test_server::add_file("f.txt", "two")});
    must_commit(s, R, "main", {test_server::add_file("g/h.txt", "h")});
    auto before = file_list(s, R);
    BOOST_TEST(s.post("/api/" + R + "/super-squash/main", R"({"message":"x"})", bob_token).status == 403u);
    auto r = s.post("/api/" + R + "/super-squash/main", R"({"message":"Squashed"})", alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto commits = parse_json(s.get("/api/" + R + "/commits/main"));
    BOOST_TEST_REQUIRE(commits.as_array().size() == 1u);
    BOOST_TEST(jstr(commits.at(0), "title") == "Squashed");
    BOOST_TEST(file_list(s, R) == before);
    BOOST_TEST(content("main", "f.txt") == "two");
    auto missing = s.post("/api/" + R + "/super-squash/nope", "{}", alice_token);
    BOOST_TEST(missing.status == 404u);
    BOOST_TEST(missing.header("x-error-code") == "RevisionNotFound");
}

BOOST_AUTO_TEST_CASE(validate_yaml_forms_schema_and_empty_metadata) {
    test_server s;
    auto form = s.post("/api/validate-yaml",
                       "content=" + q("---\nlicense: mit\n---\n# x\n") + "&repoType=model", alice_token,
                       "application/x-www-form-urlencoded");
    BOOST_TEST_REQUIRE(form.status == 200u, form.body);
    BOOST_TEST(parse_json(form).at("warnings").as_array().empty());
    auto bad_form = s.post("/api/validate-yaml", "content=" + q("---\nlicense: [mit\n---\n") + "&repoType=model",
                           alice_token, "application/x-www-form-urlencoded");
    BOOST_TEST(bad_form.status == 400u);

    auto post = [&](const std::string& content) {
        return s.post("/api/validate-yaml", json::serialize(json::object{{"content", content}, {"repoType", "model"}}),
                      alice_token);
    };
    for (std::string bad : {"---\nmodel-index:\n  name: x\n---\n", "---\nmodel-index: 3\n---\n",
                            "---\nmodel-index:\n- results: []\n---\n", "---\nmodel-index:\n- name: m\n---\n"}) {
        auto r = post(bad);
        BOOST_TEST(r.status == 400u, bad << ": " << r.body);
        BOOST_TEST(jstr(parse_json(r).at("errors").at(0), "message").find("model-index") != std::string::npos, bad);
    }
    auto good = post("---\nmodel-index:\n- name: m\n  results: []\n---\n");
    BOOST_TEST(good.status == 200u, good.body);
    for (std::string empty : {"# No front matter\n", "---\n---\nempty\n"}) {
        auto r = post(empty);
        BOOST_TEST_REQUIRE(r.status == 200u, empty);
        auto v = parse_json(r);
        auto& w = v.at("warnings").as_array();
        BOOST_TEST_REQUIRE(w.size() == 1u, empty);
        BOOST_TEST(jstr(w[0], "message").find("empty") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(new_space_has_sdk_readme) {
    test_server s;
    auto r = s.post("/api/repos/create", R"({"name":"demo","type":"space","sdk":"gradio"})", alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto readme = s.get("/spaces/alice/demo/resolve/main/README.md");
    BOOST_TEST_REQUIRE(readme.status == 200u);
    BOOST_TEST(readme.body.starts_with("---\n"));
    BOOST_TEST(readme.body.find("\nsdk: gradio\n") != std::string::npos);
    BOOST_TEST(readme.body.find("\ntitle: demo\n") != std::string::npos);
    BOOST_TEST(jstr(parse_json(s.get("/api/spaces/alice/demo")), "sdk") == "gradio");
    BOOST_TEST(s.post("/api/repos/create", R"({"name":"bad","type":"space","sdk":"php"})", alice_token).status == 400u);
    // Models and datasets get none.
    s.create_repo("alice/m", alice_token);
    BOOST_TEST(s.head("/alice/m/resolve/main/README.md").status == 404u);
}

BOOST_AUTO_TEST_CASE(preupload_honours_gitignore) {
    test_server s;
    s.create_repo("alice/i", alice_token);
    const std::string api = "models/alice/i";
    auto ignored = [&](const std::vector<std::string>& paths, std::optional<std::string> gitignore) {
        json::array files;
        for (auto& p : paths) files.push_back(json::object{{"path", p}, {"size", 1}, {"sample", "eA=="}});
        json::object body{{"files", files}};
        if (gitignore) body["gitIgnore"] = *gitignore;
        auto r = s.post("/api/" + api + "/preupload/main", json::serialize(body), alice_token);
        if (r.status != 200) throw std::runtime_error("preupload: " + r.body);
        std::set<std::string> out;
        auto v = parse_json(r);
        for (auto& f : v.at("files").as_array())
            if (f.at("shouldIgnore").as_bool()) out.insert(jstr(f, "path"));
        return out;
    };
    std::vector<std::string> paths{"a.log", "logs/b.log", "keep.log", "build/x.txt", "src/build/y.txt",
                                   "src/build.txt", "data/raw/z.csv", "raw/top.csv", "notes.txt"};
    auto got = ignored(paths, "# comment\n*.log\n!keep.log\nbuild/\n/raw/\n");
    BOOST_TEST((got == std::set<std::string>{"a.log", "logs/b.log", "build/x.txt", "src/build/y.txt", "raw/top.csv"}));
    // Without one in the request, the repo's own .gitignore at that revision.
    BOOST_TEST(ignored(paths, std::nullopt).empty());
    must_commit(s, api, "main", {test_server::add_file(".gitignore", "notes.txt\ndata/**/*.csv\n")});
    BOOST_TEST((ignored(paths, std::nullopt) == std::set<std::string>{"notes.txt", "data/raw/z.csv"}));
    // The request's wins over the repo's.
    BOOST_TEST(ignored(paths, "").empty());
}

BOOST_AUTO_TEST_SUITE_END()
