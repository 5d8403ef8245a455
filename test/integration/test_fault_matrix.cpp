// The fault matrix: for a download, a snapshot, uploads and a commit, count the requests M a
// clean run makes, then for every N in 1..M and every fault (drop, 503, 429, stall past the
// client's timeouts) make the Nth request misbehave. Each run must end in success with the
// right bytes, or in a typed hfhub::error with nothing half-done; a clean rerun then succeeds.
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "test_server.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace hfhub;
using namespace std::chrono_literals;
using hfhub::test::alice_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr auto client_timeout = 200ms;

struct fault_kind {
    const char* name;
    const char* action;  // JSON members added to the rule
};
const fault_kind fault_kinds[] = {
    {"drop", R"("drop":true)"},
    {"503", R"("status":503)"},
    {"429", R"("retry_after":0)"},
    {"stall", R"("stall_ms":450)"},  // longer than every client timeout
};

void set_small_multipart(server::options& o) {
    o.multipart_threshold = 32u << 10;
    o.multipart_chunk = 16u << 10;
}

config matrix_config(const std::string& endpoint) {
    config c = hfhub::test::quick_config(endpoint);
    c.token = alice_token;
    c.timeouts.connect = 2s;
    c.timeouts.read = client_timeout;
    c.timeouts.etag = client_timeout;
    c.timeouts.download = client_timeout;
    c.retry.base_delay = 5ms;
    c.retry.max_delay = 20ms;
    return c;
}

json::object rule_counters(test_server& s) {
    auto r = s.get("/admin/faults");
    if (r.status != 200) throw std::runtime_error("admin faults: " + r.body);
    return json::parse(r.body).at("rules").at(0).as_object();
}

void set_rules(test_server& s, const std::string& rules) {
    auto r = s.post("/admin/faults", rules);
    if (r.status != 200) throw std::runtime_error("admin faults: " + std::to_string(r.status) + " " + r.body);
}

// Waits until the server has finished every request (a stalled one may still be applying).
void wait_idle(test_server& s) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (s.get().in_flight() > 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(5ms);
    BOOST_TEST(s.get().in_flight() == 0u);
}

// The bytes at `path` on main, following the storage redirect for LFS files.
std::string remote_bytes(test_server& s, const std::string& repo, const std::string& path) {
    auto r = s.get("/" + repo + "/resolve/main/" + path, alice_token);
    if (r.status == 302) r = test::http_request("GET", r.header("location"));
    if (r.status != 200) throw std::runtime_error("fetch " + path + ": " + std::to_string(r.status));
    return r.body;
}

std::size_t commit_count(test_server& s, const std::string& repo) {
    auto r = s.get("/api/models/" + repo + "/commits/main?limit=1000", alice_token);
    if (r.status != 200) throw std::runtime_error("commits: " + r.body);
    return json::parse(r.body).as_array().size();
}

// No cache entry presents wrong bytes: every blob without a temp suffix hashes to its name,
// every snapshot entry equals its source, and nothing unexpected appears.
void check_cache(const fs::path& cache, const std::map<std::string, std::string>& want) {
    if (!fs::exists(cache)) return;
    for (auto& e : fs::recursive_directory_iterator(cache)) {
        auto rel = fs::relative(e.path(), cache).generic_string();
        auto parts = rel.find('/');
        if (parts == std::string::npos) continue;
        auto in_repo = rel.substr(parts + 1);  // blobs/..., snapshots/<commit>/..., refs/...
        if (in_repo.starts_with("blobs/") && e.is_regular_file() && !e.is_symlink()) {
            std::string name = e.path().filename().string();
            if (name.ends_with(".incomplete") || name.ends_with(".lock")) continue;
            auto bytes = util::read_file(e.path()).value_or("");
            bool ok = name.size() == 64 ? util::sha256_hex(bytes) == name : util::git_blob_sha1(bytes) == name;
            BOOST_TEST(ok, "blob " << rel << " does not hold the bytes it is named after");
        } else if (in_repo.starts_with("snapshots/") && !e.is_directory()) {
            auto after = in_repo.substr(std::string("snapshots/").size());
            auto file = after.substr(after.find('/') + 1);
            auto it = want.find(file);
            BOOST_TEST((it != want.end()), "unexpected snapshot entry " << rel);
            if (it == want.end()) continue;
            BOOST_TEST(fs::exists(e.path()), "dangling snapshot entry " << rel);
            BOOST_TEST((util::read_file(e.path()).value_or("<unreadable>") == it->second), "wrong bytes in " << rel);
        }
    }
}

