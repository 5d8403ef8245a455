// What the official clients expect of the Hub, route by route: gated repos, auth-check, legacy
// and case-insensitive ids, short commit ids, the Hub's error order and messages, query flags,
// ?expand=, and the folder a deletedFile names.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <set>

using namespace hfhub::test;

namespace {

const std::string R = "models/alice/g";

// alice/g: a.txt and an LFS w.bin on main.
struct gate_fixture {
    test_server s;
    std::string data = pattern_bytes(300, 7);
    gate_fixture() {
        s.create_repo("alice/g", alice_token);
        std::string sha = s.upload_lfs("alice/g", data, alice_token);
        must_commit(s, R, "main", {test_server::add_file("a.txt", "A"), test_server::add_lfs("w.bin", sha, data.size())});
    }
    http_response settings(const std::string& body, const std::string& token = alice_token,
                           const std::string& repo = R) {
        return s.send("PUT", "/api/" + repo + "/settings", body, token, {{"Content-Type", "application/json"}});
    }
    http_response batch_download(const std::string& token) {
        std::string body = json::serialize(json::object{
            {"operation", "download"},
            {"objects", json::array{json::object{{"oid", hfhub::util::sha256_hex(data)}, {"size", data.size()}}}}});
        return s.post("/alice/g.git/info/lfs/objects/batch", body, token, "application/vnd.git-lfs+json");
    }
};

void expect_error(const http_response& r, unsigned status, const std::string& code, const std::string& what) {
    BOOST_TEST(r.status == status, what << ": " << r.status << " " << r.body);
    BOOST_TEST(r.header("x-error-code") == code, what);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hub_fidelity)

BOOST_FIXTURE_TEST_CASE(gated_setting_is_stored_and_reported, gate_fixture) {
    BOOST_TEST(parse_json(s.get("/api/" + R)).at("gated").as_bool() == false);
    for (std::string mode : {"auto", "manual"}) {
        auto r = settings(R"({"gated":")" + mode + "\"}");
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
        BOOST_TEST(jstr(parse_json(s.get("/api/" + R)), "gated") == mode);
        BOOST_TEST(jstr(parse_json(s.get("/api/" + R + "/revision/main")), "gated") == mode);
    }
    // Changing the visibility leaves the gate alone.
    BOOST_TEST_REQUIRE(settings(R"({"visibility":"public"})").status == 200u);
    BOOST_TEST(jstr(parse_json(s.get("/api/" + R)), "gated") == "manual");
    BOOST_TEST(settings(R"({"gated":"yes"})").status == 400u);
    BOOST_TEST(settings(R"({"gated":true})").status == 400u);
    BOOST_TEST(settings(R"({"gated":false})", bob_token).status == 403u);
    BOOST_TEST(jstr(parse_json(s.get("/api/" + R)), "gated") == "manual");
    BOOST_TEST_REQUIRE(settings(R"({"gated":false})").status == 200u);
    BOOST_TEST(parse_json(s.get("/api/" + R)).at("gated").as_bool() == false);
}

