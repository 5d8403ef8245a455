// The fixture the hostile_server suite's files share: a temp folder holding the cache, local_dir
// and a canary folder, a client with small timeouts, a well-behaved Hub to fall back on, and
// checks of what the disk holds afterwards.
#pragma once

#include "client_util.hpp"
#include "hostile_server.hpp"
#include "test_server.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

using namespace hfhub;
using hfhub::test::hostile_conn;
using hfhub::test::hostile_request;
using hostile = hfhub::test::hostile_server;
using hfhub::test::http_answer;
using hfhub::test::temp_dir;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace hostile_fixtures {

inline const std::string token = "hf_hostile_secret_0123456789";
inline const std::string commit_id = "0123456789abcdef0123456789abcdef01234567";

inline std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng());
    return s;
}

// A repo file as a well-behaved Hub would describe it.
struct hosted_file {
    std::string content;
    bool lfs = false;
    std::string etag() const { return lfs ? util::sha256_hex(content) : util::git_blob_sha1(content); }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

// The outcome of one client call run under a deadline.
struct outcome {
    std::error_code code;  // empty on success
    std::string what;
    std::chrono::milliseconds elapsed{0};
    bool hung = false;    // the deadline passed: the client did not end on its own
    bool untyped = false;  // something other than hfhub::error escaped
};

inline std::ostream& operator<<(std::ostream& os, const outcome& o) {
    return os << "code=" << o.code.message() << " hung=" << o.hung << " untyped=" << o.untyped
              << " elapsed=" << o.elapsed.count() << "ms what=" << o.what;
}

// The state every case starts from: a temp folder holding the cache, local_dir and an empty
// canary folder that hostile names aim at, and a client with small timeouts and quick retries.
struct hostile_fixture {
    temp_dir tmp;
    fs::path cache = tmp.path() / "cache";
    fs::path local = tmp.path() / "local";
    fs::path canary = tmp.path() / "canary";
    asio::io_context ioc;
    std::map<std::string, hosted_file> files;  // the repo alice/m at commit_id

    hostile_fixture() {
        fs::create_directories(canary);
        files["config.json"] = {"{\"hidden\": 16}\n", false};
        files["weights.bin"] = {random_bytes(40000, 7), true};
    }

    config make_config(const std::string& endpoint) const {
        config c;
        c.endpoint = endpoint;
        c.token = token;
        c.hub_cache = cache;
        c.timeouts.connect = 1s;
        c.timeouts.read = 400ms;
        c.timeouts.etag = 400ms;
        c.timeouts.download = 400ms;
        c.retry.max_retries = 2;
        c.retry.base_delay = 5ms;
        c.retry.max_delay = 20ms;
        c.retry.request_budget = 2s;
        c.max_redirects = 5;
        return c;
    }

    // Runs `op` under test::run's deadline so that a client that would hang fails the case instead.
    template <class T>
    outcome attempt(asio::awaitable<T> op, std::chrono::milliseconds guard = 15s) {
        outcome o;
        std::exception_ptr failed;
        auto start = std::chrono::steady_clock::now();
        // The call's exception, kept apart from the deadline's.
        auto caught = [&](asio::awaitable<T> inner) -> asio::awaitable<void> {
            try {
                co_await std::move(inner);
            } catch (...) {
                failed = std::current_exception();
            }
        };
        try {
            hfhub::test::run(ioc, caught(std::move(op)), guard);
        } catch (const hfhub::test::deadline_passed&) {
            o.hung = true;
        }
        try {
            if (failed) std::rethrow_exception(failed);
        } catch (const hfhub::error& e) {
            o.code = e.code();
            o.what = e.what();
        } catch (const std::exception& e) {
            o.untyped = true;
            o.what = e.what();
        }
        o.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        return o;
    }

    download_options dl_opts(bool to_local = false) const {
        download_options o;
        o.cache_dir = cache;
        if (to_local) o.local_dir = local;
        return o;
    }
    snapshot_options snap_opts(bool to_local = false) const {
        snapshot_options o;
        o.cache_dir = cache;
        if (to_local) o.local_dir = local;
        return o;
    }

    // ---- a well-behaved Hub for alice/m, to fall back on ----------------------------------

    header_list file_headers(const hosted_file& f) const {
        header_list h{{"X-Repo-Commit", commit_id}, {"ETag", "\"" + f.etag() + "\""}};
        if (f.lfs) {
            h.emplace_back("X-Linked-Etag", "\"" + f.etag() + "\"");
            h.emplace_back("X-Linked-Size", std::to_string(f.content.size()));
        }
        return h;
    }

    std::string tree_json() const {
        json::array arr;
        for (auto& [path, f] : files) {
            json::object e{{"type", "file"}, {"path", path}, {"size", f.content.size()},
                           {"oid", util::git_blob_sha1(f.content)}};
            if (f.lfs) e["lfs"] = json::object{{"oid", util::sha256_hex(f.content)}, {"size", f.content.size()}};
            arr.push_back(std::move(e));
        }
        return json::serialize(arr);
    }

    std::string info_json() const { return json::serialize(json::object{{"id", "alice/m"}, {"sha", commit_id}}); }

