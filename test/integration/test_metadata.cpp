// Read-only metadata: repo info, refs, the commit list, whoami-v2.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

using namespace hfhub::test;

namespace {

const std::string R = "models/alice/m";

struct meta_fixture {
    test_server s;
    std::string initial, c1;
    std::string lfs_data = pattern_bytes(1500, 5);
    std::string lfs_sha;
    meta_fixture() {
        s.create_repo("alice/m", alice_token);
        initial = head_of(s, R);
        lfs_sha = s.upload_lfs("alice/m", lfs_data, alice_token);
        c1 = must_commit(s, R, "main",
                         {test_server::add_file("config.json", "{}"), test_server::add_file("sub/x.txt", "xx"),
                          test_server::add_lfs("model.safetensors", lfs_sha, lfs_data.size())},
                         "Add model");
    }
};

const json::object* sibling(const json::value& info, const std::string& name) {
    for (auto& s : info.at("siblings").as_array())
        if (jstr(s, "rfilename") == name) return &s.as_object();
    return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metadata)

BOOST_FIXTURE_TEST_CASE(repo_info, meta_fixture) {
    auto r = s.get("/api/" + R);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto v = parse_json(r);
    BOOST_TEST(jstr(v, "id") == "alice/m");
    BOOST_TEST(jstr(v, "author") == "alice");
    BOOST_TEST(jstr(v, "sha") == c1);
    BOOST_TEST(v.at("private").as_bool() == false);
    BOOST_TEST(hfhub::util::is_hex(jstr(v, "_id"), 24));
    BOOST_TEST(!jstr(v, "lastModified").empty());
    std::set<std::string> names;
    for (auto& e : v.at("siblings").as_array()) names.insert(jstr(e, "rfilename"));
    BOOST_TEST((names == std::set<std::string>{".gitattributes", "config.json", "sub/x.txt", "model.safetensors"}));
    BOOST_TEST(!sibling(v, "config.json")->contains("size"));
    BOOST_TEST(!sibling(v, "model.safetensors")->contains("lfs"));

    auto b = parse_json(s.get("/api/" + R + "?blobs=true"));
    auto* cfg = sibling(b, "config.json");
    BOOST_TEST(cfg->at("size").to_number<int>() == 2);
    BOOST_TEST(jstr(cfg->at("blobId")) == git_blob_id("{}"));
    BOOST_TEST(!cfg->contains("lfs"));
    auto* m = sibling(b, "model.safetensors");
    BOOST_TEST(m->at("size").to_number<std::size_t>() == lfs_data.size());
    BOOST_TEST(jstr(m->at("lfs").at("sha256")) == lfs_sha);
    BOOST_TEST(m->at("lfs").at("size").to_number<std::size_t>() == lfs_data.size());
    BOOST_TEST(m->at("lfs").at("pointerSize").to_number<std::size_t>() ==
               lfs_pointer_text(lfs_sha, lfs_data.size()).size());
    BOOST_TEST(jstr(m->at("blobId")) == git_blob_id(lfs_pointer_text(lfs_sha, lfs_data.size())));

    auto missing = s.get("/api/models/alice/none", alice_token);
    BOOST_TEST(missing.status == 404u);
    BOOST_TEST(missing.header("x-error-code") == "RepoNotFound");
}

BOOST_FIXTURE_TEST_CASE(info_at_revision, meta_fixture) {
    std::string c2 = must_commit(s, R, "main", {test_server::delete_file("sub/x.txt")});
    BOOST_TEST_REQUIRE(s.post("/api/" + R + "/branch/old", R"({"startingPoint":")" + c1 + "\"}", alice_token).status ==
                       200u);
    for (auto& [rev, sha] : std::vector<std::pair<std::string, std::string>>{
             {"main", c2}, {"HEAD", c2}, {"old", c1}, {c1, c1}, {initial, initial}, {"refs%2Fheads%2Fold", c1}}) {
        auto r = s.get("/api/" + R + "/revision/" + rev);
        BOOST_TEST_REQUIRE(r.status == 200u, rev << ": " << r.body);
        BOOST_TEST(jstr(parse_json(r), "sha") == sha, rev);
    }
    // The siblings are those of that revision.
    auto old = parse_json(s.get("/api/" + R + "/revision/old"));
    BOOST_TEST(sibling(old, "sub/x.txt") != nullptr);
    BOOST_TEST(sibling(parse_json(s.get("/api/" + R + "/revision/main")), "sub/x.txt") == nullptr);
    auto r = s.get("/api/" + R + "/revision/nope");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
}