// local_dir holds only right bytes (partials live under .cache/huggingface/).
void check_local_dir(const fs::path& dir, const std::map<std::string, std::string>& want) {
    if (!fs::exists(dir)) return;
    for (auto& e : fs::recursive_directory_iterator(dir)) {
        auto rel = fs::relative(e.path(), dir).generic_string();
        if (rel.starts_with(".cache/") || rel == ".cache" || e.is_directory()) continue;
        auto it = want.find(rel);
        BOOST_TEST((it != want.end()), "unexpected file in local_dir: " << rel);
        if (it == want.end()) continue;
        BOOST_TEST((util::read_file(e.path()).value_or("<unreadable>") == it->second), "wrong bytes in " << rel);
    }
}

// Runs `aw` with a hang guard; rethrows what it threw.
void run_bounded(asio::io_context& ioc, asio::awaitable<void> aw) { test::run(ioc, std::move(aw), 30s); }

// One operation under test. `prepare` makes fresh state for a run id; `act` runs the
// operation; `verify_done` checks a successful outcome; `verify_clean` a failed one and
// returns whether the change landed anyway (a non-idempotent request whose answer was lost).
struct scenario {
    std::string name;
    std::function<void(unsigned)> prepare;
    std::function<asio::awaitable<void>(client&, unsigned)> act;
    std::function<void(unsigned)> verify_done;
    std::function<bool(unsigned)> verify_clean;
    bool rerun_when_landed = true;  // false when the change, once in, can't be applied twice (a delete)
};

struct tally {
    unsigned requests = 0, runs = 0, succeeded = 0, typed_errors = 0, landed_despite_error = 0;
};

tally drive(test_server& s, const scenario& sc) {
    tally t;
    auto attempt = [&](unsigned run, std::optional<std::string>& err) {
        asio::io_context ioc;
        client c(ioc.get_executor(), matrix_config(s.url()));
        try {
            run_bounded(ioc, sc.act(c, run));
        } catch (const hfhub::error& e) {
            err = e.what();
        }
    };

    // The clean run, counting requests over both listeners.
    unsigned run = 0;
    sc.prepare(run);
    set_rules(s, R"({"rules":[{"times":0}]})");
    std::optional<std::string> err;
    attempt(run, err);
    BOOST_TEST_REQUIRE(!err, sc.name << " clean run failed: " << err.value_or(""));
    wait_idle(s);
    t.requests = static_cast<unsigned>(rule_counters(s).at("seen").as_int64());
    set_rules(s, R"({"rules":[]})");
    sc.verify_done(run);
    BOOST_TEST_REQUIRE(t.requests > 0u);

    for (auto& f : fault_kinds) {
        for (unsigned n = 1; n <= t.requests; ++n) {
            ++run;
            ++t.runs;
            BOOST_TEST_CONTEXT(sc.name << ": " << f.name << " at request " << n << " of " << t.requests) {
                sc.prepare(run);
                set_rules(s, std::string(R"({"rules":[{"nth":)") + std::to_string(n) + "," + f.action + "}]}");
                err.reset();
                try {
                    attempt(run, err);
                } catch (const std::exception& e) {
                    BOOST_ERROR("not a typed error: " << e.what());
                    err = e.what();
                }
                wait_idle(s);
                BOOST_TEST(rule_counters(s).at("fired").as_int64() == 1);
                set_rules(s, R"({"rules":[]})");
                bool landed = false;
                if (!err) {
                    ++t.succeeded;
                    sc.verify_done(run);
                } else {
                    ++t.typed_errors;
                    BOOST_TEST_MESSAGE(sc.name << ": " << f.name << " at request " << n << ": " << *err);
                    landed = sc.verify_clean(run);
                    if (landed) ++t.landed_despite_error;
                }
                // Rerun unless the change is in and can't be applied twice (the delete).
                if ((err && !landed) || sc.rerun_when_landed) {
                    std::optional<std::string> again;
                    attempt(run, again);
                    BOOST_TEST(!again, "the rerun failed: " << again.value_or(""));
                }
                sc.verify_done(run);
            }
        }
    }
    BOOST_TEST_MESSAGE("fault_matrix " << sc.name << ": " << t.requests << " requests, " << t.runs
                                       << " faulted runs (+" << t.runs << " reruns): " << t.succeeded
                                       << " succeeded, " << t.typed_errors << " typed errors ("
                                       << t.landed_despite_error << " landed before the answer was lost)");
    return t;
}

