// Tree listings and paths-info: entry shapes, git tree ids, pagination, lastCommit.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <map>
#include <set>

using namespace hfhub::test;

namespace {

const std::string R = "models/alice/t";

// Git's tree object id, built here from the format: "tree <len>\0" then for each entry
// "<mode> <name>\0<20 raw bytes>", sorted by name with folders compared as name + "/".
struct git_entry {
    std::string name;
    bool folder;
    std::string oid_hex;
};
std::string raw_bytes(const std::string& hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}
std::string git_tree_id(std::vector<git_entry> entries) {
    std::sort(entries.begin(), entries.end(), [](const git_entry& a, const git_entry& b) {
        return (a.folder ? a.name + "/" : a.name) < (b.folder ? b.name + "/" : b.name);
    });
    std::string body;
    for (auto& e : entries) {
        body += (e.folder ? "40000 " : "100644 ") + e.name;
        body.push_back('\0');
        body += raw_bytes(e.oid_hex);
    }
    std::string obj = "tree " + std::to_string(body.size());
    obj.push_back('\0');
    return hfhub::util::sha1_hex(obj + body);
}

struct tree_fixture {
    test_server s;
    std::string lfs_data = pattern_bytes(2048, 3);
    std::string lfs_sha;
    std::map<std::string, std::string> content;  // regular files
    std::string c1;
    tree_fixture() {
        s.create_repo("alice/t", alice_token);
        lfs_sha = s.upload_lfs("alice/t", lfs_data, alice_token);
        // "a/c.txt" beside folder "a/c": git's order puts "c.txt" before "c/".
        content = {{"README.md", "# readme\n"}, {"a/b.txt", "b"}, {"a/c.txt", "c"},
                   {"a/c/d.txt", "d"},        {"a/c-d", "dash"}, {"z.txt", "z"}};
        std::vector<std::string> ops;
        for (auto& [p, c] : content) ops.push_back(test_server::add_file(p, c));
        ops.push_back(test_server::add_lfs("a/c/e.bin", lfs_sha, lfs_data.size()));
        c1 = must_commit(s, R, "main", ops);
    }
    json::array list(const std::string& url_tail, const std::string& token = alice_token) {
        auto r = s.get("/api/" + R + "/tree/" + url_tail, token);
        if (r.status != 200) throw std::runtime_error("tree " + url_tail + ": " + std::to_string(r.status) + " " + r.body);
        return parse_json(r).as_array();
    }
    std::string gitattributes() { return s.get("/alice/t/resolve/main/.gitattributes").body; }
};

std::set<std::string> typed_paths(const json::array& a) {
    std::set<std::string> out;
    for (auto& e : a) out.insert(jstr(e, "type") + ":" + jstr(e, "path"));
    return out;
}

const json::object* find_entry(const json::array& a, const std::string& path) {
    for (auto& e : a)
        if (jstr(e, "path") == path) return &e.as_object();
    return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tree)

BOOST_FIXTURE_TEST_CASE(root_and_recursive_listings, tree_fixture) {
    auto root = list("main");
    BOOST_TEST((typed_paths(root) == std::set<std::string>{"file:.gitattributes", "file:README.md", "directory:a",
                                                           "file:z.txt"}));
    BOOST_TEST(root.size() == 4u);  // each folder once
    auto all = list("main?recursive=true");
    BOOST_TEST((typed_paths(all) ==
                std::set<std::string>{"file:.gitattributes", "file:README.md", "directory:a", "file:a/b.txt",
                                      "file:a/c.txt", "file:a/c-d", "directory:a/c", "file:a/c/d.txt",
                                      "file:a/c/e.bin", "file:z.txt"}));
    BOOST_TEST(all.size() == 10u);
    // recursive=false is the default.
    BOOST_TEST(typed_paths(list("main?recursive=false")) == typed_paths(root));
}

BOOST_FIXTURE_TEST_CASE(sub_paths, tree_fixture) {
    BOOST_TEST((typed_paths(list("main/a")) ==
                std::set<std::string>{"file:a/b.txt", "file:a/c.txt", "file:a/c-d", "directory:a/c"}));
    BOOST_TEST((typed_paths(list("main/a?recursive=true")) ==
                std::set<std::string>{"file:a/b.txt", "file:a/c.txt", "file:a/c-d", "directory:a/c",
                                      "file:a/c/d.txt", "file:a/c/e.bin"}));
    BOOST_TEST((typed_paths(list("main/a/c")) == std::set<std::string>{"file:a/c/d.txt", "file:a/c/e.bin"}));
    BOOST_TEST((typed_paths(list("main/a/c/")) == std::set<std::string>{"file:a/c/d.txt", "file:a/c/e.bin"}));
    // "a/c" must not pick up "a/c.txt" or "a/c-d".
    BOOST_TEST(list("main/a%2Fc").size() == 2u);
    auto r = s.get("/api/" + R + "/tree/main/nope");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "EntryNotFound");
    r = s.get("/api/" + R + "/tree/nope");
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
    r = s.get("/api/models/alice/none/tree/main", alice_token);
    BOOST_TEST(r.header("x-error-code") == "RepoNotFound");
}