BOOST_FIXTURE_TEST_CASE(refs, meta_fixture) {
    BOOST_TEST_REQUIRE(s.post("/api/" + R + "/branch/dev", "{}", alice_token).status == 200u);
    BOOST_TEST_REQUIRE(s.post("/api/" + R + "/tag/" + initial, R"({"tag":"v0"})", alice_token).status == 200u);
    auto pr = s.post("/api/" + R + "/discussions", R"({"title":"p","pullRequest":true})", alice_token);
    BOOST_TEST_REQUIRE(pr.status == 200u);
    std::string c2 = must_commit(s, R, "refs/pr/1", {test_server::add_file("p.txt", "p")});

    auto v = parse_json(s.get("/api/" + R + "/refs"));
    std::map<std::string, std::string> branches;
    for (auto& b : v.at("branches").as_array()) {
        branches[jstr(b, "name")] = jstr(b, "targetCommit");
        BOOST_TEST(jstr(b, "ref") == "refs/heads/" + jstr(b, "name"));
    }
    BOOST_TEST((branches == std::map<std::string, std::string>{{"main", c1}, {"dev", c1}}));
    auto& tags = v.at("tags").as_array();
    BOOST_TEST_REQUIRE(tags.size() == 1u);
    BOOST_TEST(jstr(tags[0], "name") == "v0");
    BOOST_TEST(jstr(tags[0], "ref") == "refs/tags/v0");
    BOOST_TEST(jstr(tags[0], "targetCommit") == initial);
    BOOST_TEST(v.at("converts").as_array().empty());
    BOOST_TEST(!v.as_object().contains("pullRequests"));

    auto w = parse_json(s.get("/api/" + R + "/refs?include_prs=1"));
    auto& prs = w.at("pullRequests").as_array();
    BOOST_TEST_REQUIRE(prs.size() == 1u);
    BOOST_TEST(jstr(prs[0], "ref") == "refs/pr/1");
    BOOST_TEST(jstr(prs[0], "targetCommit") == c2);
}

