// The download options test_download.cpp doesn't cover: repo_type, a per-call token and
// per-call proxies, etag_timeout, the progress handler, and library_name/version in the
// User-Agent the Hub sees.
#include "client_util.hpp"
#include "test_server.hpp"

#include <hfhub/download.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <mutex>
#include <random>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

extern char** environ;

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::bob_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using asio::ip::tcp;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng());
    return s;
}

std::string slurp(const fs::path& p) { return *util::read_file(p); }

std::uint16_t free_port() {
    asio::io_context ioc;
    tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
    return a.local_endpoint().port();
}

// alice/o (public): README.md and weights.bin (LFS, 2 MiB); alice/secret (private): s.txt;
// alice/ds (a dataset): data.csv. The client has no token unless a test gives one.
struct opt_fixture {
    test_server srv;
    temp_dir cache;
    asio::io_context ioc;
    std::string readme = "# options\n", weights = random_bytes(2 << 20, 7), secret = "private bytes\n",
                csv = "a,b\n1,2\n";
    std::unique_ptr<client> c;

    opt_fixture() {
        srv.create_repo("alice/o", alice_token);
        auto sha = srv.upload_lfs("alice/o", weights, alice_token);
        srv.commit("models/alice/o", "main",
                   {test_server::add_file("README.md", readme), test_server::add_lfs("weights.bin", sha, weights.size())},
                   alice_token);
        srv.create_repo("alice/secret", alice_token, true);
        srv.commit("models/alice/secret", "main", {test_server::add_file("s.txt", secret)}, alice_token);
        srv.create_repo("alice/ds", alice_token, false, "dataset");
        srv.commit("datasets/alice/ds", "main", {test_server::add_file("data.csv", csv)}, alice_token);
        c = std::make_unique<client>(ioc.get_executor(), quick_config(srv.url()));
    }
    download_options opts() const {
        download_options o;
        o.cache_dir = cache.path();
        return o;
    }
    fs::path dl(const std::string& repo, const std::string& file, download_options o, client* with = nullptr) {
        return run(ioc, co_hf_hub_download(with ? *with : *c, repo, file, std::move(o)));
    }
    std::vector<json::object> log_since(std::size_t from) const {
        std::vector<json::object> out;
        auto lines = srv.log_lines();
        for (std::size_t i = from; i < lines.size(); ++i) out.push_back(json::parse(lines[i]).as_object());
        return out;
    }
    void faults(const std::string& rules) { srv.post("/admin/faults", rules); }
};

template <class F>
std::error_code code_of(F&& f) {
    try {
        f();
    } catch (const hfhub::error& e) {
        return e.code();
    }
    return {};
}

// tinyproxy on a free port with Basic auth and a log of every request it forwards.
struct logging_proxy {
    temp_dir dir;
    std::uint16_t port = free_port();
    pid_t pid = -1;
    logging_proxy() {
        auto conf = dir.path() / "tinyproxy.conf";
        std::ofstream(conf) << "Port " << port << "\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 30\nMaxClients 16\n"
                            << "LogLevel Info\nLogFile \"" << log().string() << "\"\n"
                            << "DisableViaHeader Yes\nBasicAuth hfuser hfpass\n";
        std::string c = conf.string();
        const char* argv[] = {"tinyproxy", "-d", "-c", c.c_str(), nullptr};
        if (posix_spawnp(&pid, "tinyproxy", nullptr, nullptr, const_cast<char**>(argv), environ) != 0)
            throw std::runtime_error("cannot start tinyproxy (is it installed?)");
        for (int i = 0; i < 200; ++i) {
            asio::io_context ioc;
            tcp::socket s(ioc);
            boost::system::error_code ec;
            s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
            if (!ec) return;
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        throw std::runtime_error("tinyproxy did not start listening");
    }
    ~logging_proxy() {
        if (pid > 0) {
            ::kill(pid, SIGTERM);
            ::waitpid(pid, nullptr, 0);
        }
    }
    fs::path log() const { return dir.path() / "log"; }
    std::string url(const std::string& userinfo = {}) const {
        return "http://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" + std::to_string(port);
    }
    // The requests tinyproxy forwarded ("Request (file descriptor N): GET http://... HTTP/1.1").
    std::vector<std::string> requests() const {
        std::vector<std::string> out;
        std::ifstream in(log());
        for (std::string l; std::getline(in, l);)
            if (l.find("Request (file descriptor") != std::string::npos) out.push_back(l);
        return out;
    }
};

// A stand-in Hub that records every request head and serves one regular file at any path.
struct recording_hub {
    asio::io_context ioc;
    tcp::acceptor acceptor{ioc, {asio::ip::make_address("127.0.0.1"), 0}};
    std::string body = "hello from the recording hub\n";
    std::string commit = std::string(40, 'c');
    std::mutex mu;
    std::vector<std::string> heads;
    std::thread thread;

