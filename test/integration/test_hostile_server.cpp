// The client against a server that misbehaves on purpose: every case must end in a typed
// error (or correct bytes) within a bound, with nothing written outside the cache or local_dir
// and no wrong bytes kept as a good file.
#include "client_util.hpp"
#include "hostile_server.hpp"
#include "test_server.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
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

namespace {

const std::string token = "hf_hostile_secret_0123456789";
const std::string commit_id = "0123456789abcdef0123456789abcdef01234567";

std::string random_bytes(std::size_t n, unsigned seed) {
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

// The outcome of one client call run under a guard timer.
struct outcome {
    std::error_code code;  // empty on success
    std::string what;
    std::chrono::milliseconds elapsed{0};
    bool hung = false;    // the guard fired: the client did not end on its own
    bool untyped = false;  // something other than hfhub::error escaped
};

std::ostream& operator<<(std::ostream& os, const outcome& o) {
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

    // Runs `op` under a guard so that a client that would hang fails the case instead.
    template <class T>
    outcome attempt(asio::awaitable<T> op, std::chrono::milliseconds guard = 15s) {
        using namespace asio::experimental::awaitable_operators;
        outcome o;
        std::exception_ptr failed;
        auto start = std::chrono::steady_clock::now();
        // `||` ends at the first success, so the call's exception is caught into a success here.
        auto caught = [&](asio::awaitable<T> inner) -> asio::awaitable<void> {
            try {
                co_await std::move(inner);
            } catch (...) {
                failed = std::current_exception();
            }
        };
        auto guarded = [&](asio::awaitable<T> inner) -> asio::awaitable<void> {
            asio::steady_timer t(co_await asio::this_coro::executor, guard);
            auto r = co_await (caught(std::move(inner)) || t.async_wait(asio::use_awaitable));
            if (r.index() == 1) o.hung = true;
        };
        auto fut = asio::co_spawn(ioc, guarded(std::move(op)), asio::use_future);
        ioc.restart();
        ioc.run();
        try {
            fut.get();
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

bool is_resolve(const hostile_request& r, const std::string& file) {
    return r.path().starts_with("/alice/m/resolve/") && r.path().ends_with("/" + file);
}

std::size_t with_token(const hostile& s) {
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

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_server)

BOOST_FIXTURE_TEST_CASE(well_behaved_server_downloads, hostile_fixture) {
    // The baseline the other cases bend: the fallback Hub serves correct files.
    hostile srv([&](const hostile_request& r, hostile_conn& c) {
        if (!behave(r, c)) c.send(http_answer(404, {}, "?"));
    });
    client cl(ioc.get_executor(), make_config(srv.url()));
    auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_TEST(!o.hung);
    BOOST_TEST(*util::read_file(cache / "models--alice--m" / "snapshots" / commit_id / "weights.bin") ==
               files["weights.bin"].content);
    auto l = attempt(co_hf_hub_download(cl, "alice/m", "config.json", dl_opts(true)));
    BOOST_TEST(!l.code);
    BOOST_TEST(*util::read_file(local / "config.json") == files["config.json"].content);
    check_disk();
}

// ---- names in listings ----------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(listing_names_that_escape_are_refused, hostile_fixture) {
    const std::vector<std::string> names{"../evil.txt",
                                         "../../evil.txt",
                                         "sub/../../../evil.txt",
                                         (canary / "abs.txt").string(),
                                         "/evil.txt",
                                         "..\\..\\evil.txt",
                                         "sub\\evil.txt",
                                         std::string("evil\0.txt", 9),
                                         "sub//evil.txt",
                                         "./evil.txt",
                                         ".git/config",
                                         ""};
    for (bool to_local : {false, true}) {
        for (auto& bad : names) {
            BOOST_TEST_CONTEXT("name '" << bad << "', local_dir " << to_local) {
                auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                    if (r.path().starts_with("/api/models/alice/m/tree/")) {
                        json::array arr{json::object{{"type", "file"}, {"path", bad}, {"size", 4},
                                                     {"oid", util::git_blob_sha1("EVIL")}}};
                        return c.send(http_answer(200, {}, json::serialize(arr)));
                    }
                    if (r.path().starts_with("/alice/m/resolve/")) {  // whatever is asked: the bad bytes
                        header_list h{{"X-Repo-Commit", commit_id}, {"ETag", "\"" + util::git_blob_sha1("EVIL") + "\""}};
                        if (r.method == "HEAD") h.emplace_back("Content-Length", "4");
                        return c.send(http_answer(200, h, r.method == "HEAD" ? "" : "EVIL"));
                    }
                    return false;
                });
                client cl(ioc.get_executor(), make_config(srv->url()));
                auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts(to_local)));
                CHECK_FAILS_WITH(o, client_errc::invalid_path, 3s);
                BOOST_TEST(srv->count("GET", "/alice/m/resolve/") == 0u);
                check_disk();
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(listing_etags_that_are_not_hashes_are_refused, hostile_fixture) {
    // The etag names the blob file and says how to verify it: only a real hash will do.
    const std::vector<std::string> etags{"../../../canary/evil", "/evil", "..", "not-a-hash",
                                         std::string(64, 'z'), ""};
    for (auto& bad : etags) {
        BOOST_TEST_CONTEXT("lfs oid '" << bad << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.path().starts_with("/api/models/alice/m/tree/")) {
                    json::array arr{json::object{{"type", "file"}, {"path", "w.bin"}, {"size", 4},
                                                 {"oid", util::git_blob_sha1("EVIL")},
                                                 {"lfs", json::object{{"oid", bad}, {"size", 4}}}}};
                    return c.send(http_answer(200, {}, json::serialize(arr)));
                }
                if (is_resolve(r, "w.bin")) return c.send(http_answer(200, {}, "EVIL"));
                return false;
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
            BOOST_TEST_INFO(o);
            BOOST_TEST(!o.hung);
            BOOST_TEST(!o.untyped);
            BOOST_TEST((o.code == make_error_code(client_errc::protocol_error) ||
                        o.code == make_error_code(client_errc::invalid_path)));
            BOOST_TEST(!fs::exists(repo_dir() / "snapshots" / commit_id / "w.bin"));
            check_disk();
        }
    }
}

BOOST_FIXTURE_TEST_CASE(probe_etags_that_escape_are_refused, hostile_fixture) {
    for (const std::string& bad : std::vector<std::string>{"../../canary/evil", "..", "a/b", "a\\b", std::string(300, 'a')}) {
        for (bool to_local : {false, true}) {
            BOOST_TEST_CONTEXT("etag '" << bad.substr(0, 40) << "', local_dir " << to_local) {
                auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                    if (!is_resolve(r, "config.json")) return false;
                    header_list h{{"X-Repo-Commit", commit_id}, {"ETag", "\"" + bad + "\""}};
                    if (r.method == "HEAD") h.emplace_back("Content-Length", "4");
                    return c.send(http_answer(200, h, r.method == "HEAD" ? "" : "EVIL"));
                });
                client cl(ioc.get_executor(), make_config(srv->url()));
                auto o = attempt(co_hf_hub_download(cl, "alice/m", "config.json", dl_opts(to_local)));
                CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
                BOOST_TEST(srv->count("GET") == 0u);
                check_disk();
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(repo_info_sha_that_is_no_commit_is_refused, hostile_fixture) {
    // The sha names the snapshot folder.
    for (const std::string& bad : std::vector<std::string>{"../../canary", "..", "/tmp", "main", std::string(40, 'G')}) {
        BOOST_TEST_CONTEXT("sha '" << bad << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/models/alice/m/revision/")) return false;
                return c.send(http_answer(200, {}, json::serialize(json::object{{"id", "alice/m"}, {"sha", bad}})));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            check_disk();
        }
    }
}

// ---- redirects ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(redirect_loops_end_typed, hostile_fixture) {
    {
        // The metadata probe follows relative redirects only; a loop of them still ends.
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method != "HEAD") return false;
            return c.send(http_answer(302, {{"Location", r.target}, {"Content-Length", "0"}}));
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::too_many_redirects, 3s);
        BOOST_TEST(srv->count("HEAD") <= 6u);
    }
    {
        // The download follows absolute redirects: two storage URLs pointing at each other.
        hostile* self = nullptr;
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method == "HEAD" && is_resolve(r, "weights.bin")) {
                auto h = file_headers(files["weights.bin"]);
                h.emplace_back("Location", self->url() + "/cdn/a");
                h.emplace_back("Content-Length", "0");
                return c.send(http_answer(302, h));
            }
            if (r.path() == "/cdn/a") return c.send(http_answer(307, {{"Location", self->url() + "/cdn/b"}}));
            if (r.path() == "/cdn/b") return c.send(http_answer(301, {{"Location", "/cdn/a"}}));
            return false;
        });
        self = srv.get();
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::too_many_redirects, 3s);
        BOOST_TEST(srv->count("GET", "/cdn/") <= 6u);
    }
    check_disk();
}

