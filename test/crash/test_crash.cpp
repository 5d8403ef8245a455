// Crash consistency: SIGKILL `hfhub serve` at random moments while clients commit, restart it
// on the same root, and check that every acknowledged write survived and everything readable
// is whole. Seeded (HFHUB_CRASH_SEED, HFHUB_CRASH_RUNS) so that a failure can be replayed.
#include "http_client.hpp"
#include "hub_process.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/execution_monitor.hpp>
#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
namespace json = boost::json;
using hfhub::crash::hub_process;
using hfhub::test::header_pairs;
using hfhub::test::http_response;

namespace {

constexpr const char* ns = "crash";

// What a file in a branch head must be.
struct entry {
    std::string oid;  // git blob id (of the pointer for LFS)
    std::uint64_t size = 0;
    std::string lfs;  // sha256, empty for regular files
    bool operator==(const entry&) const = default;
};
using tree = std::map<std::string, entry>;

struct lfs_object {
    std::string sha;
    std::uint64_t size = 0;
};

// One writer per (repo, branch): nobody else moves the branch, so every parent is known.
struct stream {
    std::string repo;  // "crash/r0"
    std::string branch;
    std::string head;
    tree files;                     // the tree of `head`
    std::vector<std::string> acked;  // every commit answered 200, over all runs
    std::optional<tree> in_flight;   // the commit sent whose answer never came
    std::vector<lfs_object> objects;  // LFS objects whose PUT was answered 200
    std::mt19937_64 rng;
    std::size_t commits = 0, lfs_puts = 0, recovered = 0;
};

struct created_repo {
    std::string id;
    std::string readme;
    bool acked = false;
};

// The run's shared state between writer threads and the main thread.
struct run_ctx {
    std::string base;
    std::atomic<bool> stop{false};
    std::atomic<bool> killed{false};
    std::mutex mu;
    std::vector<std::string> errors;

    void fail(const std::string& why) {
        std::lock_guard lk(mu);
        errors.push_back(why);
    }
};

std::string api(const std::string& base, const std::string& repo) { return base + "/api/models/" + repo; }

// The request, or nullopt if the connection failed (the server is gone).
std::optional<http_response> try_call(const std::string& method, const std::string& url, const std::string& body = {},
                                      const header_pairs& headers = {}) {
    try {
        return hfhub::test::http_request(method, url, body, headers);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// For the main thread, where the server must answer.
http_response call(const std::string& method, const std::string& url, const std::string& body = {},
                   const header_pairs& headers = {}) {
    auto r = try_call(method, url, body, headers);
    if (!r) throw std::runtime_error("no answer from the server to " + method + " " + url);
    return std::move(*r);
}

std::string next_link(const http_response& r) {
    std::string l = r.header("link");
    auto rel = l.find("rel=\"next\"");
    if (rel == std::string::npos) return {};
    auto open = l.rfind('<', rel), close = l.rfind('>', rel);
    if (open == std::string::npos || close == std::string::npos || close < open) return {};
    return l.substr(open + 1, close - open - 1);
}

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        std::uint64_t v = rng();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k) s[i + k] = static_cast<char>(v >> (8 * k));
    }
    return s;
}

std::size_t pick(std::mt19937_64& rng, std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }

entry regular_entry(const std::string& content) { return {hfhub::util::git_blob_sha1(content), content.size(), {}}; }
entry lfs_entry(const std::string& sha, std::uint64_t size) {
    return {hfhub::util::git_blob_sha1(hfhub::util::lfs_pointer(sha, size)), size, sha};
}

std::string describe(const entry& e) {
    return "{oid " + e.oid + ", size " + std::to_string(e.size) + (e.lfs.empty() ? "" : ", lfs " + e.lfs) + "}";
}

// ---- writers -------------------------------------------------------------------------------

// Outcome of one step: go on, the server went away, or a real error (already recorded).
enum class step { ok, gone, failed };

step gone_or_fail(run_ctx& ctx, const std::string& what) {
    if (ctx.killed) return step::gone;
    ctx.fail("connection failed while the server was up: " + what);
    return step::failed;
}