BOOST_FIXTURE_TEST_CASE(entry_shapes_and_git_ids, tree_fixture) {
    auto all = list("main?recursive=true");
    for (auto& [p, c] : content) {
        auto* e = find_entry(all, p);
        BOOST_TEST_REQUIRE(e != nullptr, p);
        BOOST_TEST(jstr(e->at("oid")) == git_blob_id(c), p);
        BOOST_TEST(e->at("size").to_number<std::size_t>() == c.size(), p);
        BOOST_TEST(!e->contains("lfs"), p);
        BOOST_TEST(!e->contains("lastCommit"), p);
    }
    auto* lfs = find_entry(all, "a/c/e.bin");
    BOOST_TEST_REQUIRE(lfs != nullptr);
    std::string pointer = lfs_pointer_text(lfs_sha, lfs_data.size());
    BOOST_TEST(jstr(lfs->at("oid")) == git_blob_id(pointer));
    BOOST_TEST(lfs->at("size").to_number<std::size_t>() == lfs_data.size());
    BOOST_TEST(jstr(lfs->at("lfs").at("oid")) == lfs_sha);
    BOOST_TEST(lfs->at("lfs").at("size").to_number<std::size_t>() == lfs_data.size());
    BOOST_TEST(lfs->at("lfs").at("pointerSize").to_number<std::size_t>() == pointer.size());

    // Directory oids are git's tree ids.
    std::string tree_ac = git_tree_id({{"d.txt", false, git_blob_id("d")}, {"e.bin", false, git_blob_id(pointer)}});
    std::string tree_a = git_tree_id({{"b.txt", false, git_blob_id("b")},
                                      {"c.txt", false, git_blob_id("c")},
                                      {"c-d", false, git_blob_id("dash")},
                                      {"c", true, tree_ac}});
    auto* ac = find_entry(all, "a/c");
    auto* a = find_entry(all, "a");
    BOOST_TEST_REQUIRE((ac && a));
    BOOST_TEST(jstr(ac->at("oid")) == tree_ac);
    BOOST_TEST(jstr(a->at("oid")) == tree_a);
    BOOST_TEST(a->at("size").to_number<int>() == 0);
    // The same ids from a sub-path listing and from paths-info.
    BOOST_TEST(jstr(find_entry(list("main/a"), "a/c")->at("oid")) == tree_ac);
    auto pi = s.post("/api/" + R + "/paths-info/main", "paths=a&paths=a%2Fc", alice_token,
                     "application/x-www-form-urlencoded");
    auto arr = parse_json(pi).as_array();
    BOOST_TEST_REQUIRE(arr.size() == 2u);
    BOOST_TEST(jstr(find_entry(arr, "a")->at("oid")) == tree_a);
    BOOST_TEST(jstr(find_entry(arr, "a/c")->at("oid")) == tree_ac);
}