BOOST_FIXTURE_TEST_CASE(redirects_to_other_schemes_fail_typed, hostile_fixture) {
    const std::vector<std::string> targets{"file:///etc/passwd", "ftp://127.0.0.1/weights.bin",
                                           "gopher://127.0.0.1:70/x", "javascript:alert(1)",
                                           "data:text/plain,EVIL", "http://", "http://:0/x"};
    for (auto& target : targets) {
        for (bool from_probe : {true, false}) {
            BOOST_TEST_CONTEXT("Location '" << target << "' from the " << (from_probe ? "probe" : "download")) {
                auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                    if (!is_resolve(r, "weights.bin")) return false;
                    if (from_probe != (r.method == "HEAD")) return false;
                    auto h = file_headers(files["weights.bin"]);
                    h.emplace_back("Location", target);
                    h.emplace_back("Content-Length", "0");
                    return c.send(http_answer(302, h));
                });
                client cl(ioc.get_executor(), make_config(srv->url()));
                auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
                CHECK_FAILS_WITH(o, client_errc::invalid_url, 3s);
                check_disk();
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(token_never_reaches_another_origin, hostile_fixture) {
    // B is another origin (another port): it serves the bytes, and redirects back to A once.
    hostile* a_ptr = nullptr;
    hostile b([&](const hostile_request& r, hostile_conn& c) {
        if (r.path() == "/bounce") {
            c.send(http_answer(302, {{"Location", a_ptr->url() + "/store/weights.bin"}}));
            return;
        }
        c.send(http_answer(200, {}, files["weights.bin"].content));
    });
    bool probe_redirects = true;
    auto a = serve([&](const hostile_request& r, hostile_conn& c) {
        if (r.path() == "/store/weights.bin") return c.send(http_answer(200, {}, files["weights.bin"].content)), true;
        if (!is_resolve(r, "weights.bin")) return false;
        if (r.method == "HEAD" && !probe_redirects) return false;
        auto h = file_headers(files["weights.bin"]);
        h.emplace_back("Location", b.url() + (probe_redirects ? "/weights.bin" : "/bounce"));
        h.emplace_back("Content-Length", "0");
        return c.send(http_answer(302, h));
    });
    a_ptr = a.get();
    client cl(ioc.get_executor(), make_config(a->url()));

    // The probe's absolute Location is where the bytes are: fetched without the token.
    auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_TEST(with_token(*a) >= 1u);  // the Hub itself did get it
    BOOST_TEST(b.count("GET") == 1u);
    BOOST_TEST(with_token(b) == 0u);

    // The GET itself redirected off-origin, and back: neither hop carries the token.
    probe_redirects = false;
    auto before = with_token(*a);
    auto o2 = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", [&] {
        auto d = dl_opts(true);
        return d;
    }()));
    BOOST_TEST_INFO(o2);
    BOOST_TEST(!o2.code);
    BOOST_TEST(b.count("GET", "/bounce") == 1u);
    BOOST_TEST(with_token(b) == 0u);
    BOOST_TEST(a->count("GET", "/store/") == 1u);
    BOOST_TEST(with_token(*a) == before + 2);  // the HEAD and the first GET; not the hop back
    BOOST_TEST(*util::read_file(local / "weights.bin") == files["weights.bin"].content);
    check_disk();
}