    // Answers like the Hub would; false for a request it doesn't know.
    bool behave(const hostile_request& r, hostile_conn& c) {
        const std::string p = r.path();
        if (p == "/api/models/alice/m/revision/main" || p == "/api/models/alice/m/revision/" + commit_id)
            return c.send(http_answer(200, {{"Content-Type", "application/json"}}, info_json())), true;
        if (p == "/api/models/alice/m/tree/" + commit_id)
            return c.send(http_answer(200, {{"Content-Type", "application/json"}}, tree_json())), true;
        for (const std::string& rev : {std::string("main"), commit_id}) {
            std::string prefix = "/alice/m/resolve/" + rev + "/";
            if (!p.starts_with(prefix)) continue;
            auto it = files.find(p.substr(prefix.size()));
            if (it == files.end()) {
                c.send(http_answer(404, {{"X-Error-Code", "EntryNotFound"}, {"X-Repo-Commit", commit_id}}, "no"));
                return true;
            }
            auto h = file_headers(it->second);
            if (r.method == "HEAD") {
                h.emplace_back("Content-Length", std::to_string(it->second.content.size()));
                return c.send(http_answer(200, h)), true;
            }
            return c.send(http_answer(200, h, it->second.content)), true;
        }
        return false;
    }

    // ---- what the disk may hold afterwards ------------------------------------------------

    // Every path under `dir`, relative, without following links.
    static std::set<std::string> listing(const fs::path& dir) {
        std::set<std::string> out;
        std::error_code ec;
        if (!fs::exists(dir, ec)) return out;
        for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
             it.increment(ec))
            out.insert(fs::relative(it->path(), dir).generic_string());
        return out;
    }

    // Nothing appeared outside cache/ and local/, and the canary folder stayed empty.
    void check_no_escape() const {
        BOOST_TEST(listing(canary).empty());
        std::set<std::string> top;
        for (auto& e : fs::directory_iterator(tmp.path())) top.insert(e.path().filename().string());
        std::set<std::string> allowed{"cache", "local", "canary"};
        for (auto& name : top) BOOST_TEST(allowed.count(name) == 1, "unexpected entry beside the cache: " << name);
        // The temp folder's parent must not gain a sibling named by a hostile listing either.
        BOOST_TEST(!fs::exists(tmp.path().parent_path() / "evil.txt"));
    }

    // No blob holds bytes other than its name says, and every visible file in snapshots/ and in
    // local_dir has exactly the bytes the repo holds (`expect`, by path).
    void check_no_bad_bytes(const std::map<std::string, hosted_file>& expect) const {
        for (auto& rel : listing(cache)) {
            fs::path p = cache / rel;
            auto pos = rel.find("/blobs/");
            if (pos != std::string::npos) {
                std::string name = rel.substr(pos + 7);
                if (name.ends_with(".incomplete") || !fs::is_regular_file(p)) continue;
                auto data = *util::read_file(p);
                bool ok = (name.size() == 64 && util::sha256_hex(data) == name) ||
                          (name.size() == 40 && util::git_blob_sha1(data) == name);
                BOOST_TEST(ok, "blob " << name << " holds other bytes");
                continue;
            }
            pos = rel.find("/snapshots/");
            if (pos != std::string::npos) {
                std::string inner = rel.substr(pos + 11);
                auto slash = inner.find('/');
                if (slash == std::string::npos || !fs::is_regular_file(p)) continue;
                std::string file = inner.substr(slash + 1);
                auto it = expect.find(file);
                BOOST_TEST((it != expect.end() && *util::read_file(p) == it->second.content),
                           "snapshot file " << file << " is not the repo's");
            }
        }
        for (auto& rel : listing(local)) {
            fs::path p = local / rel;
            if (rel.starts_with(".cache") || !fs::is_regular_file(p)) continue;
            auto it = expect.find(rel);
            BOOST_TEST((it != expect.end() && *util::read_file(p) == it->second.content),
                       "local_dir file " << rel << " is not the repo's");
        }
    }

    void check_disk() const {
        check_no_escape();
        check_no_bad_bytes(files);
    }

    // A server that runs `script` first and falls back on the well-behaved Hub.
    std::unique_ptr<hostile> serve(std::function<bool(const hostile_request&, hostile_conn&)> script) {
        return std::make_unique<hostile>([this, script](const hostile_request& r, hostile_conn& c) {
            if (script && script(r, c)) return;
            if (!behave(r, c)) c.send(http_answer(404, {}, "not scripted"));
        });
    }

    fs::path repo_dir() const { return cache / "models--alice--m"; }
    fs::path blob(const std::string& file) const { return repo_dir() / "blobs" / files.at(file).etag(); }
};

inline bool is_resolve(const hostile_request& r, const std::string& file) {
    return r.path().starts_with("/alice/m/resolve/") && r.path().ends_with("/" + file);
}

inline std::size_t with_token(const hostile& s) {
    std::size_t n = 0;
    for (auto& r : s.requests())
        if (auto a = r.header("Authorization"); a && a->find(token) != std::string::npos) ++n;
    return n;
}

#define CHECK_FAILS_WITH(o, ec, bound)                                                   \
    do {                                                                                 \
        BOOST_TEST_INFO(o);                                                              \
        BOOST_TEST(!(o).hung);                                                           \
        BOOST_TEST(!(o).untyped);                                                        \
        BOOST_TEST(((o).code == make_error_code(ec)), "expected " << make_error_code(ec).message() << ", got " << (o)); \
        BOOST_TEST((o).elapsed < (bound));                                               \
    } while (0)

}  // namespace hostile_fixtures
