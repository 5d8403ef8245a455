// Server pieces without sockets: ranges, fault rules, auth, and the store's commit semantics.
#include "server/auth.hpp"
#include "server/faults.hpp"
#include "server/hub.hpp"
#include "server/message.hpp"
#include "server/object_store.hpp"
#include "server/repo_store.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include "test_server.hpp"  // temp_dir

#include <boost/test/unit_test.hpp>

using namespace hfhub::server;
namespace util = hfhub::util;

BOOST_AUTO_TEST_SUITE(server_range)

BOOST_AUTO_TEST_CASE(parse_range_table) {
    auto r = parse_range("bytes=0-0", 10);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST((r->satisfiable && r->first == 0 && r->last == 0));
    r = parse_range("bytes=5-", 10);
    BOOST_TEST((r && r->first == 5 && r->last == 9));
    r = parse_range("bytes=5-100", 10);
    BOOST_TEST((r && r->first == 5 && r->last == 9));
    r = parse_range("bytes=-3", 10);
    BOOST_TEST((r && r->first == 7 && r->last == 9));
    r = parse_range("bytes=-30", 10);
    BOOST_TEST((r && r->first == 0 && r->last == 9));
    r = parse_range("bytes=10-", 10);
    BOOST_TEST((r && !r->satisfiable));
    r = parse_range("bytes=0-0", 0);
    BOOST_TEST((r && !r->satisfiable));
    BOOST_TEST(!parse_range("bytes=3-1", 10).has_value());      // invalid: ignored
    BOOST_TEST(!parse_range("bytes=0-1,4-5", 10).has_value());  // multi-range: whole body
    BOOST_TEST(!parse_range("items=0-1", 10).has_value());
    BOOST_TEST(!parse_range("bytes=a-b", 10).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_faults)

BOOST_AUTO_TEST_CASE(nth_and_times_count_matches_only) {
    fault_injector f;
    f.replace(fault_injector::parse(R"({"rules":[{"method":"GET","match":"/resolve/","nth":2,"times":2,"status":503}]})"));
    auto hit = [&](std::string_view m, std::string_view t) { return f.on_request(listener_kind::api, m, t).has_value(); };
    BOOST_TEST(!hit("GET", "/a/b/resolve/main/x"));   // 1st match
    BOOST_TEST(!hit("POST", "/a/b/resolve/main/x"));  // not a match
    BOOST_TEST(!hit("GET", "/api/models/a/b"));       // not a match
    BOOST_TEST(hit("GET", "/a/b/resolve/main/x"));    // 2nd
    BOOST_TEST(hit("GET", "/a/b/resolve/main/x"));    // 3rd
    BOOST_TEST(!hit("GET", "/a/b/resolve/main/x"));   // 4th: past times
}

BOOST_AUTO_TEST_CASE(rate_limit_shapes) {
    auto rules = fault_injector::parse(R"({"rules":[{"retry_after":2},{"ratelimit_reset":5,"listener":"storage"}]})");
    BOOST_TEST_REQUIRE(rules.size() == 2u);
    BOOST_TEST(rules[0].action.status == 429u);
    BOOST_TEST(*rules[0].action.headers.get("Retry-After") == "2");
    BOOST_TEST(*rules[1].action.headers.get("RateLimit") == "\"api\";r=0;t=5");
    BOOST_TEST((rules[1].listener == listener_kind::storage));
}

BOOST_AUTO_TEST_CASE(bad_documents_are_refused) {
    for (const char* bad : {"", "[]", R"({"rules":{}})", R"({"rules":[{"nth":0}]})", R"({"rules":[{"status":42}]})",
                            R"({"rules":[{"listener":"x"}]})", R"({"rules":[{"bogus":1}]})"})
        BOOST_CHECK_THROW(fault_injector::parse(bad), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_auth)

BOOST_AUTO_TEST_CASE(tokens_and_rights) {
    auto a = authenticator::from_json(
        R"({"users":[{"name":"alice","token":"hf_a","orgs":["acme"]},{"name":"bob","token":"hf_b"}]})");
    BOOST_TEST(!a.open());
    auto alice = a.identify("Bearer hf_a");
    BOOST_TEST((alice.what == identity::kind::user));
    BOOST_TEST(alice.who->name == "alice");
    BOOST_TEST((a.identify(std::nullopt).what == identity::kind::anonymous));
    BOOST_TEST((a.identify("Bearer hf_x").what == identity::kind::invalid));
    BOOST_TEST((a.identify("Basic hf_a").what == identity::kind::invalid));
    BOOST_TEST(a.may_write(alice, "alice"));
    BOOST_TEST(a.may_write(alice, "acme"));
    BOOST_TEST(!a.may_write(alice, "bob"));
    BOOST_TEST(!a.may_write(a.identify(std::nullopt), "alice"));
    BOOST_CHECK_THROW(authenticator::from_json(R"({"users":[{"name":"x"}]})"), std::runtime_error);
    BOOST_CHECK_THROW(authenticator::from_json("nope"), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(open_mode_is_local) {
    authenticator a;
    auto id = a.identify(std::nullopt);
    BOOST_TEST((id.what == identity::kind::user));
    BOOST_TEST(id.who->name == "local");
    BOOST_TEST(a.may_write(id, "anyone"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server_store)

struct store_fixture {
    hfhub::test::temp_dir dir;
    disk_lfs_storage lfs{dir.path() / "lfs"};
    blob_store blobs{dir.path() / "objects", dir.path() / "tmp"};
    repo_store store{dir.path(), lfs, blobs};
};

commit_op add(std::string path, std::string content) {
    return {commit_op::kind::add_regular, std::move(path), std::move(content)};
}

BOOST_FIXTURE_TEST_CASE(folder_oids_match_git, store_fixture) {
    commit c;
    c.files["a/b/c.txt"] = {util::git_blob_sha1("hello\n"), 6, {}};
    c.files["top.txt"] = {util::git_blob_sha1("x"), 1, {}};
    c.files["a-b.txt"] = {util::git_blob_sha1("y"), 1, {}};
    // From `git rev-parse HEAD^{tree} HEAD:a HEAD:a/b` on a repo with these three files.
    auto& oids = c.folder_oids();
    BOOST_TEST(oids.at("") == "376e8077db01213f566dc7f7391516a604338b12");
    BOOST_TEST(oids.at("a") == "91942592790b66ae4bec319bf951d1c7692c5e85");
    BOOST_TEST(oids.at("a/b") == "2bcada35da78a7011b5497fcf851bb11e2353a39");
}

BOOST_FIXTURE_TEST_CASE(commit_is_all_or_nothing, store_fixture) {
    auto r = store.create(repo_type::model, "alice/m", false, "alice", {});
    std::string head0 = r->state()->branches.at("main");

    commit_request ok{"main", "add", "", std::nullopt, "alice", false, {add("a.txt", "1"), add("d/b.txt", "2")}};
    auto res = store.apply_commit(*r, ok);
    BOOST_TEST(r->state()->branches.at("main") == res.commit);
    BOOST_TEST(res.commit != head0);

    // One bad op (a missing LFS object) after good ones: nothing changes.
    commit_request bad{"main", "bad", "", std::nullopt, "alice", false, {add("c.txt", "3")}};
    bad.ops.push_back({commit_op::kind::add_lfs, "w.bin", {}, std::string(64, 'a'), 10});
    BOOST_CHECK_THROW(store.apply_commit(*r, bad), http_error);
    BOOST_TEST(r->state()->branches.at("main") == res.commit);

    commit_request stale{"main", "stale", "", head0, "alice", false, {add("e.txt", "4")}};
    try {
        store.apply_commit(*r, stale);
        BOOST_FAIL("a stale parent must fail");
    } catch (const http_error& e) {
        BOOST_TEST(e.status == 412u);
    }

    commit_request del{"main", "rm", "", res.commit.substr(0, 7), "alice", false,
                       {{commit_op::kind::delete_folder, "d/"}}};
    auto res2 = store.apply_commit(*r, del);
    auto c = store.load_commit(*r, res2.commit);
    BOOST_TEST(c->files.count("a.txt") == 1u);
    BOOST_TEST(c->files.count("d/b.txt") == 0u);
    BOOST_TEST(c->parents.at(0) == res.commit);
}

BOOST_FIXTURE_TEST_CASE(state_survives_reopen, store_fixture) {
    std::string head;
    {
        auto r = store.create(repo_type::dataset, "acme/d", true, "alice", {{"README.md", "# hi"}});
        head = store.apply_commit(*r, {"main", "x", "", std::nullopt, "alice", true, {add("x", "y")}}).commit;
    }
    repo_store again(dir.path(), lfs, blobs);
    auto r = again.find(repo_type::dataset, "acme/d");
    BOOST_TEST_REQUIRE(r != nullptr);
    BOOST_TEST(r->state()->is_private);
    BOOST_TEST(r->state()->discussions.size() == 1u);  // the commit opened a PR
    auto pr = again.resolve(*r, "refs/pr/1");
    BOOST_TEST_REQUIRE(pr.has_value());
    BOOST_TEST(pr->commit == head);
    auto main = again.load_commit(*r, r->state()->branches.at("main"));
    BOOST_TEST(main->files.count("README.md") == 1u);
    BOOST_TEST(main->files.count("x") == 0u);
}

BOOST_FIXTURE_TEST_CASE(tampered_commit_file_is_not_loaded, store_fixture) {
    auto r = store.create(repo_type::model, "alice/t", false, "alice", {});
    std::string head = r->state()->branches.at("main");
    std::string other = store.apply_commit(*r, {"main", "x", "", std::nullopt, "alice", false, {add("x", "y")}}).commit;
    std::filesystem::path f = r->dir / "commits" / (other + ".json");
    std::string text = *util::read_file(f);
    text.replace(text.find("\"x\""), 3, "\"z\"");
    util::write_file_atomic(f, text);
    repo_store again(dir.path(), lfs, blobs);
    auto r2 = again.find(repo_type::model, "alice/t");
    BOOST_TEST(again.load_commit(*r2, other) == nullptr);
    BOOST_TEST(again.load_commit(*r2, head) != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