// ---- heads and bodies -----------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(huge_headers_fail_typed, hostile_fixture) {
    const std::vector<std::string> kinds{"many", "one_long", "endless"};
    for (auto& kind : kinds) {
        BOOST_TEST_CONTEXT("headers: " << kind) {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/")) return false;
                c.close();
                if (!c.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")) return true;
                if (kind == "many") {
                    std::string h;
                    for (int i = 0; i < 20000; ++i) h += "X-H" + std::to_string(i) + ": v\r\n";
                    c.send(h + "Content-Length: 2\r\n\r\n{}");
                } else if (kind == "one_long") {
                    c.send("X-Long: " + std::string(1 << 20, 'a') + "\r\nContent-Length: 2\r\n\r\n{}");
                } else {
                    c.endless("X-More: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 64ull << 20);
                }
                return true;
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_repo_info(cl, "alice/m"));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 4s);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(broken_heads_fail_typed, hostile_fixture) {
    const std::vector<std::string> heads{
        "garbage\r\n\r\n",
        "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/9.9 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n",
        "HTTP/1.1 200 OK\r\nBad Header Name: x\r\nContent-Length: 2\r\n\r\n{}",
        std::string("HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 2\r\n\r\n{}", 52),
    };
    for (auto& head : heads) {
        BOOST_TEST_CONTEXT("answer '" << head.substr(0, 60) << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/")) return false;
                c.close();
                return c.send(head);
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_repo_info(cl, "alice/m"));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(endless_bodies_fail_typed, hostile_fixture) {
    const std::string filler(64 * 1024, ' ');
    // Metadata: a JSON answer that never ends, with no length, then chunked.
    for (bool chunked : {false, true}) {
        BOOST_TEST_CONTEXT("metadata, chunked " << chunked) {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/")) return false;
                c.close();
                if (!chunked) {
                    c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[");
                    c.endless(filler);
                } else {
                    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                    c.endless("10000\r\n" + filler + "\r\n");
                }
                return true;
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_repo_info(cl, "alice/m"));
            CHECK_FAILS_WITH(o, client_errc::body_too_large, 8s);
        }
    }
    // Downloads: more bytes than the Hub announced, whatever the response says about its length.
    for (const std::string& framing : std::vector<std::string>{"close", "chunked", "huge_length"}) {
        for (bool to_local : {false, true}) {
            BOOST_TEST_CONTEXT("download, " << framing << ", local_dir " << to_local) {
                // A partial left complete by an earlier round would rightly finish the file.
                fs::remove_all(cache);
                fs::remove_all(local);
                auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                    if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
                    c.close();
                    const std::string& good = files["weights.bin"].content;
                    if (framing == "close") {
                        c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + good);
                        c.endless(filler);
                    } else if (framing == "chunked") {
                        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                        c.endless("10000\r\n" + filler + "\r\n");
                    } else {
                        c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n" + good);
                        c.endless(filler);
                    }
                    return true;
                });
                client cl(ioc.get_executor(), make_config(srv->url()));
                auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts(to_local)));
                CHECK_FAILS_WITH(o, client_errc::protocol_error, 4s);
                BOOST_TEST(!fs::exists(blob("weights.bin")));
                check_disk();
            }
        }
    }
    // An error answer whose body never ends.
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (!r.path().starts_with("/api/")) return false;
            c.close();
            c.send("HTTP/1.1 404 Not Found\r\nX-Error-Code: RepoNotFound\r\nConnection: close\r\n\r\n");
            c.endless(filler);
            return true;
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_repo_info(cl, "alice/m"));
        BOOST_TEST_INFO(o);
        BOOST_TEST(!o.hung);
        BOOST_TEST(!o.untyped);
        BOOST_TEST((o.code.category() == client_category()));
        BOOST_TEST(o.elapsed < 4s);
    }
}

