// The typed metadata calls (hub_api.hpp) against the local server, plus a canned server for
// answers the real one never gives (malformed bodies, odd Link headers).
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

namespace {

const std::string R = "models/alice/m";

const repo_file* find_file(const std::vector<tree_entry>& v, const std::string& path) {
    for (auto& e : v)
        if (auto* f = std::get_if<repo_file>(&e); f && f->path == path) return f;
    return nullptr;
}

const repo_file& must_file(const std::vector<tree_entry>& v, const std::string& path) {
    if (auto* f = find_file(v, path)) return *f;
    throw std::runtime_error("no file " + path + " in the listing");
}

// "f:path" or "d:path", in the server's order.
std::vector<std::string> kinds(const std::vector<tree_entry>& v) {
    std::vector<std::string> out;
    for (auto& e : v)
        out.push_back(std::holds_alternative<repo_file>(e) ? "f:" + std::get<repo_file>(e).path
                                                            : "d:" + std::get<repo_folder>(e).path);
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::string field(const json::object& o, std::string_view key) { return json::value_to<std::string>(o.at(key)); }

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

// Answers every request with what `respond(method, target, body)` returns (a whole HTTP/1.1
// response), one request per connection, on an ephemeral port.
class canned_server {
public:
    using responder = std::function<std::string(const std::string&, const std::string&, const std::string&)>;
    explicit canned_server(responder r) : respond_(std::move(r)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
        url_ = "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~canned_server() {
        ioc_.stop();
        thread_.join();
    }
    const std::string& url() const { return url_; }
    // "METHOD target\nbody" of each request so far.
    std::vector<std::string> requests() const {
        std::lock_guard lk(mu_);
        return requests_;
    }

    static std::string reply(const std::string& body, const std::string& extra_headers = {}, unsigned status = 200) {
        return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
    }

private:
    asio::awaitable<void> accept_loop() {
        while (true) {
            auto sock = co_await acceptor_.async_accept(asio::use_awaitable);
            asio::co_spawn(ioc_, serve(std::move(sock)), asio::detached);
        }
    }
    asio::awaitable<void> serve(asio::ip::tcp::socket sock) {
        try {
            std::string buf;
            std::size_t n = co_await asio::async_read_until(sock, asio::dynamic_buffer(buf), "\r\n\r\n", asio::use_awaitable);
            std::string head = buf.substr(0, n), body = buf.substr(n);
            std::string method = head.substr(0, head.find(' '));
            std::string target = head.substr(method.size() + 1, head.find(' ', method.size() + 1) - method.size() - 1);
            std::size_t length = 0;
            for (auto p = head.find("\r\n"); p != std::string::npos; p = head.find("\r\n", p + 2)) {
                std::string line = head.substr(p + 2, head.find("\r\n", p + 2) - p - 2);
                if (line.size() > 15 && ::strncasecmp(line.c_str(), "content-length:", 15) == 0)
                    length = std::stoul(line.substr(15));
            }
            if (body.size() < length)
                co_await asio::async_read(sock, asio::dynamic_buffer(body), asio::transfer_exactly(length - body.size()),
                                          asio::use_awaitable);
            {
                std::lock_guard lk(mu_);
                requests_.push_back(method + " " + target + "\n" + body);
            }
            std::string out = respond_(method, target, body);
            co_await asio::async_write(sock, asio::buffer(out), asio::use_awaitable);
            boost::system::error_code ignore;
            sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignore);
        } catch (const std::exception&) {
        }
    }

    responder respond_;
    asio::io_context ioc_;
    asio::ip::tcp::acceptor acceptor_;
    std::string url_;
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<std::string> requests_;
};

}  // namespace

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