BOOST_FIXTURE_TEST_CASE(pagination_follows_absolute_links, tree_fixture) {
    std::vector<std::string> ops;
    for (int i = 0; i < 23; ++i) ops.push_back(test_server::add_file("many/f" + std::to_string(100 + i), "x"));
    must_commit(s, R, "main", ops);
    auto full = list("main?recursive=true");
    std::vector<std::string> expected;
    for (auto& e : full) expected.push_back(jstr(e, "path"));
    BOOST_TEST_REQUIRE(expected.size() == 10u + 24u);

    std::vector<std::string> got;
    std::string url = s.url() + "/api/" + R + "/tree/main?recursive=true&limit=7";
    int pages = 0;
    for (;;) {
        auto r = http_request("GET", url, {}, {{"Authorization", bearer(alice_token)}});
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
        auto page = parse_json(r).as_array();
        BOOST_TEST(page.size() <= 7u);
        for (auto& e : page) got.push_back(jstr(e, "path"));
        ++pages;
        auto next = next_link(r);
        if (!next) {
            BOOST_TEST(!r.has_header("link"));
            break;
        }
        BOOST_TEST(next->starts_with(s.url() + "/"), *next);
        BOOST_TEST_REQUIRE(pages < 20);
        url = *next;
    }
    BOOST_TEST(pages == 5);  // 34 entries / 7
    BOOST_TEST(got == expected);
    // A page of a sub-path keeps its path.
    auto r = s.get("/api/" + R + "/tree/main/many?limit=20", alice_token);
    auto next = next_link(r);
    BOOST_TEST_REQUIRE(next.has_value());
    BOOST_TEST(next->find("/many?") != std::string::npos);
    auto rest = http_request("GET", *next);
    BOOST_TEST(parse_json(rest).as_array().size() == 3u);
    BOOST_TEST(!next_link(rest).has_value());
    // A cursor that isn't one of ours.
    BOOST_TEST(s.get("/api/" + R + "/tree/main?cursor=" + q(hfhub::util::base64_encode("xyz"))).status == 400u);
}

BOOST_FIXTURE_TEST_CASE(pagination_survives_a_concurrent_commit, tree_fixture) {
    // Pages of one listing must come from one commit, even when the branch moves in between.
    auto full = list("main?recursive=true");
    auto first = s.get("/api/" + R + "/tree/main?recursive=true&limit=4", alice_token);
    BOOST_TEST_REQUIRE(first.status == 200u);
    auto next = next_link(first);
    BOOST_TEST_REQUIRE(next.has_value());
    // Sorts before everything but .gitattributes, so an offset cursor would shift.
    must_commit(s, R, "main", {test_server::add_file("0-early.txt", "e"), test_server::add_file("1-early.txt", "e")});
    std::vector<std::string> got;
    auto first_page = parse_json(first);
    for (auto& e : first_page.as_array()) got.push_back(jstr(e, "path"));
    for (std::string url = *next;;) {
        auto r = http_request("GET", url);
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
        auto page = parse_json(r);
        for (auto& e : page.as_array()) got.push_back(jstr(e, "path"));
        auto n = next_link(r);
        if (!n) break;
        url = *n;
    }
    std::vector<std::string> expected;
    for (auto& e : full) expected.push_back(jstr(e, "path"));
    BOOST_TEST(got == expected);
}

BOOST_FIXTURE_TEST_CASE(expand_gives_last_commit, tree_fixture) {
    std::string c2 = must_commit(s, R, "main", {test_server::add_file("a/b.txt", "b2")}, "change b");
    std::string c3 = must_commit(s, R, "main", {test_server::add_file("new.txt", "n")}, "add new");
    // Same content again: not a change.
    std::string c4 = must_commit(s, R, "main", {test_server::add_file("z.txt", "z")}, "rewrite z");
    auto all = list("main?recursive=true&expand=true");
    std::map<std::string, std::string> want = {{"README.md", c1}, {"a/b.txt", c2}, {"new.txt", c3},
                                               {"z.txt", c1},     {"a/c/e.bin", c1}};
    for (auto& [p, id] : want) {
        auto* e = find_entry(all, p);
        BOOST_TEST_REQUIRE(e != nullptr, p);
        BOOST_TEST_REQUIRE(e->contains("lastCommit"), p);
        BOOST_TEST(jstr(e->at("lastCommit").at("id")) == id, p);
        BOOST_TEST(!jstr(e->at("lastCommit").at("date")).empty());
    }
    BOOST_TEST(jstr(find_entry(all, "a/b.txt")->at("lastCommit").at("title")) == "change b");
    BOOST_TEST(c4 != c3);
    // At an older revision, the answer is relative to that revision.
    auto old = list(c1 + "?recursive=true&expand=true");
    BOOST_TEST(jstr(find_entry(old, "a/b.txt")->at("lastCommit").at("id")) == c1);
}