BOOST_FIXTURE_TEST_CASE(content_length_that_lies_fails_typed, hostile_fixture) {
    const std::string& good = files["weights.bin"].content;
    // Longer than the body, then the connection closes: a cut-off body, retried, then typed.
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
            c.close();
            return c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(good.size() + 1000) + "\r\n\r\n" +
                          good.substr(0, good.size() - 10));
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::connection_failed, 4s);
        BOOST_TEST(!fs::exists(blob("weights.bin")));
        check_disk();
    }
    // Shorter than the file: the download says it came short.
    for (bool to_local : {false, true}) {
        BOOST_TEST_CONTEXT("short, local_dir " << to_local) {
            fs::remove_all(cache);
            fs::remove_all(local);
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
                return c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + good);
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts(to_local)));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            BOOST_TEST(!fs::exists(blob("weights.bin")));
            BOOST_TEST(!fs::exists(local / "weights.bin"));
            check_disk();
        }
    }
}

BOOST_FIXTURE_TEST_CASE(sizes_no_file_can_have_fail_typed, hostile_fixture) {
    const std::string huge = "9999999999999999999";  // fits 64 bits unsigned, not a file offset
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method != "HEAD" || !is_resolve(r, "weights.bin")) return false;
            auto h = file_headers(files["weights.bin"]);
            h.erase(std::remove_if(h.begin(), h.end(), [](auto& kv) { return kv.first == "X-Linked-Size"; }), h.end());
            h.emplace_back("X-Linked-Size", huge);
            h.emplace_back("Content-Length", "0");
            return c.send(http_answer(200, h));
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
        BOOST_TEST(srv->count("GET") == 0u);
        check_disk();
    }
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (!r.path().starts_with("/api/models/alice/m/tree/")) return false;
            const std::string& w = files["weights.bin"].content;
            return c.send(http_answer(200, {}, "[{\"type\":\"file\",\"path\":\"weights.bin\",\"size\":" + huge +
                                                   ",\"oid\":\"" + util::git_blob_sha1(w) + "\",\"lfs\":{\"oid\":\"" +
                                                   util::sha256_hex(w) + "\",\"size\":" + huge + "}}]"));
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
        CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
        BOOST_TEST(srv->count("GET", "/alice/m/resolve/") == 0u);
        check_disk();
    }
}

BOOST_FIXTURE_TEST_CASE(bytes_past_content_length_are_not_the_next_answer, hostile_fixture) {
    // The first answer carries a second, forged answer behind its Content-Length; a client that
    // kept the connection would read the forgery as the answer to its next request.
    const std::string forged_sha(40, 'f');
    std::atomic<int> calls{0};
    auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
        if (!r.path().starts_with("/api/models/alice/m/revision/")) return false;
        if (calls++ > 0) return false;
        std::string forged = json::serialize(json::object{{"id", "alice/m"}, {"sha", forged_sha}});
        return c.send(http_answer(200, {}, info_json()) + http_answer(200, {}, forged));
    });
    client cl(ioc.get_executor(), make_config(srv->url()));
    auto first = attempt(co_repo_info(cl, "alice/m"));
    BOOST_TEST(!first.code);
    std::string sha;
    auto second = attempt([&]() -> asio::awaitable<void> {
        repo_query q;
        std::string id = "alice/m";
        auto m = co_await co_repo_info(cl, id, q);
        sha = m.sha;
    }());
    BOOST_TEST_INFO(second);
    BOOST_TEST(!second.code);
    BOOST_TEST(sha == commit_id);
    BOOST_TEST(srv->count("GET", "/api/") == 2u);
}