std::string run_dir(const temp_dir& d, unsigned run) { return (d.path() / ("r" + std::to_string(run))).string(); }

// ---- downloads

struct download_world {
    test_server s{set_small_multipart};
    temp_dir dirs;
    std::string big = pattern(96 << 10, 1), mid = pattern(40 << 10, 2), small = pattern(3000, 3);
    std::string readme = "# matrix\n", cfg = "{\"a\": 1}\n";
    std::string snap_a = pattern(20 << 10, 4), snap_b = pattern(30 << 10, 5);

    static std::string pattern(std::size_t n, unsigned seed) { return test::pattern_bytes(n, seed); }

    download_world() {
        s.create_repo("alice/dl", alice_token);
        auto big_sha = s.upload_lfs("alice/dl", big, alice_token);
        auto mid_sha = s.upload_lfs("alice/dl", mid, alice_token);
        test::must_commit(s, "models/alice/dl", "main",
                          {test_server::add_lfs("big.bin", big_sha, big.size()),
                           test_server::add_lfs("mid.bin", mid_sha, mid.size()),
                           test_server::add_file("small.txt", small)});
        s.create_repo("alice/snap", alice_token);
        auto a = s.upload_lfs("alice/snap", snap_a, alice_token);
        auto b = s.upload_lfs("alice/snap", snap_b, alice_token);
        test::must_commit(s, "models/alice/snap", "main",
                          {test_server::add_file("README.md", readme), test_server::add_file("config.json", cfg),
                           test_server::add_lfs("a.bin", a, snap_a.size()),
                           test_server::add_lfs("sub/b.safetensors", b, snap_b.size())});
    }

    // One file into a fresh cache (or local_dir) per run.
    scenario file(std::string name, std::string path, std::string content, bool parallel, bool local) {
        scenario sc;
        sc.name = std::move(name);
        auto where = [this, sc_name = sc.name](unsigned run) { return fs::path(run_dir(dirs, run)) / sc_name; };
        sc.prepare = [](unsigned) {};
        sc.act = [where, path, content, parallel, local](client& c, unsigned run) -> asio::awaitable<void> {
            download_options o;
            if (local) o.local_dir = where(run);
            else o.cache_dir = where(run);
            if (parallel) {
                o.parallel_threshold = 32 << 10;
                o.chunk_size = 32 << 10;
                o.max_parallel = 4;
            }
            fs::path got = co_await co_hf_hub_download(c, "alice/dl", path, o);
            BOOST_TEST((util::read_file(got).value_or("<missing>") == content));
        };
        std::map<std::string, std::string> want{{path, content}};
        auto clean = [where, want, local](unsigned run) {
            if (local) check_local_dir(where(run), want);
            else check_cache(where(run), want);
        };
        sc.verify_done = [clean, where, want, local, path](unsigned run) {
            clean(run);
            fs::path p = local ? where(run) / path : fs::path();
            if (local) BOOST_TEST((util::read_file(p).value_or("<missing>") == want.at(path)));
        };
        sc.verify_clean = [clean](unsigned run) {
            clean(run);
            return false;
        };
        return sc;
    }