BOOST_FIXTURE_TEST_CASE(gated_repo_refuses_downloads_to_outsiders, gate_fixture) {
    BOOST_TEST_REQUIRE(settings(R"({"gated":"manual"})").status == 200u);
    for (auto& method : {"GET", "HEAD"}) {
        for (std::string path : {"/alice/g/resolve/main/a.txt", "/alice/g/resolve/main/w.bin", "/alice/g/raw/main/a.txt"}) {
            expect_error(s.send(method, path, {}, ""), 401u, "GatedRepo", std::string(method) + " anonymous " + path);
            auto r = s.send(method, path, {}, bob_token);
            expect_error(r, 403u, "GatedRepo", std::string(method) + " bob " + path);
            BOOST_TEST(!r.has_header("location"));
        }
    }
    expect_error(batch_download(bob_token), 403u, "GatedRepo", "batch download as bob");
    expect_error(batch_download(""), 401u, "GatedRepo", "batch download anonymous");
    // The repo itself stays visible: its card and file list are public, as on the Hub.
    BOOST_TEST(s.get("/api/" + R, bob_token).status == 200u);
    BOOST_TEST(s.get("/api/" + R + "/tree/main", bob_token).status == 200u);

    // The owner keeps access.
    BOOST_TEST(s.get("/alice/g/resolve/main/a.txt", alice_token).body == "A");
    BOOST_TEST(s.head("/alice/g/resolve/main/w.bin", alice_token).status == 302u);
    auto ok = batch_download(alice_token);
    BOOST_TEST_REQUIRE(ok.status == 200u, ok.body);
    BOOST_TEST(parse_json(ok).at("objects").at(0).as_object().contains("actions"));

    // A grant from the owner opens it to bob, and only to bob.
    BOOST_TEST(s.post("/api/" + R + "/user-access-request/grant", R"({"user":"bob"})", bob_token).status == 403u);
    BOOST_TEST(s.post("/api/" + R + "/user-access-request/grant", R"({"user":"carol"})", alice_token).status == 404u);
    BOOST_TEST_REQUIRE(s.post("/api/" + R + "/user-access-request/grant", R"({"user":"bob"})", alice_token).status == 200u);
    BOOST_TEST(s.get("/alice/g/resolve/main/a.txt", bob_token).body == "A");
    BOOST_TEST(batch_download(bob_token).status == 200u);
    expect_error(s.get("/alice/g/resolve/main/a.txt"), 401u, "GatedRepo", "anonymous after the grant");

    // Ungated: anyone again.
    BOOST_TEST_REQUIRE(settings(R"({"gated":false})").status == 200u);
    BOOST_TEST(s.get("/alice/g/resolve/main/a.txt").body == "A");
}

BOOST_FIXTURE_TEST_CASE(gated_org_repo_open_to_members, gate_fixture) {
    s.create_repo("acme/m", alice_token);
    must_commit(s, "models/acme/m", "main", {test_server::add_file("x.txt", "X")});
    BOOST_TEST_REQUIRE(settings(R"({"gated":"auto"})", alice_token, "models/acme/m").status == 200u);
    BOOST_TEST(s.get("/acme/m/resolve/main/x.txt", alice_token).body == "X");  // alice is in acme
    expect_error(s.get("/acme/m/resolve/main/x.txt", bob_token), 403u, "GatedRepo", "bob on acme/m");
}

BOOST_FIXTURE_TEST_CASE(auth_check_answers_typed, gate_fixture) {
    const std::string check = "/api/" + R + "/auth-check";
    BOOST_TEST(s.get(check).status == 200u);
    BOOST_TEST(s.get(check, bob_token).status == 200u);
    BOOST_TEST(s.get(check + "/write", alice_token).status == 200u);
    BOOST_TEST(s.get(check + "/write", bob_token).status == 403u);

    BOOST_TEST_REQUIRE(settings(R"({"gated":"auto"})").status == 200u);
    expect_error(s.get(check), 401u, "GatedRepo", "gated, anonymous");
    expect_error(s.get(check, bob_token), 403u, "GatedRepo", "gated, bob");
    BOOST_TEST(s.get(check, alice_token).status == 200u);

    s.create_repo("alice/priv", alice_token, true);
    expect_error(s.get("/api/models/alice/priv/auth-check"), 401u, "RepoNotFound", "private, anonymous");
    expect_error(s.get("/api/models/alice/priv/auth-check", bob_token), 404u, "RepoNotFound", "private, bob");
    BOOST_TEST(s.get("/api/models/alice/priv/auth-check", alice_token).status == 200u);
    expect_error(s.get("/api/models/alice/none/auth-check", bob_token), 404u, "RepoNotFound", "missing");
    expect_error(s.get("/api/datasets/alice/g/auth-check", bob_token), 404u, "RepoNotFound", "other type");
}