// ---- bytes against the etag -----------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(bytes_that_do_not_match_the_etag_are_never_kept, hostile_fixture) {
    auto wrong = [](const std::string& s) {
        std::string w = s;
        w[w.size() / 2] ^= 0x55;
        return w;
    };
    struct variant {
        std::string file;
        bool to_local;
        bool parallel;
        bool snapshot;
    };
    const std::vector<variant> variants{{"weights.bin", false, false, false}, {"weights.bin", true, false, false},
                                        {"config.json", false, false, false}, {"config.json", true, false, true},
                                        {"weights.bin", false, true, false},  {"weights.bin", false, false, true}};
    for (auto& v : variants) {
        BOOST_TEST_CONTEXT(v.file << ", local_dir " << v.to_local << ", parallel " << v.parallel << ", snapshot "
                                  << v.snapshot) {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.method != "GET" || !is_resolve(r, v.file)) return false;
                std::string body = wrong(files[v.file].content);
                if (auto range = r.header("Range")) {
                    // "bytes=a-b"
                    auto a = std::stoull(range->substr(6));
                    auto b = std::stoull(range->substr(range->find('-') + 1));
                    return c.send(http_answer(206,
                                              {{"Content-Range", "bytes " + std::to_string(a) + "-" +
                                                                     std::to_string(b) + "/" + std::to_string(body.size())}},
                                              body.substr(a, b - a + 1)));
                }
                return c.send(http_answer(200, {}, body));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            outcome o;
            if (v.snapshot) {
                auto so = snap_opts(v.to_local);
                so.allow_patterns = {v.file};
                o = attempt(co_snapshot_download(cl, "alice/m", so));
            } else {
                auto d = dl_opts(v.to_local);
                if (v.parallel) {
                    d.parallel_threshold = 1024;
                    d.chunk_size = 8192;
                }
                o = attempt(co_hf_hub_download(cl, "alice/m", v.file, d));
            }
            CHECK_FAILS_WITH(o, client_errc::checksum_mismatch, 3s);
            BOOST_TEST(!fs::exists(blob(v.file)));
            BOOST_TEST(!fs::exists(repo_dir() / "snapshots" / commit_id / v.file));
            BOOST_TEST(!fs::exists(local / v.file));
            for (auto& rel : listing(tmp.path()))
                BOOST_TEST(!rel.ends_with(".incomplete"), "a partial of wrong bytes was kept: " << rel);
            check_disk();
        }
    }
}

// ---- slow drip ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(slow_drip_ends_in_bounded_time, hostile_fixture) {
    // A head that never ends, one byte at a time.
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method != "HEAD") return false;
            c.close();
            std::string head = "HTTP/1.1 200 OK\r\n";
            while (c.drip(head, 20ms)) head = "X-Pad: aaaaaaaa\r\n";
            return true;
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::timeout, 5s);
        check_disk();
    }
    // A body that trickles: it never stops being "active", but it never gets anywhere.
    for (bool to_local : {false, true}) {
        BOOST_TEST_CONTEXT("download body, local_dir " << to_local) {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
                c.close();
                const std::string& good = files["weights.bin"].content;
                if (c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(good.size()) + "\r\n\r\n"))
                    c.drip(good, 20ms);
                return true;
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts(to_local)));
            CHECK_FAILS_WITH(o, client_errc::timeout, 6s);
            BOOST_TEST(!fs::exists(blob("weights.bin")));
            check_disk();
        }
    }
    // A metadata answer that trickles forever.
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (!r.path().starts_with("/api/")) return false;
            c.close();
            if (c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
                while (c.drip("1\r\n \r\n", 5ms)) {
                }
            return true;
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_repo_info(cl, "alice/m"));
        CHECK_FAILS_WITH(o, client_errc::timeout, 6s);
    }
}