BOOST_FIXTURE_TEST_CASE(paths_info_form_and_json, tree_fixture) {
    auto check = [&](const http_response& r, const std::string& what) {
        BOOST_TEST_REQUIRE(r.status == 200u, what << ": " << r.body);
        auto arr = parse_json(r).as_array();
        BOOST_TEST(arr.size() == 3u, what);
        auto* b = find_entry(arr, "a/b.txt");
        auto* a = find_entry(arr, "a");
        auto* e = find_entry(arr, "a/c/e.bin");
        BOOST_TEST_REQUIRE((b && a && e), what);
        BOOST_TEST(jstr(b->at("type")) == "file");
        BOOST_TEST(jstr(b->at("oid")) == git_blob_id("b"));
        BOOST_TEST(jstr(a->at("type")) == "directory");
        BOOST_TEST(jstr(e->at("lfs").at("oid")) == lfs_sha);
        BOOST_TEST(!find_entry(arr, "missing.txt"));
        return arr;
    };
    // Python's form body.
    auto form = s.post("/api/" + R + "/paths-info/main",
                       "paths=a%2Fb.txt&paths=a&paths=missing.txt&paths=a%2Fc%2Fe.bin&expand=false", alice_token,
                       "application/x-www-form-urlencoded");
    auto arr = check(form, "form");
    BOOST_TEST(!find_entry(arr, "a/b.txt")->contains("lastCommit"));
    // JS's JSON body, with expand.
    auto js = s.post("/api/" + R + "/paths-info/main",
                     R"({"paths":["a/b.txt","a","missing.txt","a/c/e.bin"],"expand":true})", alice_token);
    arr = check(js, "json");
    BOOST_TEST(jstr(find_entry(arr, "a/b.txt")->at("lastCommit").at("id")) == c1);
    // Form with expand=true.
    auto fe = s.post("/api/" + R + "/paths-info/main", "paths=z.txt&expand=true", alice_token,
                     "application/x-www-form-urlencoded");
    auto one = parse_json(fe).as_array();
    BOOST_TEST_REQUIRE(one.size() == 1u);
    BOOST_TEST(jstr(one[0].at("lastCommit").at("id")) == c1);
    // A trailing slash names the same folder.
    auto slash = parse_json(s.post("/api/" + R + "/paths-info/main", R"({"paths":["a/c/"]})", alice_token)).as_array();
    BOOST_TEST_REQUIRE(slash.size() == 1u);
    BOOST_TEST(jstr(slash[0], "path") == "a/c");
    BOOST_TEST(jstr(slash[0], "type") == "directory");
    // Bad input.
    BOOST_TEST(s.post("/api/" + R + "/paths-info/main", R"({"paths":"a"})", alice_token).status == 400u);
    auto nr = s.post("/api/" + R + "/paths-info/nope", "paths=a", alice_token, "application/x-www-form-urlencoded");
    BOOST_TEST(nr.status == 404u);
    BOOST_TEST(nr.header("x-error-code") == "RevisionNotFound");
    // At a revision spelled refs%2Fheads%2Fmain.
    auto byref = s.post("/api/" + R + "/paths-info/refs%2Fheads%2Fmain", "paths=z.txt", alice_token,
                        "application/x-www-form-urlencoded");
    BOOST_TEST(parse_json(byref).as_array().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