    scenario snapshot() {
        scenario sc;
        sc.name = "snapshot";
        std::map<std::string, std::string> want{
            {"README.md", readme}, {"config.json", cfg}, {"a.bin", snap_a}, {"sub/b.safetensors", snap_b}};
        auto where = [this](unsigned run) { return fs::path(run_dir(dirs, run)) / "snapshot"; };
        sc.prepare = [](unsigned) {};
        sc.act = [where, want](client& c, unsigned run) -> asio::awaitable<void> {
            snapshot_options o;
            o.cache_dir = where(run);
            o.max_workers = 4;
            fs::path dir = co_await co_snapshot_download(c, "alice/snap", o);
            for (auto& [p, bytes] : want)
                BOOST_TEST((util::read_file(dir / p).value_or("<missing>") == bytes), p);
        };
        sc.verify_done = [where, want](unsigned run) { check_cache(where(run), want); };
        sc.verify_clean = [where, want](unsigned run) {
            check_cache(where(run), want);
            return false;
        };
        return sc;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(fault_matrix)

BOOST_AUTO_TEST_CASE(hf_hub_download_every_request_every_fault) {
    download_world w;
    auto a = drive(w.s, w.file("lfs_parallel", "big.bin", w.big, true, false));
    auto b = drive(w.s, w.file("lfs_single_local_dir", "mid.bin", w.mid, false, true));
    auto c = drive(w.s, w.file("regular", "small.txt", w.small, false, false));
    // The parallel path really made several range requests.
    BOOST_TEST(a.requests > b.requests);
    BOOST_TEST_MESSAGE("fault_matrix downloads: " << a.runs + b.runs + c.runs << " faulted runs");
}

BOOST_AUTO_TEST_CASE(snapshot_download_every_request_every_fault) {
    download_world w;
    auto t = drive(w.s, w.snapshot());
    BOOST_TEST(t.requests >= 4u);
}

// ---- uploads and commits: a fresh repo per run, contents unique per run so the object store
// never already has them.

struct upload_world {
    test_server s{set_small_multipart};

    static std::string repo(const std::string& kind, unsigned run) { return "alice/" + kind + "-" + std::to_string(run); }

    scenario upload(std::string name, std::size_t size, unsigned seed) {
        scenario sc;
        sc.name = name;
        auto content = [size, seed](unsigned run) { return test::pattern_bytes(size, seed * 100000 + run); };
        auto base = std::make_shared<std::map<unsigned, std::size_t>>();
        sc.prepare = [this, name, base](unsigned run) {
            s.create_repo(repo(name, run), alice_token);
            (*base)[run] = commit_count(s, repo(name, run));
        };
        sc.act = [name, content](client& c, unsigned run) -> asio::awaitable<void> {
            commit_options o;
            o.max_workers = 4;
            auto info = co_await co_upload_file(c, repo(name, run), commit_add::bytes("w.bin", content(run)), o);
            BOOST_TEST(info.commits <= 1u);  // 0 on a rerun after the first landed
        };
        sc.verify_done = [this, name, content, base](unsigned run) {
            BOOST_TEST((remote_bytes(s, repo(name, run), "w.bin") == content(run)));
            BOOST_TEST(commit_count(s, repo(name, run)) == base->at(run) + 1);
            BOOST_TEST(test::file_list(s, "models/" + repo(name, run)) ==
                           (std::vector<std::string>{".gitattributes", "w.bin"}),
                       boost::test_tools::per_element());
        };
        sc.verify_clean = [this, name, content, base](unsigned run) {
            auto n = commit_count(s, repo(name, run));
            BOOST_TEST(n <= base->at(run) + 1);  // never two
            if (n == base->at(run)) {
                BOOST_TEST(test::file_list(s, "models/" + repo(name, run)) ==
                               (std::vector<std::string>{".gitattributes"}),
                           boost::test_tools::per_element());
                return false;
            }
            BOOST_TEST((remote_bytes(s, repo(name, run), "w.bin") == content(run)));
            return true;
        };
        return sc;
    }

    // Adds (regular and LFS), a delete and two copies (one LFS) in one commit.
    scenario mixed_commit() {
        scenario sc;
        sc.name = "create_commit";
        sc.rerun_when_landed = false;  // deleting a.txt a second time is rightly an error
        auto lfs = [](unsigned run) { return test::pattern_bytes(20 << 10, 7000000 + run); };
        auto base_big = test::pattern_bytes(24 << 10, 99);
        auto base = std::make_shared<std::map<unsigned, std::size_t>>();
        sc.prepare = [this, base, base_big](unsigned run) {
            std::string r = repo("commit", run);
            s.create_repo(r, alice_token);
            // Same LFS bytes in every base repo: the server already has them after run 0.
            auto sha = s.upload_lfs(r, base_big, alice_token);
            test::must_commit(s, "models/" + r, "main",
                              {test_server::add_file("a.txt", "delete me\n"), test_server::add_file("b.txt", "bee\n"),
                               test_server::add_lfs("big.bin", sha, base_big.size())});
            (*base)[run] = commit_count(s, r);
        };
        sc.act = [lfs](client& c, unsigned run) -> asio::awaitable<void> {
            std::vector<commit_operation> ops{commit_add::bytes("new.txt", "new " + std::to_string(run) + "\n"),
                                              commit_add::bytes("w2.bin", lfs(run)), commit_delete{"a.txt"},
                                              commit_copy{"big.bin", "big-copy.bin"}, commit_copy{"b.txt", "c.txt"}};
            commit_options o;
            o.commit_message = "mixed";
            o.max_workers = 4;
            auto info = co_await co_create_commit(c, repo("commit", run), std::move(ops), o);
            BOOST_TEST(info.changed);
        };
        auto intended = [this, lfs, base_big](unsigned run) {
            std::string r = repo("commit", run);
            BOOST_TEST(test::file_list(s, "models/" + r) ==
                           (std::vector<std::string>{".gitattributes", "b.txt", "big-copy.bin", "big.bin", "c.txt",
                                                     "new.txt", "w2.bin"}),
                       boost::test_tools::per_element());
            BOOST_TEST(remote_bytes(s, r, "new.txt") == "new " + std::to_string(run) + "\n");
            BOOST_TEST((remote_bytes(s, r, "w2.bin") == lfs(run)));
            BOOST_TEST((remote_bytes(s, r, "big-copy.bin") == base_big));
            BOOST_TEST(remote_bytes(s, r, "c.txt") == "bee\n");
        };
        sc.verify_done = [this, base, intended](unsigned run) {
            intended(run);
            BOOST_TEST(commit_count(s, repo("commit", run)) == base->at(run) + 1);
        };
        sc.verify_clean = [this, base, intended](unsigned run) {
            std::string r = repo("commit", run);
            auto n = commit_count(s, r);
            BOOST_TEST(n <= base->at(run) + 1);  // never two
            if (n == base->at(run)) {
                BOOST_TEST(test::file_list(s, "models/" + r) ==
                               (std::vector<std::string>{".gitattributes", "a.txt", "b.txt", "big.bin"}),
                           boost::test_tools::per_element());
                return false;
            }
            intended(run);  // exactly the intended tree, complete
            return true;
        };
        return sc;
    }
};

BOOST_AUTO_TEST_CASE(upload_file_every_request_every_fault) {
    upload_world w;
    auto basic = drive(w.s, w.upload("basic", 20 << 10, 1));
    auto multi = drive(w.s, w.upload("multipart", 48 << 10, 2));
    BOOST_TEST(multi.requests > basic.requests);  // parts and a completion call
}

BOOST_AUTO_TEST_CASE(create_commit_every_request_every_fault) {
    upload_world w;
    drive(w.s, w.mixed_commit());
}

BOOST_AUTO_TEST_SUITE_END()
