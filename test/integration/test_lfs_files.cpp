// The LFS files API (list_lfs_files, permanently_delete_lfs_files): a repo's objects with a
// name and ref for each, paginated; deleting drops the repo's grant, and the bytes leave the
// store only when no other repo holds the object. Writers only.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

using namespace hfhub::test;
namespace fs = std::filesystem;

namespace {

struct files_fixture {
    test_server s;

    // Uploads `data` through `repo`'s batch and commits it as `path` on `rev`; returns its oid.
    std::string put(const std::string& repo, const std::string& path, const std::string& data,
                    const std::string& rev = "main") {
        std::string oid = s.upload_lfs(repo, data, alice_token);
        must_commit(s, "models/" + repo, rev, {test_server::add_lfs(path, oid, data.size())});
        return oid;
    }
    http_response list(const std::string& repo, const std::string& token = alice_token, const std::string& query = {}) {
        return s.get("/api/models/" + repo + "/lfs-files" + query, token);
    }
    // Every item, following the Link header; by oid.
    std::map<std::string, json::object> all(const std::string& repo, const std::string& query = {}) {
        std::map<std::string, json::object> out;
        auto r = list(repo, alice_token, query);
        for (int pages = 0;; ++pages) {
            if (r.status != 200) throw std::runtime_error("lfs-files: " + std::to_string(r.status) + " " + r.body);
            auto page = parse_json(r);
            for (auto& v : page.as_array())
                if (!out.emplace(jstr(v, "fileOid"), v.as_object()).second)
                    throw std::runtime_error("listed twice: " + jstr(v, "fileOid"));
            auto next = next_link(r);
            if (!next || pages > 100) break;
            r = http_request("GET", *next, {}, {{"Authorization", bearer(alice_token)}});
        }
        return out;
    }
    http_response remove(const std::string& repo, const std::vector<std::string>& oids, bool rewrite,
                         const std::string& token = alice_token) {
        json::array sha;
        for (auto& o : oids) sha.emplace_back(o);
        json::object body{{"deletions", json::object{{"sha", sha}, {"rewriteHistory", rewrite}}}};
        return s.post("/api/models/" + repo + "/lfs-files/batch", json::serialize(body), token);
    }
    fs::path stored(const std::string& oid) const { return s.root() / "lfs" / oid.substr(0, 2) / oid; }
    // resolve's answer for `path` at `rev`, and the bytes behind its redirect.
    std::pair<unsigned, std::string> download(const std::string& repo, const std::string& path,
                                              const std::string& rev = "main") {
        auto h = s.get("/" + repo + "/resolve/" + q(rev) + "/" + path, alice_token);
        if (h.status != 302) return {h.status, h.header("x-error-code")};
        auto got = http_request("GET", h.header("location"));
        return {got.status, got.body};
    }
};

std::set<std::string> keys(const std::map<std::string, json::object>& m) {
    std::set<std::string> out;
    for (auto& [k, _] : m) out.insert(k);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lfs_files)

BOOST_FIXTURE_TEST_CASE(list_names_each_repos_own_objects, files_fixture) {
    s.create_repo("alice/a", alice_token);
    s.create_repo("alice/b", alice_token);
    std::string shared = pattern_bytes(3000, 1), only_a = pattern_bytes(2000, 2), only_b = pattern_bytes(1000, 3);
    std::string x = put("alice/a", "w/shared.bin", shared);
    std::string ya = put("alice/a", "a.bin", only_a);
    BOOST_TEST(put("alice/b", "copy.bin", shared) == x);
    std::string zb = put("alice/b", "b.bin", only_b);
    // On a branch only, and uploaded but never committed.
    BOOST_REQUIRE(s.post("/api/models/alice/a/branch/dev", "{}", alice_token).status == 200u);
    std::string dev = put("alice/a", "dev.bin", pattern_bytes(500, 4), "dev");
    std::string loose = s.upload_lfs("alice/a", pattern_bytes(700, 5), alice_token);

    auto a = all("alice/a");
    BOOST_TEST((keys(a) == std::set<std::string>{x, ya, dev, loose}));
    auto b = all("alice/b");
    BOOST_TEST((keys(b) == std::set<std::string>{x, zb}));

    // The fields the Python client's LFSFileInfo reads.
    auto& e = a.at(x);
    BOOST_TEST(jstr(e.at("oid")) == x);
    BOOST_TEST(e.at("size").to_number<std::size_t>() == shared.size());
    BOOST_TEST(jstr(e.at("filename")) == "w/shared.bin");
    BOOST_TEST(jstr(e.at("ref")) == "refs/heads/main");
    BOOST_TEST(std::regex_match(jstr(e.at("pushedAt")), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    BOOST_TEST(jstr(b.at(x).at("filename")) == "copy.bin");
    BOOST_TEST(jstr(a.at(dev).at("ref")) == "refs/heads/dev");
    BOOST_TEST(jstr(a.at(dev).at("filename")) == "dev.bin");
    BOOST_TEST(a.at(loose).at("ref").is_null());
    BOOST_TEST(jstr(a.at(loose).at("filename")).empty());
    BOOST_TEST(a.at(loose).at("size").to_number<std::size_t>() == 700u);
}

BOOST_FIXTURE_TEST_CASE(delete_from_one_repo_keeps_the_others_download, files_fixture) {
    s.create_repo("alice/a", alice_token);
    s.create_repo("alice/b", alice_token);
    std::string shared = pattern_bytes(4000, 7), own = pattern_bytes(3000, 8);
    std::string x = put("alice/a", "shared.bin", shared);
    std::string y = put("alice/a", "own.bin", own);
    put("alice/b", "shared.bin", shared);

    // History kept: a's commits still point at x, and a's download of it fails typed.
    auto r = remove("alice/a", {x}, false);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(parse_json(r).at("freed").to_number<int>() == 0);  // b holds it
    BOOST_TEST((keys(all("alice/a")) == std::set<std::string>{y}));
    BOOST_TEST(file_list(s, "models/alice/a") == (std::vector<std::string>{".gitattributes", "own.bin", "shared.bin"}));
    auto gone = download("alice/a", "shared.bin");
    BOOST_TEST(gone.first == 404u);
    BOOST_TEST(gone.second == "EntryNotFound");
    BOOST_TEST(download("alice/a", "own.bin").second == own);
    // b is untouched: its listing, its download, the bytes in the store.
    BOOST_TEST((keys(all("alice/b")) == std::set<std::string>{x}));
    BOOST_TEST(download("alice/b", "shared.bin").second == shared);
    BOOST_TEST(fs::exists(stored(x)));
    // A deleted object can't come back through a copy of the pointer: only new bytes grant it.
    BOOST_TEST(s.commit("models/alice/a", "main", {test_server::add_lfs("again.bin", x, shared.size())}, alice_token)
                   .status == 422u);
    // Nor through a download batch.
    json::object req{{"operation", "download"},
                     {"objects", json::array{json::object{{"oid", x}, {"size", shared.size()}}}}};
    auto batch = s.post("/alice/a.git/info/lfs/objects/batch", json::serialize(req), alice_token,
                        "application/vnd.git-lfs+json");
    BOOST_TEST(!parse_json(batch).at("objects").at(0).as_object().contains("actions"));

    // The last holder lets go: the bytes leave the store.
    r = remove("alice/b", {x}, false);
    BOOST_TEST(parse_json(r).at("freed").to_number<int>() == 1);
    BOOST_TEST(!fs::exists(stored(x)));
    BOOST_TEST(download("alice/b", "shared.bin").first == 404u);
    BOOST_TEST(fs::exists(stored(y)));

    // Uploading the bytes again grants and stores them again.
    BOOST_TEST(put("alice/a", "back.bin", shared) == x);
    BOOST_TEST(download("alice/a", "back.bin").second == shared);
    BOOST_TEST(download("alice/a", "shared.bin").second == shared);
}

BOOST_FIXTURE_TEST_CASE(rewrite_history_drops_the_pointers_from_every_ref, files_fixture) {
    const std::string R = "models/alice/h";
    s.create_repo("alice/h", alice_token);
    std::string big = pattern_bytes(5000, 11), keep = pattern_bytes(2500, 12);
    must_commit(s, R, "main", {test_server::add_file("a.txt", "a\n")});
    std::string x = put("alice/h", "big.bin", big);
    std::string y = put("alice/h", "keep.bin", keep);
    BOOST_REQUIRE(s.post("/api/" + R + "/branch/dev", "{}", alice_token).status == 200u);
    BOOST_REQUIRE(s.post("/api/" + R + "/tag/main", R"({"tag":"v1"})", alice_token).status == 200u);
    must_commit(s, R, "main", {test_server::add_file("b.txt", "b\n")});
    std::string old_head = head_of(s, R);
    std::size_t commits_before = parse_json(s.get("/api/" + R + "/commits/main", alice_token)).as_array().size();

    auto r = remove("alice/h", {x}, true);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(parse_json(r).at("freed").to_number<int>() == 1);
    BOOST_TEST(!fs::exists(stored(x)));
    // Every ref moved to a history without big.bin; everything else is as it was.
    BOOST_TEST(head_of(s, R) != old_head);
    auto files = std::vector<std::string>{".gitattributes", "a.txt", "b.txt", "keep.bin"};
    BOOST_TEST(file_list(s, R) == files);
    BOOST_TEST(file_list(s, R, "dev") == (std::vector<std::string>{".gitattributes", "a.txt", "keep.bin"}));
    BOOST_TEST(file_list(s, R, "v1") == (std::vector<std::string>{".gitattributes", "a.txt", "keep.bin"}));
    auto log = parse_json(s.get("/api/" + R + "/commits/main", alice_token)).as_array();
    BOOST_TEST(log.size() == commits_before);
    for (auto& c : log) {
        auto sha = jstr(c, "id");
        auto tree = parse_json(s.get("/api/" + R + "/tree/" + sha + "?recursive=true", alice_token)).as_array();
        for (auto& e : tree) BOOST_TEST(jstr(e, "path") != "big.bin");
    }
    BOOST_TEST(download("alice/h", "big.bin").second == "EntryNotFound");
    BOOST_TEST(download("alice/h", "keep.bin").second == keep);
    BOOST_TEST(s.get("/alice/h/resolve/main/a.txt", alice_token).body == "a\n");
    BOOST_TEST((keys(all("alice/h")) == std::set<std::string>{y}));
}

BOOST_FIXTURE_TEST_CASE(unknown_or_foreign_oids_change_nothing, files_fixture) {
    s.create_repo("alice/a", alice_token);
    s.create_repo("alice/other", alice_token, true);
    std::string y = put("alice/a", "y.bin", pattern_bytes(1500, 21));
    std::string theirs = put("alice/other", "t.bin", pattern_bytes(1600, 22));
    std::string never = hfhub::util::sha256_hex("never uploaded");

    // Missing anywhere, or held only by another (private) repo: the same 404, nothing deleted.
    for (auto& oid : {never, theirs}) {
        auto r = remove("alice/a", {y, oid}, false);
        BOOST_TEST(r.status == 404u);
        BOOST_TEST(r.header("x-error-code") == "EntryNotFound");
        BOOST_TEST(r.body.find(oid) != std::string::npos);
    }
    BOOST_TEST((keys(all("alice/a")) == std::set<std::string>{y}));
    BOOST_TEST(download("alice/a", "y.bin").first == 200u);
    BOOST_TEST(fs::exists(stored(theirs)));
    BOOST_TEST(remove("alice/a", {"not-an-oid"}, false).status == 400u);
    BOOST_TEST(s.post("/api/models/alice/a/lfs-files/batch", R"({"deletions": {}})", alice_token).status == 400u);
    BOOST_TEST(remove("alice/missing", {y}, false).status == 404u);
    BOOST_TEST(remove("alice/missing", {y}, false).header("x-error-code") == "RepoNotFound");
}

BOOST_FIXTURE_TEST_CASE(only_writers_list_or_delete, files_fixture) {
    s.create_repo("alice/a", alice_token);
    s.create_repo("alice/p", alice_token, true);
    std::string y = put("alice/a", "y.bin", pattern_bytes(1200, 31));

    BOOST_TEST(list("alice/a", "").status == 401u);
    BOOST_TEST(list("alice/a", bob_token).status == 403u);
    BOOST_TEST(remove("alice/a", {y}, true, "").status == 401u);
    BOOST_TEST(remove("alice/a", {y}, true, bob_token).status == 403u);
    // A private repo is a missing one to others, typed.
    auto hidden = list("alice/p", bob_token);
    BOOST_TEST(hidden.status == 404u);
    BOOST_TEST(hidden.header("x-error-code") == "RepoNotFound");
    BOOST_TEST(list("alice/p", "").header("x-error-code") == "RepoNotFound");
    // Nothing happened; an org member writes for the org.
    BOOST_TEST((keys(all("alice/a")) == std::set<std::string>{y}));
    BOOST_TEST(fs::exists(stored(y)));
    s.create_repo("acme/m", alice_token);
    BOOST_TEST(s.get("/api/models/acme/m/lfs-files", alice_token).status == 200u);
    BOOST_TEST(s.get("/api/datasets/alice/a/lfs-files", alice_token).status == 404u);
}

BOOST_FIXTURE_TEST_CASE(pages_follow_the_link_header, files_fixture) {
    s.create_repo("alice/many", alice_token);
    std::set<std::string> oids;
    for (unsigned i = 0; i < 7; ++i) oids.insert(s.upload_lfs("alice/many", pattern_bytes(100 + i, 40 + i), alice_token));

    auto first = list("alice/many", alice_token, "?limit=3");
    BOOST_TEST_REQUIRE(first.status == 200u);
    BOOST_TEST(parse_json(first).as_array().size() == 3u);
    auto next = next_link(first);
    BOOST_TEST_REQUIRE(next.has_value());
    BOOST_TEST(next->starts_with(s.url() + "/api/models/alice/many/lfs-files?"));
    BOOST_TEST((keys(all("alice/many", "?limit=3")) == oids));
    BOOST_TEST((keys(all("alice/many", "?limit=1")) == oids));
    BOOST_TEST(!next_link(list("alice/many")).has_value());

    // An object deleted between pages neither repeats nor shifts the rest.
    std::set<std::string> seen;
    auto first_page = parse_json(first);
    for (auto& v : first_page.as_array()) seen.insert(jstr(v, "oid"));
    BOOST_REQUIRE(remove("alice/many", {*seen.begin()}, false).status == 200u);
    auto r = http_request("GET", *next, {}, {{"Authorization", bearer(alice_token)}});
    while (true) {
        BOOST_TEST_REQUIRE(r.status == 200u);
        auto page = parse_json(r);
        for (auto& v : page.as_array()) BOOST_TEST(seen.insert(jstr(v, "oid")).second);
        auto more = next_link(r);
        if (!more) break;
        r = http_request("GET", *more, {}, {{"Authorization", bearer(alice_token)}});
    }
    BOOST_TEST((seen == oids));
    BOOST_TEST(list("alice/many", alice_token, "?cursor=junk").status == 400u);
}

BOOST_AUTO_TEST_SUITE_END()