BOOST_AUTO_TEST_CASE(legacy_ids_without_namespace_are_typed_not_found) {
    test_server s;
    // A repo whose name is a route's keyword is still reached as ns/name.
    s.create_repo("alice/tree", alice_token);
    auto tree_repo = s.get("/api/models/alice/tree", alice_token);
    BOOST_TEST_REQUIRE(tree_repo.status == 200u, tree_repo.body);
    BOOST_TEST(jstr(parse_json(tree_repo), "id") == "alice/tree");

    std::string batch = R"({"operation":"download","objects":[]})";
    struct probe {
        std::string method, path, body;
    };
    std::vector<probe> probes{
        {"GET", "/api/models/gpt2", ""},
        {"GET", "/api/models/gpt2/revision/main", ""},
        {"GET", "/api/models/gpt2/commits/main", ""},
        {"GET", "/api/models/gpt2/tree/main", ""},
        {"GET", "/api/models/gpt2/refs", ""},
        {"GET", "/api/datasets/squad", ""},
        {"GET", "/api/spaces/bert-base-uncased/revision/main", ""},
        {"GET", "/gpt2/resolve/main/config.json", ""},
        {"HEAD", "/gpt2/resolve/main/config.json", ""},
        {"HEAD", "/bert-base-uncased/resolve/refs%2Fpr%2F1/config.json", ""},
        {"GET", "/datasets/squad/resolve/main/train.json", ""},
        {"POST", "/gpt2.git/info/lfs/objects/batch", batch},
    };
    for (auto& p : probes) {
        auto r = s.send(p.method, p.path, p.body, bob_token, {{"Content-Type", "application/json"}});
        expect_error(r, 404u, "RepoNotFound", p.method + " " + p.path);
        // Anonymous callers get the Hub's 401, typed the same.
        expect_error(s.send(p.method, p.path, p.body, "", {{"Content-Type", "application/json"}}), 401u,
                     "RepoNotFound", "anonymous " + p.method + " " + p.path);
    }
}

BOOST_AUTO_TEST_CASE(repo_ids_are_case_insensitive) {
    test_server s;
    auto r = s.post("/api/repos/create", R"({"name":"My-Model","organization":"alice"})", alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    must_commit(s, "models/alice/my-model", "main", {test_server::add_file("f.txt", "F")});
    for (std::string id : {"alice/My-Model", "alice/my-model", "ALICE/MY-MODEL"}) {
        auto info = s.get("/api/models/" + id, alice_token);
        BOOST_TEST_REQUIRE(info.status == 200u, id << ": " << info.body);
        BOOST_TEST(jstr(parse_json(info), "id") == "alice/My-Model", id);  // the name as created
        BOOST_TEST(s.get("/" + id + "/resolve/main/f.txt").body == "F", id);
    }
    // One repo, not two: the other spelling conflicts, and a commit through it lands there.
    r = s.post("/api/repos/create", R"({"name":"MY-model","organization":"alice"})", alice_token);
    BOOST_TEST(r.status == 409u, r.body);
    std::string c = must_commit(s, "models/Alice/MY-MODEL", "main", {test_server::add_file("g.txt", "G")});
    BOOST_TEST(head_of(s, "models/alice/My-Model") == c);
    BOOST_TEST(s.get("/api/datasets/alice/my-model", alice_token).status == 404u);
}

BOOST_AUTO_TEST_CASE(short_commit_ids_resolve_everywhere) {
    test_server s;
    s.create_repo("alice/s", alice_token);
    const std::string api = "models/alice/s";
    std::string c1 = must_commit(s, api, "main", {test_server::add_file("f.txt", "one")});
    must_commit(s, api, "main", {test_server::add_file("f.txt", "two")});
    for (std::size_t n : {7u, 12u, 39u}) {
        std::string id = c1.substr(0, n);
        BOOST_TEST(s.get("/alice/s/resolve/" + id + "/f.txt").body == "one", n);
        auto h = s.head("/alice/s/resolve/" + id + "/f.txt");
        BOOST_TEST(h.header("x-repo-commit") == c1, n);
        BOOST_TEST(head_of(s, api, id) == c1, n);
        BOOST_TEST(s.get("/api/" + api + "/tree/" + id).status == 200u, n);
        auto commits = s.get("/api/" + api + "/commits/" + id);
        BOOST_TEST_REQUIRE(commits.status == 200u, n);
        BOOST_TEST(jstr(parse_json(commits).at(0), "id") == c1, n);
    }
    std::string short_id = c1.substr(0, 7);
    BOOST_TEST_REQUIRE(s.post("/api/" + api + "/branch/old", R"({"startingPoint":")" + short_id + "\"}", alice_token).status == 200u);
    BOOST_TEST(head_of(s, api, "old") == c1);
    BOOST_TEST_REQUIRE(s.post("/api/" + api + "/tag/" + short_id, R"({"tag":"v1"})", alice_token).status == 200u);
    BOOST_TEST(head_of(s, api, "v1") == c1);
    // Six characters are too few, and an id no commit starts with names nothing.
    expect_error(s.get("/alice/s/resolve/" + c1.substr(0, 6) + "/f.txt"), 404u, "RevisionNotFound", "6 chars");
    std::string other = c1.substr(0, 6) + (c1[6] == '0' ? "1" : "0");
    expect_error(s.get("/alice/s/resolve/" + other + "/f.txt"), 404u, "RevisionNotFound", "no such prefix");
}