// ---- JSON -----------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(invalid_json_fails_typed, hostile_fixture) {
    const std::vector<std::string> infos{
        "{not json", "", "[]", "null", "{\"id\":\"alice/m\"}", "{\"id\":\"alice/m\",\"sha\":5}",
        "{\"id\":\"alice/m\",\"sha\":\"" + commit_id + "\"} trailing", std::string(100000, '[') + std::string(100000, ']'),
        "{\"id\":\"\xff\xfe\",\"sha\":\"" + commit_id + "\"}", "{\"id\":\"alice/m\",\"sha\":\"" + commit_id + "\",\"private\":\"yes\"}",
        "{\"id\":\"alice/m\",\"sha\":\"" + commit_id + "\",\"siblings\":[{\"rfilename\":7}]}"};
    for (auto& body : infos) {
        BOOST_TEST_CONTEXT("repo info '" << body.substr(0, 50) << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/models/alice/m/revision/")) return false;
                return c.send(http_answer(200, {{"Content-Type", "application/json"}}, body));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_repo_info(cl, "alice/m"));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            auto s = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
            CHECK_FAILS_WITH(s, client_errc::protocol_error, 3s);
            check_disk();
        }
    }
    const std::vector<std::string> trees{
        "{}", "[{\"type\":\"file\"}]", "[{\"type\":\"file\",\"path\":\"a\",\"size\":-1,\"oid\":\"x\"}]",
        "[{\"type\":\"file\",\"path\":\"a\",\"size\":\"12\",\"oid\":\"x\"}]",
        "[{\"type\":\"file\",\"path\":\"a\",\"size\":1.5,\"oid\":\"x\"}]",
        "[{\"type\":\"file\",\"path\":\"a\",\"size\":1,\"oid\":\"x\",\"lfs\":[]}]", "[1,2,3]", "[{\"type\":\"file\",",
    };
    for (auto& body : trees) {
        BOOST_TEST_CONTEXT("tree '" << body.substr(0, 60) << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/models/alice/m/tree/")) return false;
                return c.send(http_answer(200, {{"Content-Type", "application/json"}}, body));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            tree_query q;
            q.recursive = true;
            auto o = attempt(co_list_repo_tree(cl, "alice/m", q));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            auto s = attempt(co_snapshot_download(cl, "alice/m", snap_opts(true)));
            CHECK_FAILS_WITH(s, client_errc::protocol_error, 3s);
            check_disk();
        }
    }
}

// ---- ranges ---------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(full_answer_to_a_range_request_restarts_cleanly, hostile_fixture) {
    const std::string& good = files["weights.bin"].content;
    for (bool partial_was_right : {true, false}) {
        BOOST_TEST_CONTEXT("the partial held " << (partial_was_right ? "the right" : "wrong") << " bytes") {
            // A previous run left half the file; the server ignores Range and sends it all.
            fs::create_directories(repo_dir() / "blobs");
            fs::path partial = blob("weights.bin");
            partial += ".incomplete";
            std::string half = good.substr(0, good.size() / 2);
            if (!partial_was_right) half = std::string(half.size(), 'x');
            util::write_file_atomic(partial, half);
            auto srv = serve({});
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
            BOOST_TEST_INFO(o);
            BOOST_TEST(!o.code);
            BOOST_TEST(srv->requests().back().header("Range").value_or("") ==
                       "bytes=" + std::to_string(half.size()) + "-");
            BOOST_TEST(*util::read_file(blob("weights.bin")) == good);
            check_disk();
            fs::remove_all(cache);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(partial_answers_that_lie_fail_typed, hostile_fixture) {
    const std::string& good = files["weights.bin"].content;
    const std::size_t half = good.size() / 2;
    const std::vector<std::string> ranges{"bytes abc-def/ghi", "bytes 99999999999999999999999-1/2", "items 0-1/2",
                                          "bytes -5/40000", "", "bytes 5-10/40000"};
    for (auto& cr : ranges) {
        BOOST_TEST_CONTEXT("Content-Range '" << cr << "'") {
            fs::create_directories(repo_dir() / "blobs");
            fs::path partial = blob("weights.bin");
            partial += ".incomplete";
            util::write_file_atomic(partial, good.substr(0, half));
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
                header_list h;
                if (!cr.empty()) h.emplace_back("Content-Range", cr);
                return c.send(http_answer(206, h, good.substr(half)));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            BOOST_TEST(!fs::exists(blob("weights.bin")));
            // What stays for the next run is still a prefix of the file.
            if (fs::exists(partial)) BOOST_TEST(good.starts_with(*util::read_file(partial)));
            check_disk();
            fs::remove_all(cache);
        }
    }
    // Parallel parts answered with the whole file (a server or proxy without ranges): the
    // download falls back to one stream of the whole file, and the bytes still verify.
    auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
        if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
        return c.send(http_answer(200, {}, good));
    });
    client cl(ioc.get_executor(), make_config(srv->url()));
    auto d = dl_opts();
    d.parallel_threshold = 1024;
    d.chunk_size = 8192;
    auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", d));
    BOOST_TEST_INFO(o);
    BOOST_TEST_REQUIRE(!o.code);
    BOOST_TEST(util::read_file(blob("weights.bin")).value_or("") == good);
    bool ranged = false, whole = false;
    for (auto& r : srv->requests())
        if (r.method == "GET" && is_resolve(r, "weights.bin")) (r.header("Range") ? ranged : whole) = true;
    BOOST_TEST(ranged);  // parts were asked for first
    BOOST_TEST(whole);   // then the whole file, once
    check_disk();
    fs::remove_all(cache);

    // The same server lying with a 200 of other bytes: the fallback's hash still catches it.
    auto liar = serve([&](const hostile_request& r, hostile_conn& c) {
        if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
        std::string w = good;
        w[w.size() / 3] ^= 0x21;
        return c.send(http_answer(200, {}, w));
    });
    client cl2(ioc.get_executor(), make_config(liar->url()));
    auto o2 = attempt(co_hf_hub_download(cl2, "alice/m", "weights.bin", d));
    CHECK_FAILS_WITH(o2, client_errc::checksum_mismatch, 3s);
    BOOST_TEST(!fs::exists(blob("weights.bin")));
    check_disk();
}

