// Repo management (repo_api.hpp) against the local server: every call, checked through the
// server afterwards, with the exist_ok / missing_ok rules and the typed errors.
#include "client_util.hpp"
#include "hub_helpers.hpp"

#include <hfhub/hub_api.hpp>
#include <hfhub/repo_api.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::api_lines;
using hfhub::test::bob_token;
using hfhub::test::must_commit;
using hfhub::test::error_of;
using hfhub::test::message_of;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::error_code ec(hub_errc e) { return make_error_code(e); }
std::error_code ec(client_errc e) { return make_error_code(e); }

const git_ref* find_ref(const std::vector<git_ref>& v, const std::string& name) {
    for (auto& r : v)
        if (r.name == name) return &r;
    return nullptr;
}

// alice/r: c1 "First" then c2 "Second" on main.
struct repo_fixture {
    test_server s;
    asio::io_context ioc;
    client c{ioc.get_executor(), with_token(alice_token)};
    client as_bob{ioc.get_executor(), with_token(bob_token)};
    client anonymous{ioc.get_executor(), quick_config(s.url())};
    std::string c1, c2;

    config with_token(const std::string& token) {
        auto cfg = quick_config(s.url());
        cfg.token = token;
        return cfg;
    }
    repo_fixture() {
        s.create_repo("alice/r", alice_token);
        c1 = must_commit(s, "models/alice/r", "main", {test_server::add_file("a.txt", "1")}, "First");
        c2 = must_commit(s, "models/alice/r", "main", {test_server::add_file("a.txt", "2")}, "Second");
    }
    template <class T>
    T go(asio::awaitable<T> aw) {
        return run(ioc, std::move(aw));
    }
    repo_refs refs(const std::string& id = "alice/r", repo_type t = repo_type::model) {
        repo_query q;
        q.type = t;
        return go(co_list_repo_refs(c, id, q, true));
    }
    repo_query of_type(repo_type t) {
        repo_query q;
        q.type = t;
        q.revision.clear();
        return q;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(repo_api)

BOOST_FIXTURE_TEST_CASE(create_repo_of_each_type, repo_fixture) {
    auto m = go(co_create_repo(c, "alice/new"));
    BOOST_TEST(m.url == s.url() + "/alice/new");
    BOOST_TEST(m.repo_id == "alice/new");
    auto info = go(co_repo_info(anonymous, "alice/new"));
    BOOST_TEST(info.id == "alice/new");
    BOOST_TEST(!info.is_private);

    create_repo_options o;
    o.type = repo_type::dataset;
    o.is_private = true;
    auto d = go(co_create_repo(c, "alice/data", o));
    BOOST_TEST(d.url == s.url() + "/datasets/alice/data");
    BOOST_TEST(go(co_repo_info(c, "alice/data", of_type(repo_type::dataset))).is_private);
    BOOST_TEST(error_of([&] { go(co_repo_info(anonymous, "alice/data", of_type(repo_type::dataset))); }) ==
               ec(hub_errc::repo_not_found));
    // Not a model of that name.
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/data")); }) == ec(hub_errc::repo_not_found));

    create_repo_options so;
    so.type = repo_type::space;
    so.space_sdk = "docker";
    auto sp = go(co_create_repo(c, "acme/app", so));  // an org alice belongs to
    BOOST_TEST(sp.url == s.url() + "/spaces/acme/app");
    BOOST_TEST(sp.repo_id == "acme/app");
    BOOST_TEST(go(co_repo_info(anonymous, "acme/app", of_type(repo_type::space))).id == "acme/app");
    BOOST_TEST(api_lines(s, "POST", "/api/repos/create", 4).size() == 4u);  // fixture's + 3
}

BOOST_FIXTURE_TEST_CASE(create_repo_bare_name_and_token_override, repo_fixture) {
    // A name without a namespace lands in the token's user: the client's, or the call's.
    auto m = go(co_create_repo(c, "bare"));
    BOOST_TEST(m.repo_id == "alice/bare");
    BOOST_TEST(m.url == s.url() + "/alice/bare");
    create_repo_options o;
    o.token = bob_token;
    auto b = go(co_create_repo(c, "bare", o));
    BOOST_TEST(b.repo_id == "bob/bare");
    BOOST_TEST(go(co_repo_info(anonymous, "bob/bare")).author == "bob");
    // Bare and exist_ok: the id still comes back whole.
    o.exist_ok = true;
    BOOST_TEST(go(co_create_repo(c, "bare", o)).repo_id == "bob/bare");
    // Anonymous creation is refused.
    BOOST_TEST(error_of([&] { go(co_create_repo(anonymous, "anon/x")); }) == ec(hub_errc::unauthorized));
}

BOOST_FIXTURE_TEST_CASE(create_repo_duplicate_and_exist_ok, repo_fixture) {
    BOOST_TEST(error_of([&] { go(co_create_repo(c, "alice/r")); }) == ec(hub_errc::conflict));
    create_repo_options o;
    o.exist_ok = true;
    auto m = go(co_create_repo(c, "alice/r", o));
    BOOST_TEST(m.url == s.url() + "/alice/r");
    BOOST_TEST(m.repo_id == "alice/r");
    // The repo is the one that was there: same head.
    BOOST_TEST(go(co_repo_info(c, "alice/r")).sha == c2);
    // A dataset of the same name is another repo: no conflict.
    o.exist_ok = false;
    o.type = repo_type::dataset;
    BOOST_TEST(go(co_create_repo(c, "alice/r", o)).url == s.url() + "/datasets/alice/r");
}

BOOST_FIXTURE_TEST_CASE(create_repo_exist_ok_without_write_access, repo_fixture) {
    // Bob may not create under alice; with exist_ok a repo he can read is success.
    BOOST_TEST(error_of([&] { go(co_create_repo(as_bob, "alice/r")); }) == ec(hub_errc::forbidden));
    create_repo_options o;
    o.exist_ok = true;
    auto m = go(co_create_repo(as_bob, "alice/r", o));
    BOOST_TEST(m.url == s.url() + "/alice/r");
    BOOST_TEST(m.repo_id == "alice/r");
    // Missing, or private to him: the original 403 stands.
    BOOST_TEST(error_of([&] { go(co_create_repo(as_bob, "alice/none", o)); }) == ec(hub_errc::forbidden));
    s.create_repo("alice/secret", alice_token, true);
    BOOST_TEST(error_of([&] { go(co_create_repo(as_bob, "alice/secret", o)); }) == ec(hub_errc::forbidden));
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/none")); }) == ec(hub_errc::repo_not_found));
}

BOOST_FIXTURE_TEST_CASE(delete_repo_and_missing_ok, repo_fixture) {
    go(co_delete_repo(c, "alice/r"));
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/r")); }) == ec(hub_errc::repo_not_found));
    BOOST_TEST(error_of([&] { go(co_delete_repo(c, "alice/r")); }) == ec(hub_errc::repo_not_found));
    delete_repo_options o;
    o.missing_ok = true;
    BOOST_CHECK_NO_THROW(go(co_delete_repo(c, "alice/r", o)));
    // The name is free again.
    BOOST_TEST(go(co_create_repo(c, "alice/r")).repo_id == "alice/r");
    BOOST_TEST(go(co_repo_info(c, "alice/r")).sha != c2);

    // Type-specific, and a bare name is the token's user's.
    create_repo_options co;
    co.type = repo_type::dataset;
    go(co_create_repo(c, "alice/d", co));
    BOOST_TEST(error_of([&] { go(co_delete_repo(c, "alice/d")); }) == ec(hub_errc::repo_not_found));
    delete_repo_options dd;
    dd.type = repo_type::dataset;
    go(co_delete_repo(c, "d", dd));
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/d", of_type(repo_type::dataset))); }) ==
               ec(hub_errc::repo_not_found));
}

BOOST_FIXTURE_TEST_CASE(others_cannot_delete, repo_fixture) {
    BOOST_TEST(error_of([&] { go(co_delete_repo(as_bob, "alice/r")); }) == ec(hub_errc::forbidden));
    BOOST_TEST(error_of([&] { go(co_delete_repo(anonymous, "alice/r")); }) == ec(hub_errc::unauthorized));
    // missing_ok does not hide a refusal.
    delete_repo_options o;
    o.missing_ok = true;
    BOOST_TEST(error_of([&] { go(co_delete_repo(as_bob, "alice/r", o)); }) == ec(hub_errc::forbidden));
    BOOST_TEST(go(co_repo_info(c, "alice/r")).sha == c2);
}

BOOST_FIXTURE_TEST_CASE(create_branch_from_revision, repo_fixture) {
    branch_options o;
    o.revision = c1;
    go(co_create_branch(c, "alice/r", "dev", o));
    go(co_create_branch(c, "alice/r", "feat/x"));  // from main; the '/' goes escaped
    auto r = refs();
    BOOST_TEST_REQUIRE(find_ref(r.branches, "dev"));
    BOOST_TEST(find_ref(r.branches, "dev")->target_commit == c1);
    BOOST_TEST_REQUIRE(find_ref(r.branches, "feat/x"));
    BOOST_TEST(find_ref(r.branches, "feat/x")->target_commit == c2);
    BOOST_TEST(api_lines(s, "POST", "/api/models/alice/r/branch/feat%2Fx", 1).size() == 1u);
    repo_query at_dev;
    at_dev.revision = "dev";
    BOOST_TEST(go(co_repo_info(c, "alice/r", at_dev)).sha == c1);

    // From a branch name, and from a revision that isn't there.
    o.revision = "dev";
    go(co_create_branch(c, "alice/r", "dev2", o));
    BOOST_TEST(find_ref(refs().branches, "dev2")->target_commit == c1);
    o.revision = "nope";
    BOOST_TEST(error_of([&] { go(co_create_branch(c, "alice/r", "dev3", o)); }) == ec(hub_errc::revision_not_found));
    BOOST_TEST(!find_ref(refs().branches, "dev3"));
}

BOOST_FIXTURE_TEST_CASE(create_branch_duplicate_and_exist_ok, repo_fixture) {
    branch_options o;
    o.revision = c1;
    go(co_create_branch(c, "alice/r", "dev", o));
    o.revision.reset();
    BOOST_TEST(error_of([&] { go(co_create_branch(c, "alice/r", "dev", o)); }) == ec(hub_errc::conflict));
    o.exist_ok = true;
    BOOST_CHECK_NO_THROW(go(co_create_branch(c, "alice/r", "dev", o)));
    // exist_ok leaves the branch where it was.
    BOOST_TEST(find_ref(refs().branches, "dev")->target_commit == c1);

    // Without write access: success only if the branch is already there.
    BOOST_CHECK_NO_THROW(go(co_create_branch(as_bob, "alice/r", "dev", o)));
    BOOST_TEST(error_of([&] { go(co_create_branch(as_bob, "alice/r", "bobs", o)); }) == ec(hub_errc::forbidden));
    o.exist_ok = false;
    BOOST_TEST(error_of([&] { go(co_create_branch(as_bob, "alice/r", "dev", o)); }) == ec(hub_errc::forbidden));
    BOOST_TEST(!find_ref(refs().branches, "bobs"));
}

BOOST_FIXTURE_TEST_CASE(delete_branch_and_main, repo_fixture) {
    go(co_create_branch(c, "alice/r", "dev"));
    go(co_create_branch(c, "alice/r", "a/b"));
    go(co_delete_branch(c, "alice/r", "dev"));
    go(co_delete_branch(c, "alice/r", "a/b"));
    auto r = refs();
    BOOST_TEST(!find_ref(r.branches, "dev"));
    BOOST_TEST(!find_ref(r.branches, "a/b"));
    BOOST_TEST(r.branches.size() == 1u);
    BOOST_TEST(error_of([&] { go(co_delete_branch(c, "alice/r", "dev")); }) == ec(hub_errc::revision_not_found));
    // main stays.
    auto main_error = message_of([&] { go(co_delete_branch(c, "alice/r", "main")); });
    BOOST_TEST(main_error.find("forbidden") == 0u, main_error);
    BOOST_TEST(main_error.find("Cannot delete refs/heads/main") != std::string::npos, main_error);
    BOOST_TEST_REQUIRE(find_ref(refs().branches, "main"));
    BOOST_TEST(find_ref(refs().branches, "main")->target_commit == c2);
    go(co_create_branch(c, "alice/r", "keep"));
    BOOST_TEST(error_of([&] { go(co_delete_branch(as_bob, "alice/r", "keep")); }) == ec(hub_errc::forbidden));
    BOOST_TEST(find_ref(refs().branches, "keep"));
}

BOOST_FIXTURE_TEST_CASE(tags_create_duplicate_delete, repo_fixture) {
    tag_options o;
    o.revision = c1;
    o.message = "first release";
    go(co_create_tag(c, "alice/r", "v1", o));
    go(co_create_tag(c, "alice/r", "v2"));  // main
    auto r = refs();
    BOOST_TEST_REQUIRE(find_ref(r.tags, "v1"));
    BOOST_TEST(find_ref(r.tags, "v1")->target_commit == c1);
    BOOST_TEST(find_ref(r.tags, "v1")->ref == "refs/tags/v1");
    BOOST_TEST_REQUIRE(find_ref(r.tags, "v2"));
    BOOST_TEST(find_ref(r.tags, "v2")->target_commit == c2);
    BOOST_TEST(api_lines(s, "POST", "/api/models/alice/r/tag/" + c1, 1).size() == 1u);

    // Duplicate: a conflict, or nothing with exist_ok (the tag is not moved).
    tag_options again;
    BOOST_TEST(error_of([&] { go(co_create_tag(c, "alice/r", "v1", again)); }) == ec(hub_errc::conflict));
    again.exist_ok = true;
    BOOST_CHECK_NO_THROW(go(co_create_tag(c, "alice/r", "v1", again)));
    BOOST_TEST(find_ref(refs().tags, "v1")->target_commit == c1);

    // At a tag; at nothing.
    tag_options at_tag;
    at_tag.revision = "v1";
    go(co_create_tag(c, "alice/r", "v1.0", at_tag));
    BOOST_TEST(find_ref(refs().tags, "v1.0")->target_commit == c1);
    tag_options missing;
    missing.revision = "nope";
    BOOST_TEST(error_of([&] { go(co_create_tag(c, "alice/r", "v3", missing)); }) == ec(hub_errc::revision_not_found));

    go(co_delete_tag(c, "alice/r", "v1"));
    BOOST_TEST(!find_ref(refs().tags, "v1"));
    BOOST_TEST(find_ref(refs().tags, "v2"));
    BOOST_TEST(error_of([&] { go(co_delete_tag(c, "alice/r", "v1")); }) == ec(hub_errc::revision_not_found));
    BOOST_TEST(error_of([&] { go(co_delete_tag(as_bob, "alice/r", "v2")); }) == ec(hub_errc::forbidden));
    BOOST_TEST(error_of([&] { go(co_create_tag(as_bob, "alice/r", "b1")); }) == ec(hub_errc::forbidden));
    BOOST_TEST(find_ref(refs().tags, "v2"));
}

BOOST_FIXTURE_TEST_CASE(refs_on_a_dataset_need_its_type, repo_fixture) {
    s.create_repo("alice/ds", alice_token, false, "dataset");
    branch_options b;
    BOOST_TEST(error_of([&] { go(co_create_branch(c, "alice/ds", "dev", b)); }) == ec(hub_errc::repo_not_found));
    b.type = repo_type::dataset;
    go(co_create_branch(c, "alice/ds", "dev", b));
    tag_options t;
    t.type = repo_type::dataset;
    go(co_create_tag(c, "alice/ds", "v1", t));
    auto r = refs("alice/ds", repo_type::dataset);
    BOOST_TEST(find_ref(r.branches, "dev"));
    BOOST_TEST(find_ref(r.tags, "v1"));
    go(co_delete_branch(c, "alice/ds", "dev", {repo_type::dataset, std::nullopt}));
    go(co_delete_tag(c, "alice/ds", "v1", {repo_type::dataset, std::nullopt}));
    r = refs("alice/ds", repo_type::dataset);
    BOOST_TEST(!find_ref(r.branches, "dev"));
    BOOST_TEST(!find_ref(r.tags, "v1"));
}

BOOST_FIXTURE_TEST_CASE(update_settings_visibility, repo_fixture) {
    repo_settings p;
    p.is_private = true;
    go(co_update_repo_settings(c, "alice/r", p));
    BOOST_TEST(error_of([&] { go(co_repo_info(anonymous, "alice/r")); }) == ec(hub_errc::repo_not_found));
    BOOST_TEST(error_of([&] { go(co_repo_info(as_bob, "alice/r")); }) == ec(hub_errc::repo_not_found));
    BOOST_TEST(go(co_repo_info(c, "alice/r")).is_private);
    // Only what is set changes: an empty update keeps it private.
    go(co_update_repo_settings(c, "alice/r", repo_settings{}));
    BOOST_TEST(go(co_repo_info(c, "alice/r")).is_private);
    p.is_private = false;
    go(co_update_repo_settings(c, "alice/r", p));
    BOOST_TEST(!go(co_repo_info(anonymous, "alice/r")).is_private);
    p.is_private = true;
    BOOST_TEST(error_of([&] { go(co_update_repo_settings(as_bob, "alice/r", p)); }) == ec(hub_errc::forbidden));
    BOOST_TEST(!go(co_repo_info(anonymous, "alice/r")).is_private);
}

BOOST_FIXTURE_TEST_CASE(create_pull_request_opens_refs_pr, repo_fixture) {
    pull_request_options o;
    o.title = "Add things";
    o.description = "Please";
    auto d = go(co_create_pull_request(c, "alice/r", o));
    BOOST_TEST(d.num == 1u);
    BOOST_TEST(d.git_ref == "refs/pr/1");
    BOOST_TEST(d.url == s.url() + "/alice/r/discussions/1");
    auto r = refs();
    BOOST_TEST_REQUIRE(r.pull_requests.size() == 1u);
    BOOST_TEST(r.pull_requests[0].ref == "refs/pr/1");
    BOOST_TEST(r.pull_requests[0].target_commit == c2);
    // The PR's ref takes commits, and main doesn't move.
    std::string pc = must_commit(s, "models/alice/r", d.git_ref, {test_server::add_file("pr.txt", "p")});
    repo_query at_pr;
    at_pr.revision = d.git_ref;
    BOOST_TEST(go(co_repo_info(c, "alice/r", at_pr)).sha == pc);
    BOOST_TEST(go(co_repo_info(c, "alice/r")).sha == c2);

    auto d2 = go(co_create_pull_request(c, "alice/r", o));
    BOOST_TEST(d2.num == 2u);
    BOOST_TEST(d2.git_ref == "refs/pr/2");
    BOOST_TEST(refs().pull_requests.size() == 2u);
    // Anyone signed in may open one on a public repo, as on the Hub.
    BOOST_TEST(go(co_create_pull_request(as_bob, "alice/r", o)).num == 3u);
    BOOST_TEST(error_of([&] { go(co_create_pull_request(anonymous, "alice/r", o)); }) == ec(hub_errc::unauthorized));
    o.title.clear();
    BOOST_TEST(error_of([&] { go(co_create_pull_request(c, "alice/r", o)); }) == ec(hub_errc::bad_request));
    BOOST_TEST(refs().pull_requests.size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(mutations_are_not_retried, repo_fixture) {
    // Every matching request answers 503: a retried call would leave several log lines.
    s.post("/admin/faults", R"({"rules":[{"listener":"api","match":"/api/repos/delete","times":0,"status":503},
        {"listener":"api","match":"/settings","times":0,"status":503},
        {"listener":"api","match":"/branch/","times":0,"status":503},
        {"listener":"api","match":"/tag/","times":0,"status":503},
        {"listener":"api","match":"/api/repos/create","times":0,"status":503},
        {"listener":"api","match":"/discussions","times":0,"status":503}]})");
    repo_settings p;
    p.is_private = true;
    BOOST_TEST(error_of([&] { go(co_delete_repo(c, "alice/r")); }) == ec(hub_errc::server_error));
    BOOST_TEST(error_of([&] { go(co_update_repo_settings(c, "alice/r", p)); }) == ec(hub_errc::server_error));
    BOOST_TEST(error_of([&] { go(co_delete_branch(c, "alice/r", "dev")); }) == ec(hub_errc::server_error));
    BOOST_TEST(error_of([&] { go(co_delete_tag(c, "alice/r", "v1")); }) == ec(hub_errc::server_error));
    BOOST_TEST(error_of([&] { go(co_create_branch(c, "alice/r", "dev")); }) == ec(hub_errc::server_error));
    BOOST_TEST(error_of([&] { go(co_create_repo(c, "alice/x")); }) == ec(hub_errc::server_error));
    BOOST_TEST(error_of([&] { go(co_create_pull_request(c, "alice/r", {repo_type::model, "t", "", {}})); }) ==
               ec(hub_errc::server_error));
    // Let late lines land, then count.
    BOOST_TEST(go(co_whoami(c)).name == "alice");
    api_lines(s, "GET", "/api/whoami-v2", 1);
    BOOST_TEST(api_lines(s, "DELETE", "/api/repos/delete").size() == 1u);
    BOOST_TEST(api_lines(s, "PUT", "/settings").size() == 1u);
    BOOST_TEST(api_lines(s, "DELETE", "/branch/dev").size() == 1u);
    BOOST_TEST(api_lines(s, "DELETE", "/tag/v1").size() == 1u);
    BOOST_TEST(api_lines(s, "POST", "/branch/dev").size() == 1u);
    BOOST_TEST(api_lines(s, "POST", "/api/repos/create").size() == 2u);  // the fixture's + 1
    BOOST_TEST(api_lines(s, "POST", "/discussions").size() == 1u);
}

BOOST_AUTO_TEST_CASE(invalid_ids_and_names_never_reach_the_server) {
    test_server s;
    asio::io_context ioc;
    config cfg = quick_config(s.url());
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);
    auto go = [&](auto aw) { return run(ioc, std::move(aw)); };
    // A marker first, so every line the server logs from here on is ours.
    BOOST_TEST(go(co_whoami(c)).name == "alice");
    BOOST_TEST_REQUIRE(api_lines(s, "GET", "/api/whoami-v2", 1).size() == 1u);

