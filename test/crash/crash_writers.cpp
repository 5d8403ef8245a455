// The crash test's writers: one thread per (repo, branch) committing random changes, and one
// creating repos, each recording what the server acknowledged.
#include "crash_writers.hpp"

#include "util/hash.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <thread>

namespace hfhub::crash {

namespace json = boost::json;

std::string api(const std::string& base, const std::string& repo) { return base + "/api/models/" + repo; }

std::optional<http_response> try_call(const std::string& method, const std::string& url, const std::string& body,
                                      const header_pairs& headers) {
    try {
        return hfhub::test::http_request(method, url, body, headers);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

http_response call(const std::string& method, const std::string& url, const std::string& body,
                   const header_pairs& headers) {
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

std::size_t pick(std::mt19937_64& rng, std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); }

entry regular_entry(const std::string& content) { return {hfhub::util::git_blob_sha1(content), content.size(), {}}; }

std::string describe(const entry& e) {
    return "{oid " + e.oid + ", size " + std::to_string(e.size) + (e.lfs.empty() ? "" : ", lfs " + e.lfs) + "}";
}

namespace {

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        std::uint64_t v = rng();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k) s[i + k] = static_cast<char>(v >> (8 * k));
    }
    return s;
}

entry lfs_entry(const std::string& sha, std::uint64_t size) {
    return {hfhub::util::git_blob_sha1(hfhub::util::lfs_pointer(sha, size)), size, sha};
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

}  // namespace

void write_loop(run_ctx& ctx, stream& s) {
    try {
        while (!ctx.stop)
            if (one_commit(ctx, s) != step::ok) return;
    } catch (const std::exception& e) {
        ctx.fail(s.repo + "@" + s.branch + ": " + e.what());
    }
}

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

}  // namespace hfhub::crash
