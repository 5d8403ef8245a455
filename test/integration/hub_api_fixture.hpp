// The fixture the hub_api suite's files share: alice/m with tags, branches, a pull request and
// an LFS file, a private alice/secret, and helpers that read listings.
#pragma once

#include "client_util.hpp"
#include "hub_helpers.hpp"

#include <hfhub/hub_api.hpp>

#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <strings.h>
#include <thread>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::api_lines;
using hfhub::test::bob_token;
using hfhub::test::git_blob_id;
using hfhub::test::lfs_pointer_text;
using hfhub::test::must_commit;
using hfhub::test::pattern_bytes;
using hfhub::test::error_of;
using hfhub::test::message_of;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;

namespace hub_api_fixtures {

inline const std::string R = "models/alice/m";

inline const repo_file* find_file(const std::vector<tree_entry>& v, const std::string& path) {
    for (auto& e : v)
        if (auto* f = std::get_if<repo_file>(&e); f && f->path == path) return f;
    return nullptr;
}

inline const repo_file& must_file(const std::vector<tree_entry>& v, const std::string& path) {
    if (auto* f = find_file(v, path)) return *f;
    throw std::runtime_error("no file " + path + " in the listing");
}

// "f:path" or "d:path", in the server's order.
inline std::vector<std::string> kinds(const std::vector<tree_entry>& v) {
    std::vector<std::string> out;
    for (auto& e : v)
        out.push_back(std::holds_alternative<repo_file>(e) ? "f:" + std::get<repo_file>(e).path
                                                            : "d:" + std::get<repo_folder>(e).path);
    return out;
}

inline std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

inline std::string field(const json::object& o, std::string_view key) { return json::value_to<std::string>(o.at(key)); }

// alice/m: c0 (.gitattributes) → c1 "First" (tag v1, branch dev) → c2 "Second" on main;
// PR 1 adds pr.txt on c2. alice/secret is private.
struct hub_fixture {
    test_server s;
    std::string lfs_data = pattern_bytes(3000, 9);
    std::string lfs_sha, c0, c1, c2, pr;
    asio::io_context ioc;
    client c{ioc.get_executor(), with_token(alice_token)};

    config with_token(const std::string& token) {
        auto cfg = quick_config(s.url());
        cfg.token = token;
        return cfg;
    }

    hub_fixture() {
        s.create_repo("alice/m", alice_token);
        c0 = hfhub::test::head_of(s, R);
        lfs_sha = s.upload_lfs("alice/m", lfs_data, alice_token);
        c1 = must_commit(s, R, "main",
                         {test_server::add_file("README.md", "hello"), test_server::add_file("config.json", "{}"),
                          test_server::add_file("sub/a.txt", "aaa"), test_server::add_file("sub/deep/b.txt", "bbbb"),
                          test_server::add_lfs("model.bin", lfs_sha, lfs_data.size())},
                         "First");
        require(s.post("/api/" + R + "/tag/main", R"({"tag":"v1"})", alice_token).status == 200, "tag");
        require(s.post("/api/" + R + "/branch/dev", "{}", alice_token).status == 200, "branch");
        c2 = must_commit(s, R, "main",
                         {test_server::add_file("config.json", R"({"a":1})"), test_server::add_file("new.txt", "new")},
                         "Second");
        require(s.post("/api/" + R + "/discussions", R"({"title":"p","pullRequest":true})", alice_token).status == 200,
                "pr");
        pr = must_commit(s, R, "refs/pr/1", {test_server::add_file("pr.txt", "p")}, "PR change");
        s.create_repo("alice/secret", alice_token, true);
        must_commit(s, "models/alice/secret", "main", {test_server::add_file("s.txt", "s")});
    }
    static void require(bool ok, const std::string& what) {
        if (!ok) throw std::runtime_error("fixture step failed: " + what);
    }
    template <class T>
    T go(asio::awaitable<T> aw) {
        return run(ioc, std::move(aw));
    }
    repo_query at(std::string rev, std::optional<std::string> token = {}) {
        repo_query q;
        q.revision = std::move(rev);
        q.token = std::move(token);
        return q;
    }
    tree_query tree(std::string path, bool recursive, bool expand = false, std::string rev = "main") {
        tree_query q;
        q.path = std::move(path);
        q.recursive = recursive;
        q.expand = expand;
        q.revision = std::move(rev);
        return q;
    }
};

}  // namespace hub_api_fixtures