BOOST_AUTO_TEST_CASE(stale_parent_gets_the_hub_message) {
    test_server s;
    s.create_repo("alice/p", alice_token);
    std::string c1 = must_commit(s, "models/alice/p", "main", {test_server::add_file("f.txt", "1")});
    must_commit(s, "models/alice/p", "main", {test_server::add_file("f.txt", "2")});
    auto r = s.commit("models/alice/p", "main", {test_server::add_file("f.txt", "3")}, alice_token, "t", "", c1);
    BOOST_TEST_REQUIRE(r.status == 412u, r.body);
    const std::string want = "A commit has happened since. Please refresh and try again.";
    BOOST_TEST(r.header("x-error-message") == want);
    BOOST_TEST(jstr(parse_json(r), "error") == want);
}

BOOST_AUTO_TEST_CASE(tag_on_missing_revision_is_not_found_first) {
    test_server s;
    s.create_repo("alice/t", alice_token);
    for (std::string body : {R"({"tag":"a..b"})", R"({"tag":"HEAD"})", R"({})"}) {
        auto r = s.post("/api/models/alice/t/tag/nope", body, alice_token);
        expect_error(r, 404u, "RevisionNotFound", body);
    }
    BOOST_TEST(s.post("/api/models/alice/t/tag/main", R"({"tag":"a..b"})", alice_token).status == 400u);
}

BOOST_AUTO_TEST_CASE(query_flags_accept_python_spelling) {
    test_server s;
    s.create_repo("alice/q", alice_token);
    std::string data = pattern_bytes(200, 3);
    std::string sha = s.upload_lfs("alice/q", data, alice_token);
    must_commit(s, "models/alice/q", "main", {test_server::add_lfs("w.bin", sha, data.size())});
    auto sibling = [&](const std::string& query) {
        auto v = parse_json(s.get("/api/models/alice/q" + query));
        for (auto& e : v.at("siblings").as_array())
            if (jstr(e, "rfilename") == "w.bin") return e.as_object();
        throw std::runtime_error("no w.bin in " + query);
    };
    for (std::string on : {"?blobs=True", "?blobs=true", "?blobs=1"}) {
        auto e = sibling(on);
        BOOST_TEST_REQUIRE(e.contains("size"), on);
        BOOST_TEST(e.at("size").to_number<std::size_t>() == data.size(), on);
        BOOST_TEST(jstr(e.at("lfs"), "sha256") == sha, on);
    }
    for (std::string off : {"", "?blobs=False", "?blobs=false", "?blobs=0"}) {
        auto e = sibling(off);
        BOOST_TEST(!e.contains("size"), off);
        BOOST_TEST(!e.contains("lfs"), off);
    }
    auto tree = parse_json(s.get("/api/models/alice/q/tree/main?recursive=True&expand=True"));
    BOOST_TEST(tree.at(0).as_object().contains("lastCommit"));
}

