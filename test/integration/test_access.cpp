// Who may see what: a private repo must be indistinguishable from a missing one to outsiders.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace hfhub::test;

namespace {

struct probe {
    std::string name, method, path, body, content_type;
};

// Every read route, for repo `id` ("ns/name", a model).
std::vector<probe> read_probes(const std::string& id) {
    std::string api = "/api/models/" + id;
    std::string batch = json::serialize(json::object{
        {"operation", "download"},
        {"objects", json::array{json::object{{"oid", hfhub::util::sha256_hex("x")}, {"size", 1}}}}});
    std::string upload = json::serialize(json::object{
        {"operation", "upload"},
        {"objects", json::array{json::object{{"oid", hfhub::util::sha256_hex("x")}, {"size", 1}}}}});
    return {
        {"info", "GET", api, "", ""},
        {"info@rev", "GET", api + "/revision/main", "", ""},
        {"tree", "GET", api + "/tree/main", "", ""},
        {"tree sub", "GET", api + "/tree/main/dir", "", ""},
        {"resolve", "GET", "/" + id + "/resolve/main/secret.txt", "", ""},
        {"resolve HEAD", "HEAD", "/" + id + "/resolve/main/secret.txt", "", ""},
        {"resolve missing file", "GET", "/" + id + "/resolve/main/missing.txt", "", ""},
        {"paths-info", "POST", api + "/paths-info/main", "paths=secret.txt", "application/x-www-form-urlencoded"},
        {"refs", "GET", api + "/refs", "", ""},
        {"commits", "GET", api + "/commits/main", "", ""},
        {"discussions", "GET", api + "/discussions", "", ""},
        {"lfs batch download", "POST", "/" + id + ".git/info/lfs/objects/batch", batch, "application/vnd.git-lfs+json"},
        {"lfs batch upload", "POST", "/" + id + ".git/info/lfs/objects/batch", upload, "application/vnd.git-lfs+json"},
        {"preupload", "POST", api + "/preupload/main", R"({"files":[]})", "application/json"},
    };
}

http_response run(test_server& s, const probe& p, const std::string& token) {
    header_pairs h;
    if (!p.content_type.empty()) h.emplace_back("Content-Type", p.content_type);
    return s.send(p.method, p.path, p.body, token, h);
}

struct private_fixture {
    test_server s;
    private_fixture() {
        s.create_repo("alice/secret", alice_token, true);
        must_commit(s, "models/alice/secret", "main",
                    {test_server::add_file("secret.txt", "s3cr3t"), test_server::add_file("dir/x.txt", "x")});
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(visibility)

BOOST_FIXTURE_TEST_CASE(private_repo_looks_missing, private_fixture) {
    auto priv = read_probes("alice/secret");
    auto none = read_probes("alice/nothing-here");
    for (std::size_t i = 0; i < priv.size(); ++i) {
        for (auto& [who, token, status] : std::vector<std::tuple<std::string, std::string, unsigned>>{
                 {"anonymous", "", 401u}, {"bob", bob_token, 404u}}) {
            auto p = run(s, priv[i], token);
            auto m = run(s, none[i], token);
            std::string ctx = priv[i].name + " as " + who;
            BOOST_TEST(p.status == status, ctx << ": " << p.status << " " << p.body);
            BOOST_TEST(p.status == m.status, ctx);
            BOOST_TEST(p.header("x-error-code") == "RepoNotFound", ctx);
            BOOST_TEST(p.header("x-error-code") == m.header("x-error-code"), ctx);
            BOOST_TEST(p.header("x-error-message") == m.header("x-error-message"), ctx);
            BOOST_TEST(p.body == m.body, ctx);
            BOOST_TEST(!p.has_header("x-repo-commit"), ctx);
            BOOST_TEST(p.body.find("s3cr3t") == std::string::npos, ctx);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(owner_sees_private_repo, private_fixture) {
    for (auto& p : read_probes("alice/secret")) {
        auto r = run(s, p, alice_token);
        unsigned want = p.name == "resolve missing file" ? 404u : 200u;
        BOOST_TEST(r.status == want, p.name << ": " << r.status << " " << r.body);
    }
    auto info = parse_json(s.get("/api/models/alice/secret", alice_token));
    BOOST_TEST(info.at("private").as_bool());
    BOOST_TEST(s.get("/alice/secret/resolve/main/secret.txt", alice_token).body == "s3cr3t");
    // The signed LFS URL needs no token even for a private repo: the signature is the grant.
    std::string data = pattern_bytes(100);
    std::string sha = s.upload_lfs("alice/secret", data, alice_token);
    must_commit(s, "models/alice/secret", "main", {test_server::add_lfs("w.bin", sha, data.size())});
    auto loc = s.head("/alice/secret/resolve/main/w.bin", alice_token).header("location");
    BOOST_TEST(http_request("GET", loc).body == data);
    // ...but anonymous can't get that URL in the first place.
    BOOST_TEST(s.head("/alice/secret/resolve/main/w.bin").status == 401u);
}

BOOST_FIXTURE_TEST_CASE(org_members_share_private_repos, private_fixture) {
    s.create_repo("acme/internal", alice_token, true);
    BOOST_TEST(s.get("/api/models/acme/internal", alice_token).status == 200u);
    BOOST_TEST(s.get("/api/models/acme/internal", bob_token).status == 404u);
}

BOOST_FIXTURE_TEST_CASE(settings_flip_visibility, private_fixture) {
    const std::string settings = "/api/models/alice/secret/settings";
    // Outsiders can't change it (and still can't see it).
    BOOST_TEST(s.send("PUT", settings, R"({"private":false})", bob_token).status == 404u);
    BOOST_TEST(s.send("PUT", settings, R"({"private":false})", "").status == 401u);
    BOOST_TEST(s.get("/alice/secret/resolve/main/secret.txt").status == 401u);

    BOOST_TEST_REQUIRE(s.send("PUT", settings, R"({"private":false})", alice_token).status == 200u);
    BOOST_TEST(s.get("/alice/secret/resolve/main/secret.txt").body == "s3cr3t");
    BOOST_TEST(s.get("/api/models/alice/secret/tree/main", bob_token).status == 200u);
    BOOST_TEST(parse_json(s.get("/api/models/alice/secret")).at("private").as_bool() == false);
    // Public now: bob reaches the repo but may not write to it.
    BOOST_TEST(s.send("PUT", settings, R"({"visibility":"private"})", bob_token).status == 403u);

    BOOST_TEST_REQUIRE(s.send("PUT", settings, R"({"visibility":"private"})", alice_token).status == 200u);
    BOOST_TEST(s.get("/alice/secret/resolve/main/secret.txt").status == 401u);
    BOOST_TEST(s.get("/alice/secret/resolve/main/secret.txt", bob_token).status == 404u);
    BOOST_TEST(parse_json(s.get("/api/models/alice/secret", alice_token)).at("private").as_bool());
}

BOOST_FIXTURE_TEST_CASE(writes_need_rights, private_fixture) {
    s.create_repo("alice/pub", alice_token);
    const std::string R = "models/alice/pub";
    std::string head = head_of(s, R);
    BOOST_TEST(s.commit(R, "main", {test_server::add_file("x", "x")}, bob_token).status == 403u);
    BOOST_TEST(s.commit(R, "main", {test_server::add_file("x", "x")}, "").status == 401u);
    BOOST_TEST(s.commit(R, "main", {test_server::add_file("x", "x")}, "hf_bad").status == 401u);
    // On a private repo bob learns nothing: 404, as for reads.
    auto r = s.commit("models/alice/secret", "main", {test_server::add_file("x", "x")}, bob_token);
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RepoNotFound");
    BOOST_TEST(head_of(s, R) == head);
}

BOOST_AUTO_TEST_SUITE_END()