BOOST_FIXTURE_TEST_CASE(commit_list, meta_fixture) {
    std::vector<std::string> ids = {initial, c1};
    for (int i = 0; i < 5; ++i)
        ids.push_back(must_commit(s, R, "main", {test_server::add_file("n.txt", std::to_string(i))},
                                  "step " + std::to_string(i)));
    std::vector<std::string> newest_first(ids.rbegin(), ids.rend());

    auto r = s.get("/api/" + R + "/commits/main");
    BOOST_TEST_REQUIRE(r.status == 200u);
    BOOST_TEST(r.header("x-total-count") == "7");
    auto arr = parse_json(r).as_array();
    std::vector<std::string> got;
    for (auto& e : arr) got.push_back(jstr(e, "id"));
    BOOST_TEST(got == newest_first);
    BOOST_TEST(jstr(arr[0], "title") == "step 4");
    BOOST_TEST(jstr(arr[0].at("authors").at(0), "user") == "alice");
    BOOST_TEST(!jstr(arr[0], "date").empty());
    BOOST_TEST(!next_link(r).has_value());

    // Paginated with absolute Links.
    got.clear();
    std::string url = s.url() + "/api/" + R + "/commits/main?limit=3";
    int pages = 0;
    while (true) {
        auto p = http_request("GET", url);
        BOOST_TEST_REQUIRE(p.status == 200u);
        BOOST_TEST(p.header("x-total-count") == "7");
        auto page = parse_json(p);
        for (auto& e : page.as_array()) got.push_back(jstr(e, "id"));
        BOOST_TEST_REQUIRE(++pages < 10);
        auto next = next_link(p);
        if (!next) break;
        BOOST_TEST(next->starts_with(s.url() + "/"));
        url = *next;
    }
    BOOST_TEST(pages == 3);
    BOOST_TEST(got == newest_first);

    // A commit landing between pages doesn't shift them.
    auto first = http_request("GET", s.url() + "/api/" + R + "/commits/main?limit=3");
    auto next = next_link(first);
    BOOST_TEST_REQUIRE(next.has_value());
    must_commit(s, R, "main", {test_server::add_file("late.txt", "late")});
    got.clear();
    {
        auto v = parse_json(first);
        for (auto& e : v.as_array()) got.push_back(jstr(e, "id"));
    }
    while (next) {
        auto p = http_request("GET", *next);
        auto v = parse_json(p);
        for (auto& e : v.as_array()) got.push_back(jstr(e, "id"));
        next = next_link(p);
    }
    BOOST_TEST(got == newest_first);

    // From an older revision, and from a missing one.
    auto old = parse_json(s.get("/api/" + R + "/commits/" + c1)).as_array();
    BOOST_TEST_REQUIRE(old.size() == 2u);
    BOOST_TEST(jstr(old[0], "id") == c1);
    auto nr = s.get("/api/" + R + "/commits/nope");
    BOOST_TEST(nr.status == 404u);
    BOOST_TEST(nr.header("x-error-code") == "RevisionNotFound");
    // expand[]=formatted adds the formatted block.
    auto f = parse_json(s.get("/api/" + R + "/commits/" + ids.back() + "?expand%5B%5D=formatted")).as_array();
    BOOST_TEST(jstr(f[0].at("formatted"), "title") == "step 4");
    // ...on every page, since clients follow the Link as given.
    std::size_t formatted = 0;
    for (std::optional<std::string> u = s.url() + "/api/" + R + "/commits/main?limit=3&expand%5B%5D=formatted"; u;) {
        auto p = http_request("GET", *u);
        auto v = parse_json(p);
        for (auto& e : v.as_array()) formatted += e.as_object().contains("formatted");
        u = next_link(p);
    }
    BOOST_TEST(formatted == ids.size() + 1);  // + late.txt
}

BOOST_AUTO_TEST_CASE(whoami) {
    test_server s;
    auto r = s.get("/api/whoami-v2");
    BOOST_TEST(r.status == 401u);
    r = s.get("/api/whoami-v2", "hf_not_a_token");
    BOOST_TEST(r.status == 401u);
    BOOST_TEST(r.header("x-error-message") == "Invalid credentials in Authorization header");
    r = s.send("GET", "/api/whoami-v2", {}, {}, {{"Authorization", "Basic YTpi"}});
    BOOST_TEST(r.status == 401u);

    r = s.get("/api/whoami-v2", alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u);
    auto v = parse_json(r);
    BOOST_TEST(jstr(v, "type") == "user");
    BOOST_TEST(jstr(v, "name") == "alice");
    BOOST_TEST(!jstr(v, "id").empty());
    auto& orgs = v.at("orgs").as_array();
    BOOST_TEST_REQUIRE(orgs.size() == 1u);
    BOOST_TEST(jstr(orgs[0], "name") == "acme");
    BOOST_TEST(jstr(v.at("auth"), "type") == "access_token");
    BOOST_TEST(!jstr(v.at("auth").at("accessToken"), "role").empty());

    auto b = parse_json(s.get("/api/whoami-v2", bob_token));
    BOOST_TEST(jstr(b, "name") == "bob");
    BOOST_TEST(b.at("orgs").as_array().empty());
    BOOST_TEST(jstr(b, "id") != jstr(v, "id"));
}

BOOST_AUTO_TEST_SUITE_END()