// A repo big enough that the server pages: 1000 entries a page, 100 with expand.
BOOST_AUTO_TEST_CASE(tree_and_paths_info_pagination_and_batching) {
    test_server s;
    s.create_repo("alice/big", alice_token);
    std::vector<std::string> ops;
    for (int i = 0; i < 2400; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "many/f%04d.txt", i);
        ops.push_back(test_server::add_file(name, std::to_string(i)));
    }
    for (int i = 0; i < 150; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "some/s%03d.txt", i);
        ops.push_back(test_server::add_file(name, "s"));
    }
    std::string head = must_commit(s, "models/alice/big", "main", ops, "Bulk");
    asio::io_context ioc;
    auto cfg = quick_config(s.url());
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);

    tree_query all;
    all.recursive = true;
    auto entries = run(ioc, co_list_repo_tree(c, "alice/big", all));
    auto k = kinds(entries);
    BOOST_TEST(entries.size() == 2400u + 150u + 3u);  // + .gitattributes, many/, some/
    BOOST_TEST(std::set<std::string>(k.begin(), k.end()).size() == k.size());  // no page twice
    BOOST_TEST(must_file(entries, "many/f2399.txt").blob_id == git_blob_id("2399"));
    BOOST_TEST(find_file(entries, "some/s149.txt") != nullptr);
    auto pages = api_lines(s, "GET", "/api/models/alice/big/tree/", 3);
    BOOST_TEST(pages.size() == 3u);
    BOOST_TEST(api_lines(s, "GET", "cursor=", 2).size() == 2u);

    tree_query many;
    many.path = "many";
    BOOST_TEST(run(ioc, co_list_repo_tree(c, "alice/big", many)).size() == 2400u);

    tree_query some;
    some.path = "some";
    some.expand = true;
    auto expanded = run(ioc, co_list_repo_tree(c, "alice/big", some));
    BOOST_TEST_REQUIRE(expanded.size() == 150u);
    for (auto& e : expanded) {
        auto& f = std::get<repo_file>(e);
        BOOST_TEST_REQUIRE(f.last_commit.has_value());
        BOOST_TEST(f.last_commit->id == head);
        BOOST_TEST(f.last_commit->title == "Bulk");
    }
    BOOST_TEST(api_lines(s, "GET", "/some?", 2).size() == 2u);

    // 1200 paths: three POSTs of at most 500 (the server refuses more than 1000 at once).
    std::vector<std::string> paths;
    for (int i = 0; i < 1100; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "many/f%04d.txt", i * 2);
        paths.push_back(name);
    }
    for (int i = 0; i < 100; ++i) paths.push_back("nope/x" + std::to_string(i));
    auto info = run(ioc, co_get_paths_info(c, "alice/big", paths));
    BOOST_TEST(info.size() == 1100u);
    BOOST_TEST(std::get<repo_file>(info.front()).path == "many/f0000.txt");
    BOOST_TEST(std::get<repo_file>(info.back()).path == "many/f2198.txt");
    auto posts = api_lines(s, "POST", "/api/models/alice/big/paths-info/main", 3);
    BOOST_TEST(posts.size() == 3u);
    for (auto& p : posts) BOOST_TEST(p.at("status").to_number<int>() == 200);
}

// A Link header without a space after ';' is followed; off-origin, looping or malformed next
// links are refused rather than guessed at.
BOOST_FIXTURE_TEST_CASE(link_header_variants, hub_fixture) {
    auto faults = [&](const std::string& link, unsigned times = 1) {
        json::object rule{{"method", "GET"}, {"match", "/api/models/alice/m/tree/"}, {"times", times},
                          {"headers", json::object{{"Link", link}}}};
        auto r = s.post("/admin/faults", json::serialize(json::object{{"rules", json::array{rule}}}));
        if (r.status != 200) throw std::runtime_error("faults: " + r.body);
    };
    auto root_size = go(co_list_repo_tree(c, "alice/m")).size();  // 6 entries, one page
    BOOST_TEST_REQUIRE(root_size == 6u);

    // The next page starts at the last entry: one entry comes twice, which shows it was fetched.
    std::string cursor = hfhub::util::percent_encode(hfhub::util::base64_encode(std::to_string(root_size - 1)), false);
    faults("<" + s.url() + "/api/models/alice/m/tree/main?recursive=false&expand=false&cursor=" + cursor + ">;rel=next");
    BOOST_TEST(go(co_list_repo_tree(c, "alice/m")).size() == root_size + 1);
    faults("<" + s.url() + "/api/models/alice/m/tree/main?cursor=" + cursor + R"(>; rel="prev", </api/models/alice/m/tree/main?cursor=)" +
           cursor + R"(>; rel="next")");
    BOOST_TEST(go(co_list_repo_tree(c, "alice/m")).size() == root_size + 1);  // relative, resolved

    auto protocol = make_error_code(client_errc::protocol_error);
    faults(R"(<http://other.invalid/api/models/alice/m/tree/main?cursor=x>; rel="next")");
    auto msg = message_of([&] { go(co_list_repo_tree(c, "alice/m")); });
    BOOST_TEST(msg.find("another origin") != std::string::npos, msg);
    faults("<" + s.url() + "/api/models/alice/m/tree/main?recursive=false&expand=false>; rel=\"next\"", 0);
    msg = message_of([&] { go(co_list_repo_tree(c, "alice/m")); });
    BOOST_TEST(msg.find("loop") != std::string::npos, msg);
    faults(R"(garbage; rel="next")");
    BOOST_TEST(error_of([&] { go(co_list_repo_tree(c, "alice/m")); }) == protocol);
    faults("<ftp://x/y>; rel=\"next\"");
    BOOST_TEST(error_of([&] { go(co_list_repo_tree(c, "alice/m")); }) == protocol);
}

