// Repo management: create (names, namespaces, conflicts), delete, and dataset/space repos.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

using namespace hfhub::test;

namespace {

http_response create(test_server& s, const json::object& body, const std::string& token) {
    return s.post("/api/repos/create", json::serialize(body), token);
}
http_response remove(test_server& s, const json::object& body, const std::string& token) {
    return s.send("DELETE", "/api/repos/delete", json::serialize(body), token, {{"Content-Type", "application/json"}});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(repos)

BOOST_AUTO_TEST_CASE(create_and_conflict) {
    test_server s;
    auto r = create(s, {{"name", "first"}, {"organization", nullptr}}, alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto v = parse_json(r);
    BOOST_TEST(jstr(v, "url") == s.url() + "/alice/first");
    BOOST_TEST(jstr(v, "name") == "alice/first");
    BOOST_TEST(hfhub::util::is_hex(jstr(v, "id"), 24));
    auto info = parse_json(s.get("/api/models/alice/first"));
    BOOST_TEST(jstr(info, "_id") == jstr(v, "id"));
    BOOST_TEST(info.at("private").as_bool() == false);
    // A new repo has one commit holding .gitattributes.
    BOOST_TEST((file_list(s, "models/alice/first") == std::vector<std::string>{".gitattributes"}));
    BOOST_TEST(parse_json(s.get("/api/models/alice/first/commits/main")).as_array().size() == 1u);

    r = create(s, {{"name", "first"}}, alice_token);
    BOOST_TEST(r.status == 409u);
    auto c = parse_json(r);
    BOOST_TEST(jstr(c, "url") == s.url() + "/alice/first");
    BOOST_TEST(!jstr(c, "error").empty());
    // The same name under another type is another repo.
    r = create(s, {{"name", "first"}, {"type", "dataset"}}, alice_token);
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(jstr(parse_json(r), "url") == s.url() + "/datasets/alice/first");
    r = create(s, {{"name", "first"}, {"type", "dataset"}}, alice_token);
    BOOST_TEST(r.status == 409u);
    BOOST_TEST(jstr(parse_json(r), "url") == s.url() + "/datasets/alice/first");
    // "ns/name" in name works too.
    BOOST_TEST(create(s, {{"name", "alice/second"}}, alice_token).status == 200u);
    BOOST_TEST(s.get("/api/models/alice/second").status == 200u);
}

BOOST_AUTO_TEST_CASE(namespaces_and_auth) {
    test_server s;
    auto r = create(s, {{"name", "x"}, {"organization", "alice"}}, bob_token);
    BOOST_TEST(r.status == 403u);
    BOOST_TEST(create(s, {{"name", "alice/x"}}, bob_token).status == 403u);
    BOOST_TEST(create(s, {{"name", "x"}, {"organization", "acme"}}, bob_token).status == 403u);
    BOOST_TEST(s.get("/api/models/alice/x", alice_token).status == 404u);
    BOOST_TEST(s.get("/api/models/acme/x", alice_token).status == 404u);

    r = create(s, {{"name", "x"}, {"organization", "acme"}}, alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(jstr(parse_json(r), "name") == "acme/x");
    BOOST_TEST(jstr(parse_json(s.get("/api/models/acme/x")), "author") == "acme");
    BOOST_TEST(s.commit("models/acme/x", "main", {test_server::add_file("a", "a")}, alice_token).status == 200u);

    BOOST_TEST(create(s, {{"name", "anon"}}, "").status == 401u);
    BOOST_TEST(create(s, {{"name", "anon"}, {"organization", "alice"}}, "").status == 401u);
    BOOST_TEST(create(s, {{"name", "anon"}}, "hf_invalid").status == 401u);
    BOOST_TEST(s.get("/api/models/alice/anon", alice_token).status == 404u);
    // bob's own namespace.
    BOOST_TEST(create(s, {{"name", "mine"}}, bob_token).status == 200u);
    BOOST_TEST(s.get("/api/models/bob/mine").status == 200u);
}

BOOST_AUTO_TEST_CASE(invalid_names_and_bodies) {
    test_server s;
    for (const std::string& bad : std::vector<std::string>{"has space", "a--b", "-lead", "trail-", ".dot", "dot.", "a..b", "", "x/y/z", "sl/",
                            "emoji\xF0\x9F\x98\x80", std::string(97, 'n')}) {
        auto r = create(s, {{"name", bad}}, alice_token);
        BOOST_TEST(r.status == 400u, "'" << bad << "': " << r.status << " " << r.body);
    }
    BOOST_TEST(create(s, {{"name", std::string(96, 'n')}}, alice_token).status == 200u);
    BOOST_TEST(create(s, {{"name", "ok"}, {"organization", "bad org"}}, alice_token).status == 400u);
    BOOST_TEST(create(s, {{"name", "ok"}, {"type", "notebook"}}, alice_token).status == 400u);
    BOOST_TEST(create(s, {{"organization", "alice"}}, alice_token).status == 400u);
    BOOST_TEST(create(s, {{"name", 5}}, alice_token).status == 400u);
    BOOST_TEST(s.post("/api/repos/create", "not json", alice_token).status == 400u);
    BOOST_TEST(s.post("/api/repos/create", "", alice_token).status == 400u);
}

BOOST_AUTO_TEST_CASE(visibility_on_create) {
    test_server s;
    BOOST_TEST(create(s, {{"name", "v1"}, {"visibility", "private"}}, alice_token).status == 200u);
    BOOST_TEST(create(s, {{"name", "v2"}, {"private", true}}, alice_token).status == 200u);
    BOOST_TEST(create(s, {{"name", "v3"}, {"visibility", "public"}}, alice_token).status == 200u);
    BOOST_TEST(s.get("/api/models/alice/v1").status == 401u);
    BOOST_TEST(s.get("/api/models/alice/v2").status == 401u);
    BOOST_TEST(s.get("/api/models/alice/v3").status == 200u);
}

BOOST_AUTO_TEST_CASE(delete_and_recreate) {
    test_server s;
    s.create_repo("alice/gone", alice_token);
    must_commit(s, "models/alice/gone", "main", {test_server::add_file("old.txt", "old")});
    std::string old_id = jstr(parse_json(s.get("/api/models/alice/gone")), "_id");

    BOOST_TEST(remove(s, {{"name", "gone"}, {"organization", "alice"}}, bob_token).status == 403u);
    BOOST_TEST(remove(s, {{"name", "alice/gone"}}, "").status == 401u);
    BOOST_TEST(s.get("/api/models/alice/gone").status == 200u);

    auto r = remove(s, {{"name", "gone"}, {"organization", "alice"}}, alice_token);
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(r.body == "OK");
    for (std::string path : {"/api/models/alice/gone", "/alice/gone/resolve/main/old.txt",
                             "/api/models/alice/gone/tree/main", "/api/models/alice/gone/refs"}) {
        auto g = s.get(path, alice_token);
        BOOST_TEST(g.status == 404u, path);
        BOOST_TEST(g.header("x-error-code") == "RepoNotFound", path);
    }
    r = remove(s, {{"name", "gone"}}, alice_token);
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RepoNotFound");
    BOOST_TEST(s.commit("models/alice/gone", "main", {test_server::add_file("x", "x")}, alice_token).status == 404u);

    // Recreated: a fresh repo, nothing of the old one left.
    s.create_repo("alice/gone", alice_token);
    auto info = parse_json(s.get("/api/models/alice/gone"));
    BOOST_TEST(jstr(info, "_id") != old_id);
    BOOST_TEST((file_list(s, "models/alice/gone") == std::vector<std::string>{".gitattributes"}));
    BOOST_TEST(s.get("/alice/gone/resolve/main/old.txt").status == 404u);
    must_commit(s, "models/alice/gone", "main", {test_server::add_file("new.txt", "new")});
    BOOST_TEST(s.get("/alice/gone/resolve/main/new.txt").body == "new");
}

BOOST_AUTO_TEST_CASE(dataset_and_space_repos) {
    test_server s;
    for (auto [type, plural, prefix] : std::vector<std::tuple<std::string, std::string, std::string>>{
             {"dataset", "datasets", "datasets/"}, {"space", "spaces", "spaces/"}}) {
        s.create_repo("alice/thing", alice_token, false, type);
        std::string api = plural + "/alice/thing";
        // The model of the same name doesn't exist.
        BOOST_TEST(s.get("/api/models/alice/thing", alice_token).status == 404u, type);

        std::string data = pattern_bytes(900, 4);
        std::string sha = s.upload_lfs(prefix + "alice/thing", data, alice_token);
        auto c = s.commit(api, "main", {test_server::add_file("data/train.csv", "a,b\n1,2\n"),
                                        test_server::add_lfs("data/big.parquet", sha, data.size())},
                          alice_token);
        BOOST_TEST_REQUIRE(c.status == 200u, c.body);
        auto cv = parse_json(c);
        std::string oid = jstr(cv, "commitOid");
        BOOST_TEST(jstr(cv, "commitUrl") == s.url() + "/" + prefix + "alice/thing/commit/" + oid, type);

        auto info = parse_json(s.get("/api/" + api));
        BOOST_TEST(jstr(info, "sha") == oid, type);
        BOOST_TEST(jstr(info, "id") == "alice/thing");
        auto r = s.get("/" + prefix + "alice/thing/resolve/main/data/train.csv");
        BOOST_TEST(r.status == 200u, type);
        BOOST_TEST(r.body == "a,b\n1,2\n");
        BOOST_TEST(r.header("x-repo-commit") == oid);
        auto h = s.head("/" + prefix + "alice/thing/resolve/main/data/big.parquet");
        BOOST_TEST(h.status == 302u, type);
        BOOST_TEST(http_request("GET", h.header("location")).body == data);
        // A model-style URL doesn't reach it.
        BOOST_TEST(s.get("/alice/thing/resolve/main/data/train.csv", alice_token).status == 404u, type);
        BOOST_TEST(file_list(s, api).size() == (type == "space" ? 4u : 3u));  // a Space gets a README
        BOOST_TEST(s.get("/api/" + api + "/refs").status == 200u);

        BOOST_TEST(create(s, {{"name", "thing"}, {"type", type}}, alice_token).status == 409u);
        BOOST_TEST(remove(s, {{"name", "alice/thing"}}, alice_token).status == 404u);  // type defaults to model
        auto d = remove(s, {{"name", "alice/thing"}, {"type", type}}, alice_token);
        BOOST_TEST(d.status == 200u, type);
        BOOST_TEST(s.get("/api/" + api, alice_token).status == 404u, type);
    }
}

BOOST_AUTO_TEST_CASE(open_mode_without_tokens) {
    // No tokens file: everyone is user "local" with every right.
    test_server s({}, false);
    auto r = create(s, {{"name", "x"}}, "");
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    BOOST_TEST(jstr(parse_json(r), "name") == "local/x");
    BOOST_TEST(create(s, {{"name", "y"}, {"organization", "anyone"}, {"private", true}}, "").status == 200u);
    BOOST_TEST(s.commit("models/anyone/y", "main", {test_server::add_file("a", "a")}, "").status == 200u);
    BOOST_TEST(s.get("/anyone/y/resolve/main/a").body == "a");
    auto who = s.get("/api/whoami-v2");
    BOOST_TEST(who.status == 200u);
    BOOST_TEST(jstr(parse_json(who), "name") == "local");
}

BOOST_AUTO_TEST_SUITE_END()