// batch + PUT + verify, as huggingface_hub does for a basic transfer.
step upload_lfs(run_ctx& ctx, stream& s, const std::string& content, const std::string& sha) {
    json::object req{{"operation", "upload"},
                     {"transfers", json::array{"basic"}},
                     {"objects", json::array{json::object{{"oid", sha}, {"size", content.size()}}}},
                     {"hash_algo", "sha256"},
                     {"ref", json::object{{"name", s.branch}}}};
    header_pairs lfs_headers{{"Accept", "application/vnd.git-lfs+json"},
                             {"Content-Type", "application/vnd.git-lfs+json"}};
    std::string url = ctx.base + "/" + s.repo + ".git/info/lfs/objects/batch";
    auto r = try_call("POST", url, json::serialize(req), lfs_headers);
    if (!r) return gone_or_fail(ctx, "LFS batch");
    if (r->status != 200) {
        ctx.fail("LFS batch answered " + std::to_string(r->status) + ": " + r->body);
        return step::failed;
    }
    json::value batch = json::parse(r->body);
    auto& obj = batch.at("objects").at(0).as_object();
    if (obj.contains("error")) {
        ctx.fail("LFS batch error for " + sha + ": " + json::serialize(obj));
        return step::failed;
    }
    if (auto* actions = obj.if_contains("actions")) {
        std::string href = json::value_to<std::string>(actions->at("upload").at("href"));
        auto put = try_call("PUT", href, content);
        if (!put) return gone_or_fail(ctx, "LFS PUT");
        if (put->status != 200) {
            ctx.fail("LFS PUT answered " + std::to_string(put->status) + ": " + put->body);
            return step::failed;
        }
        if (auto* v = actions->as_object().if_contains("verify")) {
            std::string vhref = json::value_to<std::string>(v->at("href"));
            auto ver = try_call("POST", vhref, json::serialize(json::object{{"oid", sha}, {"size", content.size()}}),
                                lfs_headers);
            if (!ver) return gone_or_fail(ctx, "LFS verify");
            if (ver->status != 200) {
                ctx.fail("LFS verify answered " + std::to_string(ver->status) + ": " + ver->body);
                return step::failed;
            }
        }
    }
    s.objects.push_back({sha, content.size()});
    ++s.lfs_puts;
    return step::ok;
}