    recording_hub() {
        asio::co_spawn(ioc, accept_loop(), asio::detached);
        thread = std::thread([this] { ioc.run(); });
    }
    ~recording_hub() {
        ioc.stop();
        thread.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()); }
    std::vector<std::string> requests() {
        std::lock_guard lk(mu);
        return heads;
    }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
            asio::co_spawn(ioc, session(std::move(s)), asio::detached);
        }
    }
    asio::awaitable<void> session(tcp::socket s) {
        std::string buf;
        try {
            for (;;) {
                std::size_t n = co_await asio::async_read_until(s, asio::dynamic_buffer(buf), "\r\n\r\n", asio::use_awaitable);
                std::string head = buf.substr(0, n);
                buf.erase(0, n);
                {
                    std::lock_guard lk(mu);
                    heads.push_back(head);
                }
                std::string resp = "HTTP/1.1 200 OK\r\nX-Repo-Commit: " + commit + "\r\nETag: \"" +
                                   util::git_blob_sha1(body) + "\"\r\nContent-Length: " + std::to_string(body.size()) +
                                   "\r\n\r\n";
                if (head.starts_with("GET ")) resp += body;
                co_await asio::async_write(s, asio::buffer(resp), asio::use_awaitable);
            }
        } catch (...) {
            // The client closed the connection.
        }
    }
};