BOOST_FIXTURE_TEST_CASE(resume_answered_at_another_offset_restarts, hostile_fixture) {
    // The first answer breaks off after 5 bytes; the resume is answered from byte 50, whose
    // Content-Range begins with the digits of 5. The client must restart, not splice.
    std::string body = random_bytes(100, 9);
    std::atomic<int> full{0};
    auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
        if (r.path() != "/blob") return false;
        if (r.header("Range")) {
            c.send(http_answer(206, {{"Content-Range", "bytes 50-99/100"}}, body.substr(50)));
            return true;
        }
        if (full++ == 0) {
            c.close();
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + body.substr(0, 5));
            return true;
        }
        return c.send(http_answer(200, {}, body));
    });
    client cl(ioc.get_executor(), make_config(srv->url()));
    std::string got;
    http_request req;
    req.url = srv->url() + "/blob";
    auto o = attempt(cl.co_stream(req, test::string_sink(got)));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_TEST(!o.hung);
    BOOST_TEST((got == body));
    BOOST_TEST(srv->count("GET", "/blob") >= 3u);
}

// ---- LFS batch ------------------------------------------------------------------------------

namespace {

// A Hub for uploads to alice/m: preupload says "lfs" for everything, the batch answer is the
// test's, PUTs and the commit succeed (and are counted).
struct upload_hub {
    std::function<std::string(const json::array& asked)> batch;
    std::string storage;  // the origin upload hrefs point at; empty: this server