// Builds one random commit (adds, LFS adds and copies, deletes), sends it, and tracks the result.
step one_commit(run_ctx& ctx, stream& s) {
    auto& rng = s.rng;
    tree next = s.files;
    std::vector<json::object> ops;
    std::size_t n_ops = 1 + pick(rng, 4);
    for (std::size_t i = 0; i < n_ops; ++i) {
        std::size_t roll = pick(rng, 100);
        if (next.size() > 40) roll = 75 + roll / 4;  // keep trees (and verification) small
        if (roll < 45) {
            std::string path = pick(rng, 4) == 0 ? "top" + std::to_string(pick(rng, 6)) + ".json"
                               : pick(rng, 3) == 0
                                   ? "d" + std::to_string(pick(rng, 4)) + "/sub/g" + std::to_string(pick(rng, 4)) + ".txt"
                                   : "d" + std::to_string(pick(rng, 4)) + "/f" + std::to_string(pick(rng, 12)) + ".txt";
            std::size_t r = pick(rng, 100);
            std::size_t size = r < 70 ? pick(rng, 2049) : r < 95 ? pick(rng, 64 << 10) : pick(rng, 1 << 20);
            std::string content = random_bytes(rng, size);
            next[path] = regular_entry(content);
            ops.push_back({{"key", "file"},
                           {"value", json::object{{"content", hfhub::util::base64_encode(content)},
                                                  {"path", path},
                                                  {"encoding", "base64"}}}});
        } else if (roll < 65 || (roll < 72 && s.objects.empty())) {
            std::string path = pick(rng, 2) ? "w" + std::to_string(pick(rng, 8)) + ".bin"
                                            : "d" + std::to_string(pick(rng, 4)) + "/m" + std::to_string(pick(rng, 4)) +
                                                  ".safetensors";
            std::size_t size = pick(rng, 4) == 0 ? 1 + pick(rng, 512 << 10) : 1 + pick(rng, 32 << 10);
            std::string content = random_bytes(rng, size);
            std::string sha = hfhub::util::sha256_hex(content);
            if (auto st = upload_lfs(ctx, s, content, sha); st != step::ok) return st;
            next[path] = lfs_entry(sha, size);
            ops.push_back({{"key", "lfsFile"},
                           {"value", json::object{{"path", path}, {"algo", "sha256"}, {"oid", sha}, {"size", size}}}});
        } else if (roll < 72) {
            // A copy of an object stored earlier (maybe before a crash): no size, as for copies.
            auto& o = s.objects[pick(rng, s.objects.size())];
            std::string path = "copy" + std::to_string(pick(rng, 4)) + ".bin";
            next[path] = lfs_entry(o.sha, o.size);
            ops.push_back({{"key", "lfsFile"}, {"value", json::object{{"path", path}, {"algo", "sha256"}, {"oid", o.sha}}}});
        } else if (roll < 92) {
            std::vector<std::string> candidates;
            for (auto& [p, _] : next)
                if (p != ".gitattributes") candidates.push_back(p);
            if (candidates.empty()) continue;
            std::string path = candidates[pick(rng, candidates.size())];
            next.erase(path);
            ops.push_back({{"key", "deletedFile"}, {"value", json::object{{"path", path}}}});
        } else {
            std::string folder = "d" + std::to_string(pick(rng, 4)) + "/";
            auto it = next.lower_bound(folder);
            if (it == next.end() || !it->first.starts_with(folder)) continue;
            while (it != next.end() && it->first.starts_with(folder)) it = next.erase(it);
            ops.push_back({{"key", "deletedFolder"}, {"value", json::object{{"path", folder}}}});
        }
    }
    if (ops.empty()) return step::ok;

    std::string body = json::serialize(json::object{
                           {"key", "header"},
                           {"value", json::object{{"summary", s.branch + " commit " + std::to_string(s.commits)},
                                                  {"description", ""},
                                                  {"parentCommit", s.head}}}}) +
                       "\n";
    for (auto& o : ops) body += json::serialize(o) + "\n";

    s.in_flight = next;
    auto r = try_call("POST", api(ctx.base, s.repo) + "/commit/" + s.branch, body,
                      {{"Content-Type", "application/x-ndjson"}});
    if (!r) return gone_or_fail(ctx, "commit to " + s.repo + "@" + s.branch);
    if (r->status != 200) {
        s.in_flight.reset();
        ctx.fail("commit to " + s.repo + "@" + s.branch + " answered " + std::to_string(r->status) + ": " + r->body);
        return step::failed;
    }
    std::string id = json::value_to<std::string>(json::parse(r->body).at("commitOid"));
    s.in_flight.reset();
    s.head = id;
    s.files = std::move(next);
    s.acked.push_back(id);
    ++s.commits;
    return step::ok;
}

void write_loop(run_ctx& ctx, stream& s) {
    try {
        while (!ctx.stop)
            if (one_commit(ctx, s) != step::ok) return;
    } catch (const std::exception& e) {
        ctx.fail(s.repo + "@" + s.branch + ": " + e.what());
    }
}

// Creates small repos with one file, a few per run.
void create_loop(run_ctx& ctx, std::vector<created_repo>& out, std::mt19937_64 rng, int run) {
    try {
        for (int k = 0; !ctx.stop; ++k) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50 + pick(rng, 250)));
            if (ctx.stop) return;
            created_repo c{std::string(ns) + "/c" + std::to_string(run) + "-" + std::to_string(k),
                           "# repo " + std::to_string(rng()) + "\n"};
            json::object body{{"name", c.id},
                              {"files", json::array{json::object{{"path", "README.md"}, {"content", c.readme}}}}};
            out.push_back(c);
            auto r = try_call("POST", ctx.base + "/api/repos/create", json::serialize(body),
                              {{"Content-Type", "application/json"}});
            if (!r) {
                gone_or_fail(ctx, "create " + c.id);
                return;
            }
            if (r->status != 200) {
                ctx.fail("create " + c.id + " answered " + std::to_string(r->status) + ": " + r->body);
                return;
            }
            out.back().acked = true;
        }
    } catch (const std::exception& e) {
        ctx.fail(std::string("create loop: ") + e.what());
    }
}

// ---- checks (main thread) ------------------------------------------------------------------

struct checker {
    std::string base;
    std::size_t files_checked = 0;
    std::uint64_t bytes_checked = 0;