BOOST_AUTO_TEST_CASE(expand_returns_what_was_asked) {
    test_server s;
    s.create_repo("alice/e", alice_token);
    s.create_repo("alice/sp", alice_token, false, "space");
    auto keys = [](const json::value& v) {
        std::set<std::string> out;
        for (auto& [k, _] : v.as_object()) out.insert(std::string(k));
        return out;
    };
    auto r = s.get("/api/models/alice/e?expand=sha&expand=private");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto v = parse_json(r);
    BOOST_TEST((keys(v) == std::set<std::string>{"_id", "id", "sha", "private"}));
    BOOST_TEST(jstr(v, "sha") == head_of(s, "models/alice/e"));
    v = parse_json(s.get("/api/models/alice/e/revision/main?expand%5B%5D=gated&expand%5B%5D=lastModified"));
    BOOST_TEST((keys(v) == std::set<std::string>{"_id", "id", "gated", "lastModified"}));
    v = parse_json(s.get("/api/spaces/alice/sp?expand=sdk"));
    BOOST_TEST(jstr(v, "sdk") == "static");
    // Unknown names, and names of another repo type's properties, are refused.
    for (std::string bad : {"/api/models/alice/e?expand=bogus", "/api/models/alice/e?expand=sha&expand=sdk",
                            "/api/spaces/alice/sp?expand=pipeline_tag"}) {
        r = s.get(bad);
        BOOST_TEST(r.status == 400u, bad << ": " << r.body);
    }
}

BOOST_AUTO_TEST_CASE(deleted_file_on_a_folder_deletes_it) {
    test_server s;
    s.create_repo("alice/d", alice_token);
    const std::string api = "models/alice/d";
    must_commit(s, api, "main",
                {test_server::add_file("keep.txt", "k"), test_server::add_file("dir/a.txt", "a"),
                 test_server::add_file("dir/sub/b.txt", "b"), test_server::add_file("dir2/c.txt", "c"),
                 test_server::add_file("dirx.txt", "x")});
    must_commit(s, api, "main", {test_server::delete_file("dir")});
    BOOST_TEST((file_list(s, api) == std::vector<std::string>{".gitattributes", "dir2/c.txt", "dirx.txt", "keep.txt"}));
    must_commit(s, api, "main", {test_server::delete_file("dir2/")});
    BOOST_TEST((file_list(s, api) == std::vector<std::string>{".gitattributes", "dirx.txt", "keep.txt"}));
    auto r = s.commit(api, "main", {test_server::delete_file("nothing")}, alice_token);
    expect_error(r, 404u, "EntryNotFound", "missing path");
}

BOOST_AUTO_TEST_CASE(security_status_has_the_shape_clients_parse) {
    test_server s;
    s.create_repo("alice/sec", alice_token);
    must_commit(s, "models/alice/sec", "main", {test_server::add_file("model.pkl", "p")});
    auto check = [](const json::value& entry, const std::string& what) {
        BOOST_TEST_REQUIRE(entry.as_object().contains("securityFileStatus"), what);
        auto& sec = entry.at("securityFileStatus").as_object();
        BOOST_TEST(!jstr(sec.at("status")).empty(), what);
        BOOST_TEST(sec.contains("avScan"), what);
        BOOST_TEST(sec.contains("pickleImportScan"), what);
        // Nothing is scanned here, so nothing may claim to be safe.
        BOOST_TEST(jstr(sec.at("status")) != "safe", what);
    };
    auto tree = parse_json(s.get("/api/models/alice/sec/tree/main?expand=true"));
    for (auto& e : tree.as_array())
        if (jstr(e, "type") == "file") check(e, "tree " + jstr(e, "path"));
    auto info = parse_json(s.post("/api/models/alice/sec/paths-info/main", R"({"paths":["model.pkl"],"expand":true})",
                                  alice_token));
    BOOST_TEST_REQUIRE(info.as_array().size() == 1u);
    check(info.at(0), "paths-info");
}

BOOST_AUTO_TEST_SUITE_END()