// The value of header `name` in a raw request head, or "".
std::string header_of(const std::string& head, const std::string& name) {
    auto lower = [](std::string s) {
        for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return s;
    };
    std::string h = lower(head), key = "\r\n" + lower(name) + ": ";
    auto at = h.find(key);
    if (at == std::string::npos) return {};
    at += key.size();
    return head.substr(at, head.find("\r\n", at) - at);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(download_options_each)

BOOST_FIXTURE_TEST_CASE(repo_type_dataset_uses_its_urls_and_cache_folder, opt_fixture) {
    auto o = opts();
    o.type = repo_type::dataset;
    auto before = srv.log_lines().size();
    auto p = dl("alice/ds", "data.csv", o);
    BOOST_TEST(p.string().starts_with((cache.path() / "datasets--alice--ds" / "snapshots").string()));
    BOOST_TEST(slurp(p) == csv);
    bool dataset_url = false;
    for (auto& e : log_since(before))
        if (e.at("target").as_string().starts_with("/datasets/alice/ds/resolve/main/data.csv")) dataset_url = true;
    BOOST_TEST(dataset_url);
    // As a model the same id does not exist.
    BOOST_TEST((code_of([&] { dl("alice/ds", "data.csv", opts()); }) == hub_errc::repo_not_found));
    BOOST_TEST(!fs::exists(cache.path() / "models--alice--ds" / "snapshots"));
}

BOOST_FIXTURE_TEST_CASE(a_per_call_token_overrides_the_clients, opt_fixture) {
    auto cfg = quick_config(srv.url());
    cfg.token = bob_token;  // bob may not see alice's private repo
    client as_bob(ioc.get_executor(), cfg);
    BOOST_TEST((code_of([&] { dl("alice/secret", "s.txt", opts(), &as_bob); }) == hub_errc::repo_not_found));
    auto o = opts();
    o.token = alice_token;
    BOOST_TEST(slurp(dl("alice/secret", "s.txt", o, &as_bob)) == secret);

    // The snapshot path too (repo info, tree, then the file).
    temp_dir other;
    snapshot_options so;
    so.cache_dir = other.path();
    BOOST_TEST((code_of([&] { run(ioc, co_snapshot_download(as_bob, "alice/secret", so)); }) == hub_errc::repo_not_found));
    so.token = alice_token;
    auto dir = run(ioc, co_snapshot_download(as_bob, "alice/secret", so));
    BOOST_TEST(slurp(dir / "s.txt") == secret);

    // And the token goes out as given, not the configured one.
    recording_hub fake;
    cfg.endpoint = fake.url();
    client to_fake(ioc.get_executor(), cfg);
    auto fo = opts();
    fo.token = "hf_per_call_token";
    dl("someone/thing", "f.txt", fo, &to_fake);
    auto reqs = fake.requests();
    BOOST_TEST_REQUIRE(reqs.size() == 2u);  // HEAD, GET
    for (auto& r : reqs) BOOST_TEST(header_of(r, "Authorization") == "Bearer hf_per_call_token");
}

BOOST_FIXTURE_TEST_CASE(per_call_proxies_carry_the_probe_and_the_download, opt_fixture) {
    logging_proxy proxy;
    auto o = opts();
    // Without the proxy's credentials the per-call proxy refuses: proof it is in the path.
    o.proxies = proxy_config{proxy.url(), "", ""};
    try {
        dl("alice/o", "weights.bin", o);
        BOOST_FAIL("the proxy must refuse a request without its credentials");
    } catch (const hfhub::error& e) {
        BOOST_TEST(e.diag().status == 407u);
    }
    BOOST_TEST(!fs::exists(cache.path() / "models--alice--o" / "blobs" / util::sha256_hex(weights)));

    o.proxies = proxy_config{proxy.url("hfuser:hfpass"), "", ""};
    BOOST_TEST((slurp(dl("alice/o", "weights.bin", o)) == weights));
    bool head = false, storage_get = false;
    for (auto& l : proxy.requests()) {
        if (l.find("HEAD " + srv.url() + "/alice/o/resolve/main/weights.bin") != std::string::npos) head = true;
        if (l.find("GET " + srv.storage_url()) != std::string::npos) storage_get = true;
    }
    BOOST_TEST(head);         // the metadata probe went through the proxy
    BOOST_TEST(storage_get);  // and so did the redirected download

    // The client's own settings are untouched: the next call without proxies goes direct.
    auto seen = proxy.requests().size();
    BOOST_TEST(slurp(dl("alice/o", "README.md", opts())) == readme);
    BOOST_TEST(proxy.requests().size() == seen);
}

BOOST_FIXTURE_TEST_CASE(etag_timeout_bounds_the_probe_and_falls_back_to_the_cache, opt_fixture) {
    auto cfg = quick_config(srv.url());
    cfg.retry.max_retries = 1;
    cfg.timeouts.etag = std::chrono::milliseconds(150);  // the per-call value must win over this
    client quick(ioc.get_executor(), cfg);
    auto cached = dl("alice/o", "README.md", opts(), &quick);

    // Every HEAD on resolve now answers only after 400 ms.
    faults(R"({"rules":[{"method":"HEAD","match":"/resolve/","times":0,"stall_ms":400}]})");
    auto o = opts();
    o.etag_timeout = std::chrono::seconds(5);
    o.force_download = true;
    auto before = srv.log_lines().size();
    BOOST_TEST(slurp(dl("alice/o", "README.md", o, &quick)) == readme);
    bool fetched = false;
    for (auto& e : log_since(before))
        if (e.at("method") == "GET" && e.at("target").as_string().ends_with("/README.md")) fetched = true;
    BOOST_TEST(fetched);  // a patient probe, then a real download

    // A short per-call timeout: the stalled HEAD gives up and the cached copy answers.
    faults(R"({"rules":[{"method":"HEAD","match":"/resolve/","times":0,"stall_ms":3000}]})");
    o = opts();
    o.etag_timeout = std::chrono::milliseconds(100);
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(dl("alice/o", "README.md", o, &quick) == cached);
    auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(took < std::chrono::milliseconds(2500));  // not waiting out the 3 s stall
    // Nothing cached: the timeout itself is the answer.
    BOOST_TEST((code_of([&] { dl("alice/o", "weights.bin", o, &quick); }) == client_errc::timeout));
}

// HF_HUB_DOWNLOAD_TIMEOUT (timeouts.download) bounds each wait for a file's bytes, whatever the
// general read timeout says.
BOOST_FIXTURE_TEST_CASE(download_timeout_bounds_the_body, opt_fixture) {
    auto cfg = quick_config(srv.url());
    cfg.retry.max_retries = 0;
    cfg.timeouts.read = std::chrono::seconds(30);
    cfg.timeouts.download = std::chrono::milliseconds(300);
    client impatient(ioc.get_executor(), cfg);
    // Every body from the storage origin stops for 2 s after its first 64 KiB.
    faults(R"({"rules":[{"listener":"storage","method":"GET","times":0,"stall_ms":2000,"stall_after_bytes":65536}]})");
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST((code_of([&] { dl("alice/o", "weights.bin", opts(), &impatient); }) == client_errc::timeout));
    auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST((took < std::chrono::milliseconds(1500)));  // not the 2 s stall
    // Nothing presented as the file: the snapshot folder is made first (as Python does), empty.
    std::size_t presented = 0;
    for (auto& e : fs::recursive_directory_iterator(cache.path() / "models--alice--o" / "snapshots"))
        presented += !e.is_directory();
    BOOST_TEST(presented == 0u);

    // A download timeout longer than the stall waits it out.
    cfg.timeouts.read = std::chrono::milliseconds(300);
    cfg.timeouts.download = std::chrono::seconds(5);
    client patient(ioc.get_executor(), cfg);
    BOOST_TEST(slurp(dl("alice/o", "weights.bin", opts(), &patient)) == weights);
}

BOOST_FIXTURE_TEST_CASE(the_progress_handler_sees_every_byte, opt_fixture) {
    for (bool parallel : {false, true}) {
        auto o = opts();
        o.force_download = true;
        if (parallel) {
            o.parallel_threshold = 1 << 20;
            o.chunk_size = 256 << 10;
            o.max_parallel = 4;
        }
        std::vector<download_progress> events;
        o.progress = [&](const download_progress& p) { events.push_back(p); };
        BOOST_TEST((slurp(dl("alice/o", "weights.bin", o)) == weights));
        BOOST_TEST_REQUIRE(!events.empty());
        std::uint64_t last = 0;
        bool monotonic = true;
        for (auto& e : events) {
            BOOST_TEST(e.file == "weights.bin");
            BOOST_TEST(e.total == weights.size());
            if (e.done < last) monotonic = false;
            last = e.done;
        }
        BOOST_TEST(monotonic, "parallel " << parallel);
        BOOST_TEST(events.back().done == weights.size(), "parallel " << parallel);
    }
}

BOOST_FIXTURE_TEST_CASE(library_name_and_version_reach_the_hub_in_the_user_agent, opt_fixture) {
    recording_hub fake;
    auto cfg = quick_config(fake.url());
    cfg.library_name = "mylib";
    cfg.library_version = "1.2";
    client named(ioc.get_executor(), cfg);
    auto p = dl("someone/thing", "f.txt", opts(), &named);
    BOOST_TEST(slurp(p) == fake.body);
    auto reqs = fake.requests();
    BOOST_TEST_REQUIRE(reqs.size() == 2u);
    BOOST_TEST(reqs[0].starts_with("HEAD /someone/thing/resolve/main/f.txt "));
    BOOST_TEST(reqs[1].starts_with("GET /someone/thing/resolve/main/f.txt "));
    for (auto& r : reqs) {
        auto ua = header_of(r, "User-Agent");
        BOOST_TEST(ua.starts_with("hfhub/"));
        BOOST_TEST(ua.ends_with("; mylib/1.2"));
    }
}

BOOST_FIXTURE_TEST_CASE(per_call_library_and_user_agent_follow_the_configs, opt_fixture) {
    recording_hub fake;
    auto cfg = quick_config(fake.url());
    cfg.library_name = "mylib";
    cfg.library_version = "1.2";
    client named(ioc.get_executor(), cfg);
    auto o = opts();
    o.library_name = "trainer";  // no version: Python writes None
    o.user_agent = "job/42";
    dl("someone/thing", "f.txt", o, &named);
    auto reqs = fake.requests();
    BOOST_TEST_REQUIRE(reqs.size() == 2u);
    for (auto& r : reqs) BOOST_TEST(header_of(r, "User-Agent").ends_with("; mylib/1.2; trainer/None; job/42"));
    // Only that call: the next one without them sends the client's own.
    o = opts();
    o.force_download = true;
    dl("someone/thing", "f.txt", o, &named);
    BOOST_TEST(header_of(fake.requests().back(), "User-Agent").ends_with("; mylib/1.2"));
    // A line break in it is refused before anything is sent.
    o.user_agent = "x\r\nX-Evil: 1";
    auto before = fake.requests().size();
    BOOST_TEST((code_of([&] { dl("someone/thing", "f.txt", o, &named); }) == client_errc::invalid_argument));
    BOOST_TEST(fake.requests().size() == before);
}

BOOST_FIXTURE_TEST_CASE(per_call_proxies_carry_a_snapshots_metadata_calls, opt_fixture) {
    logging_proxy proxy;
    snapshot_options o;
    o.cache_dir = cache.path();
    o.proxies = proxy_config{proxy.url("hfuser:hfpass"), "", ""};
    auto dir = run(ioc, co_snapshot_download(*c, "alice/o", o));
    BOOST_TEST(slurp(dir / "README.md") == readme);
    bool info = false, tree = false;
    for (auto& l : proxy.requests()) {
        if (l.find("GET " + srv.url() + "/api/models/alice/o/revision/main") != std::string::npos) info = true;
        if (l.find("GET " + srv.url() + "/api/models/alice/o/tree/") != std::string::npos) tree = true;
    }
    BOOST_TEST(info);  // the revision was resolved through the proxy
    BOOST_TEST(tree);  // and the listing too
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(download_parallel_verify)

// Parallel parts are hashed in file order as they arrive; a bad byte anywhere still fails.
BOOST_FIXTURE_TEST_CASE(a_bad_byte_in_any_part_fails_and_leaves_nothing, opt_fixture) {
    std::string sha = util::sha256_hex(weights);
    fs::path obj = srv.root() / "lfs" / sha.substr(0, 2) / sha;
    std::string good = slurp(obj);
    for (std::size_t at : {std::size_t{0}, std::size_t{700000}, weights.size() - 1}) {
        std::string bad = good;
        bad[at] ^= 1;
        { std::ofstream(obj, std::ios::binary | std::ios::trunc) << bad; }
        auto o = opts();
        o.parallel_threshold = 1 << 20;
        o.chunk_size = 256 << 10;
        o.max_parallel = 4;
        BOOST_TEST((code_of([&] { dl("alice/o", "weights.bin", o); }) == client_errc::checksum_mismatch), "at " << at);
        BOOST_TEST(!fs::exists(cache.path() / "models--alice--o" / "blobs" / sha));
        BOOST_TEST(!fs::exists(cache.path() / "models--alice--o" / "blobs" / (sha + ".incomplete")));
    }
    { std::ofstream(obj, std::ios::binary | std::ios::trunc) << good; }
    auto o = opts();
    o.parallel_threshold = 1 << 20;
    o.chunk_size = 300000;  // parts that don't line up with the client's reads
    o.max_parallel = 3;
    BOOST_TEST((slurp(dl("alice/o", "weights.bin", o)) == weights));
}

// Parts dropped mid-body resume within the call and still hash in order.
BOOST_FIXTURE_TEST_CASE(dropped_parts_resume_and_verify, opt_fixture) {
    faults(R"({"rules":[{"listener":"storage","method":"GET","nth":2,"times":3,"drop_after_bytes":70000}]})");
    auto o = opts();
    o.parallel_threshold = 1 << 20;
    o.chunk_size = 256 << 10;
    o.max_parallel = 4;
    BOOST_TEST((slurp(dl("alice/o", "weights.bin", o)) == weights));
}

BOOST_AUTO_TEST_SUITE_END()