    std::map<std::string, std::string> branches(const std::string& repo) {
        auto info = call("GET", api(base, repo));
        BOOST_TEST_REQUIRE(info.status == 200u, repo << " info: " << info.body);
        auto refs = call("GET", api(base, repo) + "/refs");
        BOOST_TEST_REQUIRE(refs.status == 200u, repo << " refs: " << refs.body);
        std::map<std::string, std::string> out;
        json::value parsed = json::parse(refs.body);  // outlives the loop
        for (auto& b : parsed.at("branches").as_array())
            out[json::value_to<std::string>(b.at("name"))] = json::value_to<std::string>(b.at("targetCommit"));
        BOOST_TEST_REQUIRE(out.count("main") == 1u, repo << " has no main branch: " << refs.body);
        BOOST_TEST(json::value_to<std::string>(json::parse(info.body).at("sha")) == out["main"],
                   repo << ": info sha differs from refs main");
        return out;
    }

    // The recursive listing, every page.
    tree list(const std::string& repo, const std::string& rev) {
        tree out;
        std::string url = api(base, repo) + "/tree/" + rev + "?recursive=true&limit=25";
        for (int pages = 0; !url.empty(); ++pages) {
            BOOST_TEST_REQUIRE(pages < 1000, "tree pagination does not end");
            auto r = call("GET", url);
            BOOST_TEST_REQUIRE(r.status == 200u, repo << " tree " << rev << ": " << r.body);
            json::value page = json::parse(r.body);
            for (auto& v : page.as_array()) {
                if (v.at("type") != "file") continue;
                entry e{json::value_to<std::string>(v.at("oid")), v.at("size").to_number<std::uint64_t>(), {}};
                if (auto* l = v.as_object().if_contains("lfs")) {
                    e.lfs = json::value_to<std::string>(l->at("oid"));
                    BOOST_TEST(l->at("size").to_number<std::uint64_t>() == e.size);
                }
                std::string path = json::value_to<std::string>(v.at("path"));
                BOOST_TEST(out.count(path) == 0u, "listed twice: " << path);
                out[path] = e;
            }
            url = next_link(r);
        }
        return out;
    }

    // The bytes behind every file hash to its id and have its size.
    void check_bytes(const std::string& repo, const std::string& rev, const std::string& commit, const tree& files) {
        for (auto& [path, e] : files) {
            auto r = call("GET", base + "/" + repo + "/resolve/" + rev + "/" + path);
            BOOST_TEST(r.header("x-repo-commit") == commit, repo << "@" << rev << " " << path);
            std::string body;
            if (e.lfs.empty()) {
                BOOST_TEST_REQUIRE(r.status == 200u, repo << "@" << rev << " " << path << ": " << r.body);
                BOOST_TEST(r.header("etag") == "\"" + e.oid + "\"", path);
                body = std::move(r.body);
                BOOST_TEST(hfhub::util::git_blob_sha1(body) == e.oid, repo << "@" << rev << " " << path << " is corrupt");
            } else {
                BOOST_TEST_REQUIRE(r.status == 302u, repo << "@" << rev << " " << path << ": " << r.body);
                BOOST_TEST(r.header("x-linked-etag") == "\"" + e.lfs + "\"", path);
                BOOST_TEST(r.header("x-linked-size") == std::to_string(e.size), path);
                auto d = call("GET", r.header("location"));
                BOOST_TEST_REQUIRE(d.status == 200u, repo << "@" << rev << " " << path << " storage: " << d.body);
                body = std::move(d.body);
                BOOST_TEST(hfhub::util::sha256_hex(body) == e.lfs, repo << "@" << rev << " " << path << " is corrupt");
            }
            BOOST_TEST(body.size() == e.size, repo << "@" << rev << " " << path << " size");
            ++files_checked;
            bytes_checked += body.size();
        }
    }

    // First-parent history of `rev`, newest first, every page.
    std::vector<std::string> history(const std::string& repo, const std::string& rev) {
        std::vector<std::string> out;
        std::string url = api(base, repo) + "/commits/" + rev + "?limit=500";
        for (int pages = 0; !url.empty(); ++pages) {
            BOOST_TEST_REQUIRE(pages < 1000, "commit pagination does not end");
            auto r = call("GET", url);
            BOOST_TEST_REQUIRE(r.status == 200u, repo << " commits " << rev << ": " << r.body);
            json::value page = json::parse(r.body);
            for (auto& v : page.as_array()) out.push_back(json::value_to<std::string>(v.at("id")));
            url = next_link(r);
        }
        return out;
    }