    auto bad_id = ec(client_errc::invalid_repo_id);
    for (std::string id : {"", "a/b/c", "a--b/c", "../x", "-a/b", "a b/c", "a/b%2Fc", "/a"}) {
        BOOST_TEST(error_of([&] { go(co_create_repo(c, id)); }) == bad_id, id);
        BOOST_TEST(error_of([&] { go(co_delete_repo(c, id)); }) == bad_id, id);
        BOOST_TEST(error_of([&] { go(co_create_branch(c, id, "dev")); }) == bad_id, id);
        BOOST_TEST(error_of([&] { go(co_delete_branch(c, id, "dev")); }) == bad_id, id);
        BOOST_TEST(error_of([&] { go(co_create_tag(c, id, "v1")); }) == bad_id, id);
        BOOST_TEST(error_of([&] { go(co_delete_tag(c, id, "v1")); }) == bad_id, id);
        BOOST_TEST(error_of([&] { go(co_update_repo_settings(c, id, repo_settings{})); }) == bad_id, id);
        BOOST_TEST(error_of([&] { go(co_create_pull_request(c, id, {repo_type::model, "t", "", {}})); }) == bad_id, id);
    }
    auto bad_name = ec(client_errc::invalid_argument);
    for (std::string n : {"", "a..b", "-x", "x.lock", "a b", "a~1", "x:y", "/x", "x/", "a//b", "refs/heads/x",
                          "refs/pr/1", "a\nb", "x^", "a*", "a?"}) {
        BOOST_TEST(error_of([&] { go(co_create_branch(c, "alice/r", n)); }) == bad_name, n);
        BOOST_TEST(error_of([&] { go(co_delete_branch(c, "alice/r", n)); }) == bad_name, n);
        BOOST_TEST(error_of([&] { go(co_create_tag(c, "alice/r", n)); }) == bad_name, n);
        BOOST_TEST(error_of([&] { go(co_delete_tag(c, "alice/r", n)); }) == bad_name, n);
    }
    BOOST_TEST(message_of([&] { go(co_create_branch(c, "alice/r", "a..b")); }).find("branch name 'a..b'") !=
               std::string::npos);
    BOOST_TEST(message_of([&] { go(co_create_tag(c, "alice/r", "a..b")); }).find("tag name 'a..b'") !=
               std::string::npos);