// Bodies the local server never sends: each is a protocol_error naming what was wrong.
BOOST_AUTO_TEST_CASE(malformed_answers_are_protocol_errors) {
    std::string deep(20000, '[');
    std::map<std::string, std::pair<std::string, std::string>> answers = {  // target prefix → (body, headers)
        {"/api/models/x/notjson/", {"<html>oops</html>", ""}},
        {"/api/models/x/truncated/", {R"({"id":"x/truncated","sha":"ab)", ""}},
        {"/api/models/x/nosha/", {R"({"id":"x/nosha"})", ""}},
        {"/api/models/x/badsha/", {R"({"id":"x/badsha","sha":5})", ""}},
        {"/api/models/x/array/", {R"([1,2])", ""}},
        {"/api/models/x/deep/", {deep, ""}},
        {"/api/models/x/sibs/", {R"({"id":"x/sibs","sha":"s","siblings":[{"rfilename":"a"},{"size":3}]})", ""}},
        {"/api/models/x/sibsize/", {R"({"id":"x","sha":"s","siblings":[{"rfilename":"a","size":-4}]})", ""}},
        {"/api/models/x/ok/", {R"({"id":"x/ok","sha":"s","gated":"manual","private":true,"extra":{"z":[1]},
            "siblings":[{"rfilename":"a","size":3.0,"blobId":"b","lfs":{"sha256":"h","size":3,"pointerSize":9}}]})",
                               ""}},
        {"/api/models/x/tree/tree/main?", {R"([{"type":"file","path":"a","oid":"o","size":1},{"type":"submodule","path":"s"},
            {"type":"directory","path":"d","oid":"t","size":0}])", "Link: </api/models/x/tree/tree/main/page2>;rel=next\r\n"}},
        {"/api/models/x/tree/tree/main/page2", {R"([{"type":"file","path":"b","oid":"o2","size":2,"lfs":{"oid":"h","size":2}}])", ""}},
        {"/api/models/x/badtree/tree/main", {R"([{"type":"file","path":"a","oid":"o"}])", ""}},
        {"/api/models/x/badpage/tree/main?", {R"([])", "Link: </api/models/x/badpage/tree/main/2>; rel=\"next\"\r\n"}},
        {"/api/models/x/badpage/tree/main/2", {R"({"not":"an array"})", ""}},
        {"/api/models/x/refs/refs", {R"({"branches":[{"name":"main","ref":"refs/heads/main"}],"tags":[]})", ""}},
        {"/api/models/x/norefs/refs", {R"({"tags":[]})", ""}},
        {"/api/models/x/commits/commits/main", {R"([{"id":"c","title":"t","date":"d","authors":[{"user":7}]}])", ""}},
        {"/api/whoami-v2", {R"({"type":"user","orgs":[]})", ""}},
    };
    canned_server fake([&](const std::string&, const std::string& target, const std::string&) {
        for (auto& [prefix, a] : answers)
            if (target.starts_with(prefix)) return canned_server::reply(a.first, a.second);
        return canned_server::reply(R"({"error":"no such canned answer"})", "X-Error-Code: RepoNotFound\r\n", 404);
    });
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(fake.url()));
    auto info_error = [&](const std::string& id) {
        return message_of([&] { run(ioc, co_repo_info(c, "x/" + id)); });
    };
    auto is_protocol = [](const std::string& what, const std::string& mentions) {
        return what.starts_with("protocol_error") && what.find(mentions) != std::string::npos;
    };
    BOOST_TEST(is_protocol(info_error("notjson"), "malformed JSON"), info_error("notjson"));
    BOOST_TEST(is_protocol(info_error("truncated"), "malformed JSON"), info_error("truncated"));
    BOOST_TEST(is_protocol(info_error("nosha"), "'sha'"), info_error("nosha"));
    BOOST_TEST(is_protocol(info_error("badsha"), "'sha'"), info_error("badsha"));
    BOOST_TEST(is_protocol(info_error("array"), "not a JSON object"), info_error("array"));
    BOOST_TEST(is_protocol(info_error("deep"), "JSON"), info_error("deep"));
    BOOST_TEST(is_protocol(info_error("sibs"), "siblings[1].rfilename"), info_error("sibs"));
    BOOST_TEST(is_protocol(info_error("sibsize"), "siblings[0].size"), info_error("sibsize"));
    BOOST_TEST(info_error("nosha").find(fake.url() + "/api/models/x/nosha/revision/main") != std::string::npos);

    auto ok = run(ioc, co_repo_info(c, "x/ok"));
    BOOST_TEST(ok.gated == "manual");
    BOOST_TEST(ok.is_private);
    BOOST_TEST_REQUIRE(ok.siblings.size() == 1u);
    BOOST_TEST(ok.siblings[0].size == 3u);
    BOOST_TEST(ok.siblings[0].lfs.value().pointer_size == 9u);

    // Unknown entry types are skipped; the relative next link is followed.
    auto tree = run(ioc, co_list_repo_tree(c, "x/tree"));
    BOOST_TEST(kinds(tree) == (std::vector<std::string>{"f:a", "d:d", "f:b"}));
    BOOST_TEST(must_file(tree, "b").lfs.value().sha256 == "h");
    BOOST_TEST(must_file(tree, "b").etag() == "h");
    auto bad_tree = message_of([&] { run(ioc, co_list_repo_tree(c, "x/badtree")); });
    BOOST_TEST(is_protocol(bad_tree, "tree[0].size"), bad_tree);
    auto bad_page = message_of([&] { run(ioc, co_list_repo_tree(c, "x/badpage")); });
    BOOST_TEST(is_protocol(bad_page, "not a JSON array"), bad_page);
    auto refs = message_of([&] { run(ioc, co_list_repo_refs(c, "x/refs")); });
    BOOST_TEST(is_protocol(refs, "branches[0].targetCommit"), refs);
    auto norefs = message_of([&] { run(ioc, co_list_repo_refs(c, "x/norefs")); });
    BOOST_TEST(is_protocol(norefs, "'branches'"), norefs);
    auto commits = message_of([&] { run(ioc, co_list_repo_commits(c, "x/commits")); });
    BOOST_TEST(is_protocol(commits, "commits[0].authors[0].user"), commits);
    auto who = message_of([&] { run(ioc, co_whoami(c)); });
    BOOST_TEST(is_protocol(who, "'name'"), who);
    BOOST_TEST(error_of([&] { run(ioc, co_repo_info(c, "x/unknown")); }) == make_error_code(hub_errc::repo_not_found));

    // The form body of paths-info, as the Python client sends it.
    canned_server echo([](const std::string&, const std::string&, const std::string&) { return canned_server::reply("[]"); });
    client c2(ioc.get_executor(), quick_config(echo.url()));
    repo_query q;
    q.revision = "refs/pr/2";
    BOOST_TEST(run(ioc, co_get_paths_info(c2, "x/y", {"a b.txt", "dir/c&d=e.txt", "folder/"}, q, true)).empty());
    BOOST_TEST(echo.requests() == std::vector<std::string>{"POST /api/models/x/y/paths-info/refs%2Fpr%2F2\n"
                                                          "paths=a%20b.txt&paths=dir%2Fc%26d%3De.txt&paths=folder&expand=true"});
}

BOOST_AUTO_TEST_SUITE_END()