    void check_stream(stream& s, const std::map<std::string, std::string>& refs) {
        auto it = refs.find(s.branch);
        BOOST_TEST_REQUIRE((it != refs.end()), s.repo << " lost branch " << s.branch);
        const std::string head = it->second;
        BOOST_TEST_REQUIRE(hfhub::util::is_hex(head, 40), s.repo << "@" << s.branch << " head " << head);
        auto hist = history(s.repo, s.branch);
        BOOST_TEST_REQUIRE(!hist.empty());
        BOOST_TEST(hist.front() == head);

        // The head is the last acknowledged commit, or the one whose answer was lost.
        if (head != s.head) {
            bool in_flight = s.in_flight && hist.size() >= 2 && hist[1] == s.head;
            BOOST_TEST_REQUIRE(in_flight, s.repo << "@" << s.branch << " head " << head
                                                 << " is neither the last acknowledged commit " << s.head
                                                 << " nor a child of it sent in flight");
            s.head = head;
            s.files = *s.in_flight;
            s.acked.push_back(head);
            ++s.recovered;
        }
        s.in_flight.reset();

        std::set<std::string> reachable(hist.begin(), hist.end());
        for (auto& id : s.acked)
            BOOST_TEST(reachable.count(id) == 1u, s.repo << "@" << s.branch << " lost acknowledged commit " << id);

        tree listed = list(s.repo, s.branch);
        for (auto& [path, e] : s.files) {
            auto l = listed.find(path);
            if (l == listed.end()) BOOST_ERROR(s.repo << "@" << s.branch << " lost " << path);
            else BOOST_TEST((l->second == e), s.repo << "@" << s.branch << " " << path << " is " << describe(l->second)
                                                   << ", expected " << describe(e));
        }
        for (auto& [path, e] : listed)
            BOOST_TEST(s.files.count(path) == 1u, s.repo << "@" << s.branch << " has unexpected " << path);
        check_bytes(s.repo, s.branch, head, listed);

        // Acknowledged LFS uploads are still stored: the batch asks for no upload. Batches of
        // 256, as clients send them (the server takes at most 1000 objects a call).
        for (std::size_t from = 0; from < s.objects.size(); from += 256) {
            json::array objs;
            for (std::size_t i = from; i < std::min(s.objects.size(), from + 256); ++i)
                objs.push_back(json::object{{"oid", s.objects[i].sha}, {"size", s.objects[i].size}});
            auto r = call("POST", base + "/" + s.repo + ".git/info/lfs/objects/batch",
                          json::serialize(json::object{{"operation", "upload"},
                                                       {"transfers", json::array{"basic"}},
                                                       {"objects", std::move(objs)}}),
                          {{"Content-Type", "application/vnd.git-lfs+json"}});
            BOOST_TEST_REQUIRE(r.status == 200u, r.body);
            json::value answer = json::parse(r.body);
            for (auto& o : answer.at("objects").as_array())
                BOOST_TEST(!o.as_object().contains("actions"),
                           s.repo << " lost acknowledged LFS object " << json::serialize(o.at("oid")));
        }
    }

    void check_created(const created_repo& c) {
        auto info = call("GET", api(base, c.id));
        if (!c.acked && info.status == 404) return;  // its creation never finished: fine
        BOOST_TEST_REQUIRE(info.status == 200u, c.id << (c.acked ? " (acknowledged)" : " (in flight)") << ": "
                                                     << info.body);
        auto refs = branches(c.id);
        tree listed = list(c.id, "main");
        BOOST_TEST(listed.size() == 2u, c.id << " has " << listed.size() << " files");
        BOOST_TEST(listed.count(".gitattributes") == 1u, c.id);
        auto it = listed.find("README.md");
        BOOST_TEST_REQUIRE((it != listed.end()), c.id << " lost README.md");
        BOOST_TEST((it->second == regular_entry(c.readme)), c.id << " README.md is " << describe(it->second));
        check_bytes(c.id, "main", refs["main"], listed);
    }
};