    BOOST_TEST(go(co_whoami(c)).name == "alice");
    BOOST_TEST(api_lines(s, "GET", "/api/whoami-v2", 2).size() == 2u);
    // Nothing but the two markers reached the server.
    auto lines = s.log_lines();
    BOOST_TEST(lines.size() == 2u);
    for (auto& l : lines) BOOST_TEST(l.find("whoami-v2") != std::string::npos, l);
}

BOOST_FIXTURE_TEST_CASE(blocking_twins_from_another_thread, repo_fixture) {
    auto guard = asio::make_work_guard(ioc);
    std::thread runner([this] { ioc.run(); });
    struct joiner {
        asio::io_context& ioc;
        std::thread& t;
        ~joiner() {
            ioc.stop();
            t.join();
        }
    } join_at_end{ioc, runner};

    BOOST_TEST(create_repo(c, "alice/twin").url == s.url() + "/alice/twin");
    create_repo_options ok;
    ok.exist_ok = true;
    BOOST_TEST(create_repo(c, "alice/twin", ok).repo_id == "alice/twin");
    branch_options b;
    b.revision = c1;
    create_branch(c, "alice/r", "dev", b);
    tag_options t;
    t.revision = "dev";
    create_tag(c, "alice/r", "v1", t);
    auto d = create_pull_request(c, "alice/r", {repo_type::model, "pr", "", {}});
    BOOST_TEST(d.git_ref == "refs/pr/1");
    auto r = list_repo_refs(c, "alice/r", {}, true);
    BOOST_TEST_REQUIRE(find_ref(r.branches, "dev"));
    BOOST_TEST(find_ref(r.branches, "dev")->target_commit == c1);
    BOOST_TEST_REQUIRE(find_ref(r.tags, "v1"));
    BOOST_TEST(find_ref(r.tags, "v1")->target_commit == c1);
    BOOST_TEST(r.pull_requests.size() == 1u);
    delete_tag(c, "alice/r", "v1");
    delete_branch(c, "alice/r", "dev");
    r = list_repo_refs(c, "alice/r");
    BOOST_TEST(!find_ref(r.branches, "dev"));
    BOOST_TEST(!find_ref(r.tags, "v1"));
    repo_settings p;
    p.is_private = true;
    update_repo_settings(c, "alice/twin", p);
    BOOST_TEST(repo_info(c, "alice/twin").is_private);
    delete_repo(c, "alice/twin");
    BOOST_TEST(error_of([&] { delete_repo(c, "alice/twin"); }) == ec(hub_errc::repo_not_found));
    BOOST_TEST(error_of([&] { create_branch(c, "alice/r", "bad..name"); }) == ec(client_errc::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
