// The typed metadata calls (hub_api.hpp) against the local server: repo info, trees, paths-info,
// refs and commits.
#include "hub_api_fixture.hpp"

using namespace hub_api_fixtures;

BOOST_AUTO_TEST_SUITE(hub_api)

BOOST_FIXTURE_TEST_CASE(repo_info_basic, hub_fixture) {
    auto m = go(co_repo_info(c, "alice/m"));
    BOOST_TEST(m.id == "alice/m");
    BOOST_TEST(m.sha == c2);
    BOOST_TEST(m.author == "alice");
    BOOST_TEST(!m.is_private);
    BOOST_TEST(m.gated == "false");
    BOOST_TEST(!m.disabled);
    BOOST_TEST(m.last_modified.size() == 24u);  // 2024-01-01T00:00:00.000Z
    BOOST_TEST(m.created_at.size() == 24u);
    std::vector<std::string> names;
    for (auto& f : m.siblings) {
        names.push_back(f.path);
        BOOST_TEST(f.size == 0u);  // no sizes without files_metadata
        BOOST_TEST(f.blob_id.empty());
        BOOST_TEST(!f.lfs.has_value());
    }
    BOOST_TEST(sorted(names) == (std::vector<std::string>{".gitattributes", "README.md", "config.json", "model.bin",
                                                          "new.txt", "sub/a.txt", "sub/deep/b.txt"}));
}

