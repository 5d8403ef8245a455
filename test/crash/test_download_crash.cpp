// SIGKILL a real `hfhub download` in the middle of a parallel download of a big file, at several
// points. What it leaves must never mislead a client that trusts blobs/<etag>.incomplete as a
// prefix of the file (the Python client takes its size as the bytes it has, asks for the rest
// and publishes the result without hashing it), and the next hfhub run must fetch only what is
// missing and verify the whole.
#include "big_object.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace fs = std::filesystem;
namespace json = boost::json;
using hfhub::test::alice_token;
using hfhub::test::big_object;
using hfhub::test::temp_dir;
using hfhub::test::test_server;

namespace {

constexpr std::uint64_t mib = 1 << 20;
constexpr std::uint64_t file_size = 256 * mib;
constexpr std::uint64_t part = 16 * mib;  // the CLI's default chunk_size
constexpr std::uint64_t parts = file_size / part;

std::string hfhub_binary() {
    const char* b = std::getenv("HFHUB_BINARY");
    if (!b) throw std::runtime_error("HFHUB_BINARY is not set (ctest sets it)");
    return b;
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& err) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn " + args[0] + ": " + std::strerror(rc));
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Waits for `pid`, sampling the peak of its resident memory (VmHWM) meanwhile.
int wait_exit_sampling_rss(pid_t pid, long& peak_kib) {
    peak_kib = 0;
    for (;;) {
        std::ifstream st("/proc/" + std::to_string(pid) + "/status");
        for (std::string line; std::getline(st, line);)
            if (line.starts_with("VmHWM:")) peak_kib = std::max(peak_kib, std::stol(line.substr(6)));
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0 && errno != EINTR) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

bool exited(pid_t pid) {
    int status = 0;
    return ::waitpid(pid, &status, WNOHANG) == pid;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint64_t size_or_zero(const fs::path& p) {
    std::error_code ec;
    auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}

// Whole lines in a parts map after its header: the parts it vouches for.
std::size_t records(const fs::path& map) {
    auto text = slurp(map);
    auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    return lines ? lines - 1 : 0;
}

// Body bytes the storage origin sent in log lines [from, ...).
std::uint64_t storage_bytes_since(const test_server& srv, std::size_t from) {
    std::uint64_t sent = 0;
    auto lines = srv.log_lines();
    for (std::size_t i = from; i < lines.size(); ++i) {
        auto e = json::parse(lines[i]).as_object();
        if (e.at("listener") == "storage") sent += e.at("bytes").to_number<std::uint64_t>();
    }
    return sent;
}

// What the Python client makes of blobs/<etag>.incomplete: its size is the bytes it has, the
// rest comes with a Range request and is appended. Returns the sha256 it would publish.
std::string python_style_resume(const test_server& srv, const std::string& repo, const fs::path& incomplete,
                                std::uint64_t size) {
    std::uint64_t have = size_or_zero(incomplete);
    hfhub::util::hasher h(hfhub::util::hash_algo::sha256);
    {
        std::ifstream in(incomplete, std::ios::binary);
        std::vector<char> buf(4 * mib);
        for (std::uint64_t left = have; in && left > 0;) {
            in.read(buf.data(), static_cast<std::streamsize>(std::min<std::uint64_t>(buf.size(), left)));
            h.update(buf.data(), static_cast<std::size_t>(in.gcount()));
            left -= static_cast<std::uint64_t>(in.gcount());
        }
    }
    if (have < size) {
        auto r = hfhub::test::http_request("GET", srv.url() + "/" + repo + "/resolve/main/big.bin");
        if (r.status != 302) throw std::runtime_error("resolve answered " + std::to_string(r.status));
        hfhub::test::header_pairs range;
        if (have) range.emplace_back("Range", "bytes=" + std::to_string(have) + "-");
        auto d = hfhub::test::http_request("GET", r.header("location"), {}, range);
        if (d.status != (have ? 206u : 200u)) throw std::runtime_error("storage answered " + std::to_string(d.status));
        h.update(d.body);
    }
    return h.hex_digest();
}

struct crash_fixture {
    test_server srv;
    temp_dir work;

    big_object publish(const std::string& repo, std::uint64_t seed) {
        auto obj = hfhub::test::put_big_object(srv.root(), file_size, seed, repo);
        auto r = srv.commit("models/" + repo, "main", {test_server::add_lfs("big.bin", obj.sha256, obj.size)}, alice_token);
        if (r.status != 200) throw std::runtime_error("commit: " + r.body);
        return obj;
    }

    std::vector<std::string> args(const std::string& repo, const fs::path& cache) const {
        return {hfhub_binary(), "download", repo,     "big.bin", "--endpoint", srv.url(), "--token",
                alice_token,    "--cache-dir", cache.string(), "--quiet"};
    }

    // Runs a download that the server lets have `whole` parts and then holds (after 1 MiB of
    // each further part, for 1.5 s), and kills it once it has recorded them, or after 1 s.
    // Returns the blob folder.
    fs::path kill_after(const std::string& repo, const fs::path& cache, std::uint64_t whole, const big_object& obj) {
        srv.post("/admin/faults", R"({"rules":[{"listener":"storage","method":"GET","nth":)" + std::to_string(whole + 1) +
                                      R"(,"times":0,"stall_ms":1500,"stall_after_bytes":1048576}]})");
        fs::path blobs = cache / ("models--" + repo.substr(0, repo.find('/')) + "--" + repo.substr(repo.find('/') + 1)) / "blobs";
        fs::path map = blobs / (obj.sha256 + ".hfhub-parts.map");
        pid_t pid = spawn(args(repo, cache), work.path() / "first.err");
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        bool gone = false;
        while (std::chrono::steady_clock::now() < deadline && !(gone = exited(pid)) && records(map) < whole)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        BOOST_TEST_REQUIRE(!gone, "the download ended before it could be killed: " << slurp(work.path() / "first.err"));
        ::kill(pid, SIGKILL);
        wait_exit(pid);
        srv.send("DELETE", "/admin/faults", "");
        srv.log_lines();  // the held requests end (and are logged) before anything is counted
        BOOST_TEST(!fs::exists(blobs / obj.sha256), "killed mid-transfer, yet the blob is published");
        return blobs;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(download_crash)

BOOST_FIXTURE_TEST_CASE(sigkill_during_a_parallel_download_at_four_points, crash_fixture) {
    srv.create_repo("alice/big", alice_token);
    auto obj = publish("alice/big", 7);
    for (std::uint64_t whole : {1ull, 5ull, 10ull, 15ull}) {
        temp_dir cache;
        fs::path blobs = kill_after("alice/big", cache.path(), whole, obj);
        fs::path incomplete = blobs / (obj.sha256 + ".incomplete");
        BOOST_TEST_MESSAGE("killed with " << whole << " parts in: .incomplete holds " << size_or_zero(incomplete)
                                          << " bytes, the map " << records(blobs / (obj.sha256 + ".hfhub-parts.map"))
                                          << " records");

        // A client that trusts .incomplete as a prefix still ends with the right bytes.
        BOOST_TEST(python_style_resume(srv, "alice/big", incomplete, obj.size) == obj.sha256,
                   "after a kill with " << whole << " parts in, resuming .incomplete as a prefix gives wrong bytes");

        // The next run fetches only what is missing, and verifies.
        auto before = srv.log_lines().size();
        auto t0 = std::chrono::steady_clock::now();
        long peak_kib = 0;
        int code = wait_exit_sampling_rss(spawn(args("alice/big", cache.path()), work.path() / "second.err"), peak_kib);
        BOOST_TEST_REQUIRE(code == 0, slurp(work.path() / "second.err"));
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        std::uint64_t sent = storage_bytes_since(srv, before);
        BOOST_TEST_MESSAGE("  rerun took " << took << " ms, fetched " << sent / mib << " MiB of " << obj.size / mib
                                           << ", peak RSS " << peak_kib / 1024 << " MiB");
#ifndef HFHUB_SANITIZER
        BOOST_TEST(peak_kib <= 64 * 1024, "the rerun peaked at " << peak_kib / 1024 << " MiB of RSS");
#endif
        BOOST_TEST(sent < obj.size, "the rerun fetched the whole file again");
        BOOST_TEST(sent <= obj.size - whole * part, "the rerun fetched parts the first run had");
        auto ref = slurp(blobs.parent_path() / "refs" / "main");
        BOOST_TEST(hfhub::test::sha256_of_file(blobs.parent_path() / "snapshots" / ref / "big.bin") == obj.sha256);
        for (auto& e : fs::directory_iterator(blobs))
            BOOST_TEST(e.path().filename() == obj.sha256, "left in blobs/: " << e.path().filename());
    }
}

// The file changes on the server between the crash and the rerun: the rerun starts over on the
// new etag and publishes exactly the new bytes.
BOOST_FIXTURE_TEST_CASE(the_file_changes_between_the_crash_and_the_rerun, crash_fixture) {
    srv.create_repo("alice/moving", alice_token);
    auto old_obj = publish("alice/moving", 11);
    temp_dir cache;
    fs::path blobs = kill_after("alice/moving", cache.path(), 6, old_obj);
    BOOST_TEST(python_style_resume(srv, "alice/moving", blobs / (old_obj.sha256 + ".incomplete"), old_obj.size) ==
               old_obj.sha256);

    auto new_obj = publish("alice/moving", 12);
    auto before = srv.log_lines().size();
    BOOST_TEST_REQUIRE(wait_exit(spawn(args("alice/moving", cache.path()), work.path() / "second.err")) == 0,
                       slurp(work.path() / "second.err"));
    BOOST_TEST(storage_bytes_since(srv, before) == new_obj.size);  // nothing of the old file could serve
    auto ref = slurp(blobs.parent_path() / "refs" / "main");
    fs::path got = blobs.parent_path() / "snapshots" / ref / "big.bin";
    BOOST_TEST(fs::canonical(got) == fs::canonical(blobs / new_obj.sha256));
    BOOST_TEST(hfhub::test::sha256_of_file(got) == new_obj.sha256);
    BOOST_TEST(!fs::exists(blobs / old_obj.sha256));
    BOOST_TEST(!fs::exists(blobs / (new_obj.sha256 + ".hfhub-parts")));
    BOOST_TEST(!fs::exists(blobs / (new_obj.sha256 + ".hfhub-parts.map")));
}

BOOST_AUTO_TEST_SUITE_END()