// Every commit file on disk is named by the SHA-1 of its content; no temp file is left over.
void check_disk(const fs::path& root, std::size_t& commit_files) {
    for (auto& e : fs::recursive_directory_iterator(root)) {
        if (!e.is_regular_file()) continue;
        std::string name = e.path().filename().string();
        BOOST_TEST(name.find(".tmp.") == std::string::npos, "temp file left over: " << e.path());
        if (e.path().parent_path().filename() == "commits" && name.ends_with(".json")) {
            std::ifstream in(e.path(), std::ios::binary);
            std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            BOOST_TEST(hfhub::util::sha1_hex(text) + ".json" == name, "torn commit file " << e.path());
            ++commit_files;
        }
    }
}

bool tmp_is_empty(const fs::path& root) {
    std::error_code ec;
    auto it = fs::directory_iterator(root / "tmp", ec);
    if (ec) return true;
    bool empty = it == fs::directory_iterator();
    for (; it != fs::directory_iterator(); ++it) BOOST_TEST_MESSAGE("left in tmp: " << it->path());
    return empty;
}

std::string log_tail(const fs::path& log) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

bool passed_so_far() {
    namespace ut = boost::unit_test;
    return ut::results_collector.results(ut::framework::current_test_case().p_id).passed();
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(sigkill_during_commits) {
    const char* binary = std::getenv("HFHUB_BINARY");
    BOOST_TEST_REQUIRE(binary != nullptr, "set HFHUB_BINARY to the hfhub executable");
    BOOST_TEST_REQUIRE(fs::is_regular_file(binary), binary);
    const std::uint64_t seed = env_number("HFHUB_CRASH_SEED", std::random_device{}());
    const std::uint64_t runs = env_number("HFHUB_CRASH_RUNS", 24);
    std::cout << "crash test: seed " << seed << ", " << runs << " runs (HFHUB_CRASH_SEED=" << seed
              << " HFHUB_CRASH_RUNS=" << runs << " to repeat)" << std::endl;
    std::mt19937_64 master(seed);

    fs::path work = fs::temp_directory_path() / ("hfhub-crash-" + std::to_string(::getpid()) + "-" + std::to_string(seed));
    fs::remove_all(work);
    fs::create_directories(work);
    const fs::path root = work / "root", log = work / "server.log";
    auto started = std::chrono::steady_clock::now();

    auto server = std::make_unique<hub_process>(binary, root, log);
    std::string phase = "setup";  // for messages from exceptions
    try {
        // Three repos, two with a second branch: five single-writer streams.
        std::vector<stream> streams;
        for (auto r : {"r0", "r1", "r2"}) {
            std::string id = std::string(ns) + "/" + r;
            auto c = call("POST", server->url() + "/api/repos/create", json::serialize(json::object{{"name", id}}),
                          {{"Content-Type", "application/json"}});
            BOOST_TEST_REQUIRE(c.status == 200u, c.body);
            std::vector<std::string> names{"main"};
            if (std::string(r) != "r2") {
                auto b = call("POST", api(server->url(), id) + "/branch/dev", "{}", {{"Content-Type", "application/json"}});
                BOOST_TEST_REQUIRE(b.status == 200u, b.body);
                names.push_back("dev");
            }
            for (auto& name : names) {
                stream s;
                s.repo = id;
                s.branch = name;
                s.rng.seed(master());
                streams.push_back(std::move(s));
            }
        }
        {
            checker ck{server->url()};
            for (auto& s : streams) {
                s.head = ck.branches(s.repo).at(s.branch);
                s.files = ck.list(s.repo, s.branch);
                s.acked.push_back(s.head);
            }
        }

        std::vector<created_repo> created;
        std::size_t kills_with_in_flight = 0;
        for (std::uint64_t run = 0; run < runs; ++run) {
            auto run_start = std::chrono::steady_clock::now();
            phase = "run " + std::to_string(run);
            auto delay = std::chrono::milliseconds(150 + pick(master, 2350));
            std::uint64_t creator_seed = master();
            run_ctx ctx;
            ctx.base = server->url();
            std::vector<created_repo> fresh;
            std::vector<std::thread> threads;
            for (auto& s : streams) threads.emplace_back([&ctx, &s] { write_loop(ctx, s); });
            threads.emplace_back([&] { create_loop(ctx, fresh, std::mt19937_64(creator_seed), static_cast<int>(run)); });

            std::this_thread::sleep_for(delay);
            bool was_alive = server->alive();
            ctx.killed = true;
            server->kill_hard();
            ctx.stop = true;
            for (auto& t : threads) t.join();
            BOOST_TEST_REQUIRE(was_alive, "run " << run << ": the server died on its own ("
                                                 << server->exit_description() << ")\n" << log_tail(log));
            for (auto& e : ctx.errors) BOOST_ERROR("run " << run << ": " << e);
            BOOST_TEST_REQUIRE(ctx.errors.empty(), "run " << run << " failed (seed " << seed << ")");

            std::size_t in_flight = 0;
            for (auto& s : streams) in_flight += s.in_flight.has_value();
            kills_with_in_flight += in_flight > 0;

            server = std::make_unique<hub_process>(binary, root, log);
            BOOST_TEST(tmp_is_empty(root), "run " << run << ": root/tmp not wiped at start");
            checker ck{server->url()};
            std::map<std::string, std::map<std::string, std::string>> refs;
            for (auto& s : streams)
                if (!refs.count(s.repo)) refs[s.repo] = ck.branches(s.repo);
            for (auto& s : streams) ck.check_stream(s, refs[s.repo]);
            for (auto& c : fresh) ck.check_created(c);
            created.insert(created.end(), fresh.begin(), fresh.end());
            std::size_t commit_files = 0;
            check_disk(root, commit_files);

            std::size_t commits = 0;
            for (auto& s : streams) commits += s.acked.size();
            BOOST_TEST_MESSAGE("run " << run << ": killed after " << delay.count() << " ms with " << in_flight
                                      << " commit(s) in flight; " << commits << " acknowledged commits reachable, "
                                      << fresh.size() << " repo creations; verified " << ck.files_checked
                                      << " files (" << (ck.bytes_checked >> 10) << " KiB), " << commit_files
                                      << " commit files; run took "
                                      << std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - run_start)
                                             .count()
                                      << " ms");
            if (!passed_so_far())
                BOOST_FAIL("stopping after run " << run << " (seed " << seed << "); data kept in " << work);
        }

        // A clean stop, then a restart: tmp is empty and everything still checks out.
        phase = "final check";
        BOOST_TEST(server->stop() == 0, "SIGTERM did not stop the server cleanly\n" << log_tail(log));
        server = std::make_unique<hub_process>(binary, root, log);
        BOOST_TEST(tmp_is_empty(root), "root/tmp not wiped after a clean restart");
        checker ck{server->url()};
        std::map<std::string, std::map<std::string, std::string>> refs;
        for (auto& s : streams)
            if (!refs.count(s.repo)) refs[s.repo] = ck.branches(s.repo);
        std::size_t total_commits = 0, lfs_puts = 0, recovered = 0;
        for (auto& s : streams) {
            BOOST_TEST(!s.in_flight.has_value());
            ck.check_stream(s, refs[s.repo]);
            total_commits += s.commits;
            lfs_puts += s.lfs_puts;
            recovered += s.recovered;
        }
        for (auto& c : created) ck.check_created(c);
        BOOST_TEST(server->stop() == 0);
        std::size_t commit_files = 0;
        check_disk(root, commit_files);

        // The load must have been real for the test to mean anything.
        BOOST_TEST(total_commits >= runs * 5, "only " << total_commits << " commits in " << runs << " runs");
        BOOST_TEST(lfs_puts > 0u);
        BOOST_TEST(kills_with_in_flight >= runs / 4, "only " << kills_with_in_flight << " kills hit a commit");
        std::cout << "crash test: " << runs << " kills (" << kills_with_in_flight << " with a commit in flight, "
                  << recovered << " in-flight commits found applied), " << total_commits << " acknowledged commits, "
                  << lfs_puts << " LFS uploads, " << created.size() << " repo creations, "
                  << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count()
                  << " s" << std::endl;
    } catch (const boost::execution_aborted&) {
        std::cout << "crash test: data kept in " << work << "\n" << log_tail(log) << std::endl;
        throw;
    } catch (const std::exception& e) {
        BOOST_FAIL(phase << " (seed " << seed << "): " << e.what() << "\nserver log:\n" << log_tail(log) << "\ndata kept in " << work);
    }
    if (passed_so_far())
        fs::remove_all(work);
    else
        std::cout << "crash test: data kept in " << work << std::endl;
}

BOOST_AUTO_TEST_SUITE_END()