    bool operator()(const hostile_request& r, hostile_conn& c) const {
        auto p = r.path();
        if (p == "/api/models/alice/m/preupload/main") {
            json::array files;
            json::value asked = json::parse(r.body);
            for (auto& f : asked.at("files").as_array())
                files.push_back(json::object{{"path", f.at("path")}, {"uploadMode", "lfs"}, {"shouldIgnore", false}});
            return c.send(http_answer(200, {}, json::serialize(json::object{{"files", files}, {"commitOid", commit_id}})));
        }
        if (p == "/alice/m.git/info/lfs/objects/batch")
            return c.send(http_answer(200, {{"Content-Type", "application/vnd.git-lfs+json"}},
                                      batch(json::parse(r.body).at("objects").as_array())));
        if (r.method == "PUT") return c.send(http_answer(200, {}, "")), true;
        if (p == "/api/models/alice/m/commit/main")
            return c.send(http_answer(200, {}, json::serialize(json::object{{"commitOid", std::string(40, 'c')},
                                                                            {"commitUrl", "x"}}))),
                   true;
        return false;
    }
};

std::string upload_action(const std::string& oid, std::uint64_t size, const std::string& href) {
    json::object o{{"oid", oid}, {"size", size}};
    o["actions"] = json::object{{"upload", json::object{{"href", href}}}};
    return json::serialize(json::object{{"objects", json::array{o}}});
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(lfs_batch_answers_naming_other_objects_fail_typed, hostile_fixture) {
    const std::string a = random_bytes(3000, 1), b = random_bytes(3000, 2);
    auto ops = [&] {
        return std::vector<commit_operation>{commit_add::bytes("a.bin", a), commit_add::bytes("b.bin", b)};
    };
    commit_options co;
    co.commit_message = "hostile";
    struct script {
        std::string name;
        std::function<std::string(const json::array&, const std::string& self)> answer;
        std::error_code expect;
    };
    auto obj = [](const std::string& oid, std::uint64_t size, const std::string& href) {
        json::object o{{"oid", oid}, {"size", size}};
        o["actions"] = json::object{{"upload", json::object{{"href", href}}}};
        return o;
    };
    const std::vector<script> scripts{
        {"another object",
         [&](const json::array& asked, const std::string& self) {
             json::array out{obj(std::string(64, 'e'), 3000, self + "/put/e")};
             for (std::size_t i = 1; i < asked.size(); ++i)
                 out.push_back(obj(std::string(asked[i].at("oid").as_string()), 3000, self + "/put/x"));
             return json::serialize(json::object{{"objects", out}});
         },
         make_error_code(client_errc::protocol_error)},
        {"the same object twice, the other left out",
         [&](const json::array& asked, const std::string& self) {
             std::string first(asked[0].at("oid").as_string());
             return json::serialize(json::object{
                 {"objects", json::array{obj(first, 3000, self + "/put/1"), obj(first, 3000, self + "/put/2")}}});
         },
         make_error_code(client_errc::protocol_error)},
        {"an oid that is a path",
         [&](const json::array&, const std::string& self) {
             return upload_action("../../../canary/evil", 3000, self + "/put/e");
         },
         make_error_code(client_errc::protocol_error)},
        {"not JSON",
         [&](const json::array&, const std::string&) { return std::string("{\"objects\": [ {\"oid\": "); },
         make_error_code(client_errc::protocol_error)},
        {"an upload href to a file: URL",
         [&](const json::array& asked, const std::string&) {
             json::array out;
             for (auto& x : asked) out.push_back(obj(std::string(x.at("oid").as_string()), 3000, "file:///etc/passwd"));
             return json::serialize(json::object{{"objects", out}});
         },
         make_error_code(client_errc::invalid_url)},
        {"an error for one object",
         [&](const json::array& asked, const std::string&) {
             json::array out;
             for (auto& x : asked)
                 out.push_back(json::object{{"oid", x.at("oid")},
                                            {"size", 3000},
                                            {"error", json::object{{"code", 422}, {"message", "no"}}}});
             return json::serialize(json::object{{"objects", out}});
         },
         make_error_code(hub_errc::unprocessable)},
    };
    for (auto& s : scripts) {
        BOOST_TEST_CONTEXT("batch answer: " << s.name) {
            std::string self;
            upload_hub hub;
            hub.batch = [&](const json::array& asked) { return s.answer(asked, self); };
            auto srv = serve(hub);
            self = srv->url();
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_create_commit(cl, "alice/m", ops(), co));
            BOOST_TEST_INFO(o);
            BOOST_TEST(!o.hung);
            BOOST_TEST(!o.untyped);
            BOOST_TEST(o.code == s.expect);
            BOOST_TEST(o.elapsed < 3s);
            BOOST_TEST(srv->count("PUT") == 0u);  // nothing sent before the whole answer was checked
            BOOST_TEST(srv->count("POST", "/api/models/alice/m/commit/") == 0u);
            check_disk();
        }
    }
}

BOOST_FIXTURE_TEST_CASE(lfs_upload_to_another_origin_gets_no_token, hostile_fixture) {
    const std::string content = random_bytes(3000, 3);
    hostile storage([&](const hostile_request&, hostile_conn& c) { c.send(http_answer(200, {}, "")); });
    upload_hub hub;
    hub.batch = [&](const json::array& asked) {
        return upload_action(std::string(asked[0].at("oid").as_string()), 3000, storage.url() + "/put/object");
    };
    auto srv = serve(hub);
    client cl(ioc.get_executor(), make_config(srv->url()));
    commit_options co;
    auto o = attempt(co_upload_file(cl, "alice/m", commit_add::bytes("w.bin", content), co));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_TEST(storage.count("PUT") == 1u);
    BOOST_TEST(storage.requests().at(0).body == content);
    BOOST_TEST(with_token(storage) == 0u);
    BOOST_TEST(with_token(*srv) >= 2u);  // preupload, batch and commit went to the Hub with it
}

// The batch answer may put verify on another origin too: it gets the action's own headers,
// never the user's token, even though the client was asked to send the token to verify.
BOOST_FIXTURE_TEST_CASE(lfs_verify_on_another_origin_gets_only_the_actions_headers, hostile_fixture) {
    const std::string content = random_bytes(3000, 4);
    hostile storage([&](const hostile_request&, hostile_conn& c) { c.send(http_answer(200, {}, "")); });
    upload_hub hub;
    hub.batch = [&](const json::array& asked) {
        json::object o{{"oid", asked[0].at("oid")}, {"size", 3000}};
        o["actions"] = json::object{
            {"upload", json::object{{"href", storage.url() + "/put/object"},
                                    {"header", json::object{{"X-Upload-Signature", "up-sig"}}}}},
            {"verify", json::object{{"href", storage.url() + "/verify"},
                                    {"header", json::object{{"X-Verify-Signature", "verify-sig"}}}}}};
        return json::serialize(json::object{{"objects", json::array{o}}});
    };
    auto srv = serve(hub);
    client cl(ioc.get_executor(), make_config(srv->url()));
    commit_options co;
    co.token = token;  // an explicit token is held back off-origin too
    auto o = attempt(co_upload_file(cl, "alice/m", commit_add::bytes("w.bin", content), co));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_REQUIRE_EQUAL(storage.count("POST", "/verify"), 1u);
    BOOST_REQUIRE_EQUAL(storage.count("PUT"), 1u);
    for (auto& r : storage.requests()) {
        if (r.method == "POST") BOOST_TEST(r.header("X-Verify-Signature").value_or("") == "verify-sig");
        if (r.method == "PUT") BOOST_TEST(r.header("X-Upload-Signature").value_or("") == "up-sig");
        BOOST_TEST(!r.header("Authorization"), r.method << " " << r.target << " carried Authorization");
    }
    BOOST_TEST(with_token(storage) == 0u);
    BOOST_TEST(with_token(*srv) >= 2u);
}

BOOST_AUTO_TEST_SUITE_END()