BOOST_FIXTURE_TEST_CASE(repo_info_files_metadata, hub_fixture) {
    auto m = go(co_repo_info(c, "alice/m", {}, true));
    std::map<std::string, repo_file> by_path;
    for (auto& f : m.siblings) by_path[f.path] = f;
    BOOST_TEST_REQUIRE(by_path.count("config.json") == 1u);
    BOOST_TEST(by_path["config.json"].size == 7u);
    BOOST_TEST(by_path["config.json"].blob_id == git_blob_id(R"({"a":1})"));
    BOOST_TEST(!by_path["config.json"].lfs.has_value());
    BOOST_TEST(by_path["config.json"].etag() == git_blob_id(R"({"a":1})"));
    const auto& model = by_path["model.bin"];
    BOOST_TEST_REQUIRE(model.lfs.has_value());
    BOOST_TEST(model.size == lfs_data.size());
    BOOST_TEST(model.lfs->sha256 == lfs_sha);
    BOOST_TEST(model.lfs->size == lfs_data.size());
    BOOST_TEST(model.lfs->pointer_size == lfs_pointer_text(lfs_sha, lfs_data.size()).size());
    BOOST_TEST(model.blob_id == git_blob_id(lfs_pointer_text(lfs_sha, lfs_data.size())));
    BOOST_TEST(model.etag() == lfs_sha);
    BOOST_TEST(api_lines(s, "GET", "/api/models/alice/m/revision/main?blobs=true", 1).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(repo_info_revisions, hub_fixture) {
    auto has = [](const repo_metadata& m, const std::string& p) {
        return std::any_of(m.siblings.begin(), m.siblings.end(), [&](auto& f) { return f.path == p; });
    };
    for (auto& [rev, sha] : std::vector<std::pair<std::string, std::string>>{
             {"main", c2}, {"dev", c1}, {"v1", c1}, {c1, c1}, {c0, c0}, {"refs/pr/1", pr}, {"", c2}}) {
        auto m = go(co_repo_info(c, "alice/m", at(rev)));
        BOOST_TEST(m.sha == sha, "revision '" << rev << "'");
    }
    BOOST_TEST(has(go(co_repo_info(c, "alice/m", at("refs/pr/1"))), "pr.txt"));
    BOOST_TEST(!has(go(co_repo_info(c, "alice/m", at("main"))), "pr.txt"));
    BOOST_TEST(!has(go(co_repo_info(c, "alice/m", at("v1"))), "new.txt"));
    BOOST_TEST(go(co_repo_info(c, "alice/m", at(c0))).siblings.size() == 1u);
    // q(rev): the '/' of refs/pr/1 is escaped; an empty revision uses the plain URL.
    BOOST_TEST(api_lines(s, "GET", "/api/models/alice/m/revision/refs%2Fpr%2F1", 2).size() == 2u);
    BOOST_TEST(api_lines(s, "GET", "/api/models/alice/m/revision/" + c0, 2).size() == 2u);
    std::size_t plain = 0;
    for (auto& l : api_lines(s, "GET", "/api/models/alice/m")) plain += field(l, "target") == "/api/models/alice/m";
    BOOST_TEST(plain == 1u);
}

BOOST_FIXTURE_TEST_CASE(repo_info_errors_and_tokens, hub_fixture) {
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/m", at("nope"))); }) ==
               make_error_code(hub_errc::revision_not_found));
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/m", at(std::string(40, 'a')))); }) ==
               make_error_code(hub_errc::revision_not_found));
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/none")); }) == make_error_code(hub_errc::repo_not_found));
    // The private repo: alice (the client's token) sees it; bob's per-call token does not.
    auto secret = go(co_repo_info(c, "alice/secret"));
    BOOST_TEST(secret.is_private);
    BOOST_TEST(secret.siblings.size() == 2u);
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/secret", at("main", bob_token))); }) ==
               make_error_code(hub_errc::repo_not_found));
    // A client holding bob's token, overridden per call by alice's.
    client as_bob(ioc.get_executor(), with_token(bob_token));
    BOOST_TEST(error_of([&] { go(co_repo_info(as_bob, "alice/secret")); }) == make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(go(co_repo_info(as_bob, "alice/secret", at("main", alice_token))).sha ==
               hfhub::test::head_of(s, "models/alice/secret"));
    client anonymous(ioc.get_executor(), quick_config(s.url()));
    BOOST_TEST(error_of([&] { go(co_repo_info(anonymous, "alice/secret")); }) ==
               make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(go(co_repo_info(anonymous, "alice/m")).sha == c2);
}

BOOST_FIXTURE_TEST_CASE(datasets_use_their_prefixes, hub_fixture) {
    s.create_repo("alice/ds", alice_token, false, "dataset");
    std::string head = must_commit(s, "datasets/alice/ds", "main", {test_server::add_file("data/train.csv", "a,b\n")});
    repo_query q;
    q.type = repo_type::dataset;
    auto m = go(co_repo_info(c, "alice/ds", q));
    BOOST_TEST(m.sha == head);
    BOOST_TEST(go(co_file_exists(c, "alice/ds", "data/train.csv", q)));
    BOOST_TEST(!go(co_file_exists(c, "alice/ds", "data/test.csv", q)));
    tree_query t;
    t.type = repo_type::dataset;
    t.path = "data";
    BOOST_TEST(kinds(go(co_list_repo_tree(c, "alice/ds", t))) == (std::vector<std::string>{"f:data/train.csv"}));
    // The model of the same name does not exist.
    BOOST_TEST(error_of([&] { go(co_repo_info(c, "alice/ds")); }) == make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(api_lines(s, "HEAD", "/datasets/alice/ds/resolve/main/data/train.csv", 1).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(tree_listings, hub_fixture) {
    auto root = go(co_list_repo_tree(c, "alice/m"));
    BOOST_TEST(sorted(kinds(root)) == (std::vector<std::string>{"d:sub", "f:.gitattributes", "f:README.md",
                                                               "f:config.json", "f:model.bin", "f:new.txt"}));
    auto all = go(co_list_repo_tree(c, "alice/m", tree("", true)));
    BOOST_TEST(sorted(kinds(all)) ==
               (std::vector<std::string>{"d:sub", "d:sub/deep", "f:.gitattributes", "f:README.md", "f:config.json",
                                         "f:model.bin", "f:new.txt", "f:sub/a.txt", "f:sub/deep/b.txt"}));
    BOOST_TEST(sorted(kinds(go(co_list_repo_tree(c, "alice/m", tree("sub", false))))) ==
               (std::vector<std::string>{"d:sub/deep", "f:sub/a.txt"}));
    BOOST_TEST(sorted(kinds(go(co_list_repo_tree(c, "alice/m", tree("sub/", true))))) ==
               (std::vector<std::string>{"d:sub/deep", "f:sub/a.txt", "f:sub/deep/b.txt"}));
    // At the tag: before the second commit.
    auto v1 = go(co_list_repo_tree(c, "alice/m", tree("", false, false, "v1")));
    BOOST_TEST(find_file(v1, "new.txt") == nullptr);
    BOOST_TEST(must_file(v1, "config.json").blob_id == git_blob_id("{}"));

    const repo_file* readme = find_file(all, "README.md");
    BOOST_TEST_REQUIRE(readme);
    BOOST_TEST(readme->size == 5u);
    BOOST_TEST(readme->blob_id == git_blob_id("hello"));
    BOOST_TEST(!readme->lfs.has_value());
    BOOST_TEST(!readme->last_commit.has_value());
    const repo_file* model = find_file(all, "model.bin");
    BOOST_TEST_REQUIRE(model);
    BOOST_TEST_REQUIRE(model->lfs.has_value());
    BOOST_TEST(model->lfs->sha256 == lfs_sha);  // tree entries spell it "oid"
    BOOST_TEST(model->lfs->size == lfs_data.size());
    BOOST_TEST(model->lfs->pointer_size == lfs_pointer_text(lfs_sha, lfs_data.size()).size());
    BOOST_TEST(model->size == lfs_data.size());
    for (auto& e : all)
        if (auto* d = std::get_if<repo_folder>(&e)) BOOST_TEST(hfhub::util::is_hex(d->tree_id, 40), d->path);

    BOOST_TEST(error_of([&] { go(co_list_repo_tree(c, "alice/m", tree("nope", false))); }) ==
               make_error_code(hub_errc::entry_not_found));
    BOOST_TEST(error_of([&] { go(co_list_repo_tree(c, "alice/m", tree("", false, false, "nope"))); }) ==
               make_error_code(hub_errc::revision_not_found));
    BOOST_TEST(api_lines(s, "GET", "/api/models/alice/m/tree/main/sub?recursive=true&expand=false", 1).size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(tree_expand_gives_last_commits, hub_fixture) {
    auto all = go(co_list_repo_tree(c, "alice/m", tree("", true, true)));
    std::map<std::string, std::string> want = {{"README.md", c1}, {"config.json", c2}, {"new.txt", c2},
                                               {"model.bin", c1}, {"sub/deep/b.txt", c1}, {".gitattributes", c0}};
    for (auto& [path, id] : want) {
        auto* f = find_file(all, path);
        BOOST_TEST_REQUIRE(f, path);
        BOOST_TEST_REQUIRE(f->last_commit.has_value(), path);
        BOOST_TEST(f->last_commit->id == id, path);
        BOOST_TEST(f->last_commit->date.size() == 24u);
    }
    BOOST_TEST(must_file(all, "config.json").last_commit.value().title == "Second");
    BOOST_TEST(must_file(all, "README.md").last_commit.value().title == "First");
}

BOOST_FIXTURE_TEST_CASE(paths_info, hub_fixture) {
    auto got = go(co_get_paths_info(c, "alice/m", {"README.md", "sub", "missing.txt", "sub/deep/", "model.bin", "sub/no"}));
    BOOST_TEST(kinds(got) == (std::vector<std::string>{"f:README.md", "d:sub", "d:sub/deep", "f:model.bin"}));
    BOOST_TEST(must_file(got, "README.md").blob_id == git_blob_id("hello"));
    BOOST_TEST(must_file(got, "README.md").size == 5u);
    BOOST_TEST(!must_file(got, "README.md").last_commit.has_value());
    BOOST_TEST_REQUIRE(must_file(got, "model.bin").lfs.has_value());
    BOOST_TEST(must_file(got, "model.bin").lfs.value().sha256 == lfs_sha);
    BOOST_TEST(hfhub::util::is_hex(std::get<repo_folder>(got[1]).tree_id, 40));

    auto expanded = go(co_get_paths_info(c, "alice/m", {"config.json"}, at("v1"), true));
    BOOST_TEST_REQUIRE(expanded.size() == 1u);
    BOOST_TEST(std::get<repo_file>(expanded[0]).blob_id == git_blob_id("{}"));
    BOOST_TEST_REQUIRE(std::get<repo_file>(expanded[0]).last_commit.has_value());
    BOOST_TEST(std::get<repo_file>(expanded[0]).last_commit->id == c1);

    BOOST_TEST(go(co_get_paths_info(c, "alice/m", {"pr.txt"}, at("refs/pr/1"))).size() == 1u);
    BOOST_TEST(go(co_get_paths_info(c, "alice/m", {"pr.txt"})).empty());
    BOOST_TEST(go(co_get_paths_info(c, "alice/m", {})).empty());
    BOOST_TEST(error_of([&] { go(co_get_paths_info(c, "alice/none", {"a"})); }) ==
               make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(error_of([&] { go(co_get_paths_info(c, "alice/m", {"a"}, at("nope"))); }) ==
               make_error_code(hub_errc::revision_not_found));
    BOOST_TEST(api_lines(s, "POST", "/api/models/alice/m/paths-info/refs%2Fpr%2F1", 1).size() == 1u);
    // An empty list sends nothing: 6 POSTs came from the 6 calls above that had paths.
    BOOST_TEST(api_lines(s, "POST", "/paths-info/", 6).size() == 6u);
}

BOOST_FIXTURE_TEST_CASE(refs, hub_fixture) {
    auto refs = go(co_list_repo_refs(c, "alice/m"));
    std::map<std::string, std::string> branches;
    for (auto& b : refs.branches) {
        branches[b.name] = b.target_commit;
        BOOST_TEST(b.ref == "refs/heads/" + b.name);
    }
    BOOST_TEST((branches == std::map<std::string, std::string>{{"main", c2}, {"dev", c1}}));
    BOOST_TEST_REQUIRE(refs.tags.size() == 1u);
    BOOST_TEST(refs.tags[0].name == "v1");
    BOOST_TEST(refs.tags[0].ref == "refs/tags/v1");
    BOOST_TEST(refs.tags[0].target_commit == c1);
    BOOST_TEST(refs.converts.empty());
    BOOST_TEST(refs.pull_requests.empty());

    auto with_prs = go(co_list_repo_refs(c, "alice/m", {}, true));
    BOOST_TEST_REQUIRE(with_prs.pull_requests.size() == 1u);
    BOOST_TEST(with_prs.pull_requests[0].name == "1");
    BOOST_TEST(with_prs.pull_requests[0].ref == "refs/pr/1");
    BOOST_TEST(with_prs.pull_requests[0].target_commit == pr);
    BOOST_TEST(with_prs.branches.size() == 2u);
    BOOST_TEST(api_lines(s, "GET", "/api/models/alice/m/refs?include_prs=1", 1).size() == 1u);
    BOOST_TEST(error_of([&] { go(co_list_repo_refs(c, "alice/secret", at("main", bob_token))); }) ==
               make_error_code(hub_errc::repo_not_found));
}

BOOST_FIXTURE_TEST_CASE(commits_newest_first_across_pages, hub_fixture) {
    std::vector<std::string> ids = {c0, c1, c2};  // oldest first
    for (int i = 0; i < 57; ++i)
        ids.push_back(must_commit(s, R, "main", {test_server::add_file("n.txt", std::to_string(i))},
                                  "step " + std::to_string(i)));
    auto got = go(co_list_repo_commits(c, "alice/m"));
    std::vector<std::string> got_ids;
    for (auto& cm : got) got_ids.push_back(cm.id);
    BOOST_TEST(got_ids == std::vector<std::string>(ids.rbegin(), ids.rend()));
    BOOST_TEST_REQUIRE(got.size() == 60u);
    BOOST_TEST(got[0].title == "step 56");
    BOOST_TEST(got[57].title == "Second");
    BOOST_TEST(got[58].title == "First");
    BOOST_TEST(got[0].authors == std::vector<std::string>{"alice"});
    BOOST_TEST(got[0].date.size() == 24u);
    // The server pages by 50: two requests, the second from the Link header (which may pin the
    // resolved commit instead of "main").
    BOOST_TEST(api_lines(s, "GET", "/api/models/alice/m/commits/", 2).size() == 2u);
    BOOST_TEST(api_lines(s, "GET", "?p=1&", 1).size() == 1u);

    auto at_tag = go(co_list_repo_commits(c, "alice/m", at("v1")));
    BOOST_TEST_REQUIRE(at_tag.size() == 2u);
    BOOST_TEST(at_tag[0].id == c1);
    BOOST_TEST(at_tag[1].id == c0);
    auto at_pr = go(co_list_repo_commits(c, "alice/m", at("refs/pr/1")));
    BOOST_TEST_REQUIRE(!at_pr.empty());
    BOOST_TEST(at_pr[0].id == pr);
    BOOST_TEST(at_pr[0].title == "PR change");
    BOOST_TEST(error_of([&] { go(co_list_repo_commits(c, "alice/m", at("nope"))); }) ==
               make_error_code(hub_errc::revision_not_found));
}

BOOST_AUTO_TEST_SUITE_END()
