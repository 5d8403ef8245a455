// The typed metadata calls (hub_api.hpp): file probes, whoami, ids and paths refused before any
// request, and the blocking twins from other threads.
#include "hub_api_fixture.hpp"

using namespace hub_api_fixtures;

BOOST_AUTO_TEST_SUITE(hub_api)

BOOST_FIXTURE_TEST_CASE(file_exists_probe, hub_fixture) {
    BOOST_TEST(go(co_file_exists(c, "alice/m", "README.md")));
    BOOST_TEST(go(co_file_exists(c, "alice/m", "sub/deep/b.txt")));
    BOOST_TEST(go(co_file_exists(c, "alice/m", "model.bin")));  // an LFS 302
    BOOST_TEST(!go(co_file_exists(c, "alice/m", "missing.txt")));
    BOOST_TEST(!go(co_file_exists(c, "alice/m", "sub")));  // a folder is no file
    BOOST_TEST(go(co_file_exists(c, "alice/m", "new.txt")));
    BOOST_TEST(!go(co_file_exists(c, "alice/m", "new.txt", at("v1"))));
    BOOST_TEST(go(co_file_exists(c, "alice/m", "pr.txt", at("refs/pr/1"))));
    BOOST_TEST(!go(co_file_exists(c, "alice/m", "pr.txt")));
    BOOST_TEST(go(co_file_exists(c, "alice/secret", "s.txt")));
    BOOST_TEST(error_of([&] { go(co_file_exists(c, "alice/secret", "s.txt", at("main", bob_token))); }) ==
               make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(error_of([&] { go(co_file_exists(c, "alice/none", "README.md")); }) ==
               make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(error_of([&] { go(co_file_exists(c, "alice/m", "README.md", at("nope"))); }) ==
               make_error_code(hub_errc::revision_not_found));
    // The LFS redirect was answered, not followed to the storage origin.
    BOOST_TEST(api_lines(s, "HEAD", "/alice/m/resolve/main/model.bin", 1).at(0).at("status").to_number<int>() == 302);
    BOOST_TEST(api_lines(s, "HEAD", "/alice/m/resolve/refs%2Fpr%2F1/pr.txt", 1).size() == 1u);
    for (auto& l : s.log_lines()) {
        auto o = json::parse(l).as_object();
        BOOST_TEST(!(field(o, "listener") == "storage" && field(o, "method") == "HEAD"), l);
    }
}

BOOST_FIXTURE_TEST_CASE(whoami_with_and_without_token, hub_fixture) {
    client anonymous(ioc.get_executor(), quick_config(s.url()));
    auto a = go(co_whoami(anonymous, alice_token));
    BOOST_TEST(a.name == "alice");
    BOOST_TEST(a.type == "user");
    BOOST_TEST(a.fullname == "alice");
    BOOST_TEST(a.orgs == std::vector<std::string>{"acme"});
    client as_bob(ioc.get_executor(), with_token(bob_token));
    auto b = go(co_whoami(as_bob));
    BOOST_TEST(b.name == "bob");
    BOOST_TEST(b.orgs.empty());
    BOOST_TEST(go(co_whoami(as_bob, alice_token)).name == "alice");
    BOOST_TEST(error_of([&] { go(co_whoami(anonymous)); }) == make_error_code(hub_errc::unauthorized));
    BOOST_TEST(error_of([&] { go(co_whoami(anonymous, std::string("hf_wrong"))); }) ==
               make_error_code(hub_errc::unauthorized));
    auto lines = api_lines(s, "GET", "/api/whoami-v2", 5);
    BOOST_TEST_REQUIRE(lines.size() == 5u);
    // The two 401s: the anonymous call sent no token, the wrong-token one did; the three 200s
    // all sent one. The server logs after sending, and the clients use separate connections, so
    // the lines may come in any order (seen under TSan): tell them apart by status.
    int sent_401 = 0, sent_200 = 0, n401 = 0;
    for (auto& l : lines) {
        bool sent = l.at("authorized").as_bool();
        if (l.at("status").to_number<int>() == 401) {
            ++n401;
            sent_401 += sent;
        } else {
            sent_200 += sent;
        }
    }
    BOOST_TEST(n401 == 2);
    BOOST_TEST(sent_401 == 1);
    BOOST_TEST(sent_200 == 3);
}

BOOST_FIXTURE_TEST_CASE(invalid_ids_and_paths_never_reach_the_server, hub_fixture) {
    // Markers before and after: the log must grow by the second marker's line alone.
    BOOST_TEST(!go(co_file_exists(c, "alice/m", "marker-before-invalid.txt")));
    BOOST_TEST(api_lines(s, "HEAD", "marker-before-invalid.txt", 1).size() == 1u);
    std::size_t before = s.log_lines().size();
    std::vector<std::string> bad_ids = {"",     "a/b/c", "a--b/c", "../x",  "a/b/", "/a",
                                        "-a/b", "a b/c", "a/b%2Fc", "a/" + std::string(97, 'n')};
    for (auto& id : bad_ids) {
        auto want = make_error_code(client_errc::invalid_repo_id);
        BOOST_TEST(error_of([&] { go(co_repo_info(c, id)); }) == want, id);
        BOOST_TEST(error_of([&] { go(co_list_repo_tree(c, id)); }) == want, id);
        BOOST_TEST(error_of([&] { go(co_get_paths_info(c, id, {"a"})); }) == want, id);
        BOOST_TEST(error_of([&] { go(co_list_repo_refs(c, id)); }) == want, id);
        BOOST_TEST(error_of([&] { go(co_list_repo_commits(c, id)); }) == want, id);
        BOOST_TEST(error_of([&] { go(co_file_exists(c, id, "a")); }) == want, id);
    }
    BOOST_TEST(message_of([&] { go(co_repo_info(c, "a--b/c")); }).find("'a--b/c'") != std::string::npos);

    std::vector<std::string> bad_paths = {"",   "/abs", "../x", "a/../b", "a//b",        "./a",
                                          "a/./b", "a\\b", ".git/config", "a\nb", "x/.."};
    auto want = make_error_code(client_errc::invalid_path);
    for (auto& p : bad_paths) {
        BOOST_TEST(error_of([&] { go(co_file_exists(c, "alice/m", p)); }) == want, p);
        BOOST_TEST(error_of([&] { go(co_get_paths_info(c, "alice/m", {"README.md", p})); }) == want, p);
        if (!p.empty()) BOOST_TEST(error_of([&] { go(co_list_repo_tree(c, "alice/m", tree(p, true))); }) == want, p);
    }
    BOOST_TEST(error_of([&] { go(co_get_paths_info(c, "alice/m", {"/"})); }) == want);

    BOOST_TEST(!go(co_file_exists(c, "alice/m", "marker-after-invalid.txt")));
    auto marker = api_lines(s, "HEAD", "marker-after-invalid.txt", 1);
    BOOST_TEST(marker.size() == 1u);
    BOOST_TEST(s.log_lines().size() == before + 1);
    for (auto& l : s.log_lines()) {
        BOOST_TEST(l.find("a--b") == std::string::npos, l);
        BOOST_TEST(l.find("..") == std::string::npos, l);
        BOOST_TEST(l.find("/abs") == std::string::npos, l);
    }
}

BOOST_FIXTURE_TEST_CASE(blocking_twins_from_another_thread, hub_fixture) {
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
    BOOST_TEST(runner.get_id() != std::this_thread::get_id());

    BOOST_TEST(repo_info(c, "alice/m").sha == c2);
    BOOST_TEST(repo_info(c, "alice/m", at("v1"), true).siblings.size() == 6u);
    tree_query t;
    t.recursive = true;
    BOOST_TEST(list_repo_tree(c, "alice/m", t).size() == 9u);
    BOOST_TEST(get_paths_info(c, "alice/m", {"README.md", "sub", "nope"}).size() == 2u);
    BOOST_TEST(list_repo_refs(c, "alice/m", {}, true).pull_requests.size() == 1u);
    BOOST_TEST(list_repo_commits(c, "alice/m").size() == 3u);
    BOOST_TEST(file_exists(c, "alice/m", "model.bin"));
    BOOST_TEST(!file_exists(c, "alice/m", "nope.bin"));
    BOOST_TEST(whoami(c).name == "alice");
    BOOST_TEST(error_of([&] { repo_info(c, "alice/none"); }) == make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(error_of([&] { file_exists(c, "alice/m", "../x"); }) == make_error_code(client_errc::invalid_path));
    BOOST_TEST(error_of([&] { list_repo_refs(c, "a/b/c"); }) == make_error_code(client_errc::invalid_repo_id));

    // Several threads at once, on the one executor.
    std::vector<std::thread> callers;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i)
        callers.emplace_back([&] {
            for (int k = 0; k < 5; ++k)
                if (repo_info(c, "alice/m").sha == c2 && file_exists(c, "alice/m", "README.md")) ++ok;
        });
    for (auto& th : callers) th.join();
    BOOST_TEST(ok.load() == 20);
}

BOOST_AUTO_TEST_SUITE_END()
