// The download CLI as separate processes: several on one cache, and a killed one resumed.
#include "test_server.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <random>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <thread>

extern char** environ;

using hfhub::test::alice_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace fs = std::filesystem;
namespace json = boost::json;
namespace util = hfhub::util;

namespace {

std::string hfhub_binary() {
    const char* b = std::getenv("HFHUB_BINARY");
    if (!b) throw std::runtime_error("HFHUB_BINARY is not set (ctest sets it)");
    return b;
}

pid_t spawn(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng());
    return s;
}

std::vector<std::string> download_args(const test_server& s, const fs::path& cache, std::vector<std::string> extra) {
    std::vector<std::string> a{hfhub_binary(), "download", "alice/procs", "--endpoint", s.url(), "--token",
                               alice_token, "--cache-dir", cache.string(), "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(download_processes)

BOOST_AUTO_TEST_CASE(four_processes_one_cache_each_blob_fetched_once) {
    test_server srv;
    srv.create_repo("alice/procs", alice_token);
    std::vector<std::string> ops;
    std::vector<std::pair<std::string, std::string>> files;
    for (int i = 0; i < 4; ++i) {
        std::string data = random_bytes(2 << 20, 100 + i);
        std::string name = "w" + std::to_string(i) + ".bin";
        ops.push_back(test_server::add_lfs(name, srv.upload_lfs("alice/procs", data, alice_token), data.size()));
        files.emplace_back(name, data);
    }
    for (int i = 0; i < 20; ++i) {
        std::string name = "small/" + std::to_string(i) + ".txt";
        std::string data = "file " + std::to_string(i) + "\n";
        ops.push_back(test_server::add_file(name, data));
        files.emplace_back(name, data);
    }
    BOOST_TEST_REQUIRE(srv.commit("models/alice/procs", "main", ops, alice_token).status == 200u);
    auto before = srv.log_lines().size();

    temp_dir cache;
    std::vector<pid_t> pids;
    for (int i = 0; i < 4; ++i) pids.push_back(spawn(download_args(srv, cache.path(), {})));
    for (auto p : pids) BOOST_TEST(wait_exit(p) == 0);

    auto repo = cache.path() / "models--alice--procs";
    auto refs_main = util::read_file(repo / "refs" / "main");
    BOOST_TEST_REQUIRE(refs_main.has_value());
    for (auto& [name, data] : files) BOOST_TEST((util::read_file(repo / "snapshots" / *refs_main / name) == data), name);
    for (auto& e : fs::recursive_directory_iterator(cache.path()))
        BOOST_TEST(e.path().string().find(".incomplete") == std::string::npos, e.path());

    // Bytes cross the wire about once: each LFS object is fetched by one process (give or take one).
    std::map<std::string, int> gets;
    auto lines = srv.log_lines();
    for (std::size_t i = before; i < lines.size(); ++i) {
        auto e = json::parse(lines[i]).as_object();
        if (e.at("listener") == "storage" && e.at("method") == "GET") ++gets[std::string(e.at("target").as_string()).substr(0, 70)];
    }
    BOOST_TEST(gets.size() == 4u);
    for (auto& [target, n] : gets) BOOST_TEST(n <= 2, target << " fetched " << n << " times");
}

BOOST_AUTO_TEST_CASE(a_killed_download_is_resumed_by_the_next_process) {
    test_server srv;
    srv.create_repo("alice/procs", alice_token);
    std::string data = random_bytes(8 << 20, 42);
    std::string sha = srv.upload_lfs("alice/procs", data, alice_token);
    BOOST_TEST_REQUIRE(srv.commit("models/alice/procs", "main", {test_server::add_lfs("big.bin", sha, data.size())},
                                  alice_token).status == 200u);
    // The first download stalls after 3 MiB, long enough to be killed there.
    srv.post("/admin/faults",
             R"({"rules":[{"listener":"storage","method":"GET","nth":1,"stall_ms":20000,"stall_after_bytes":3145728}]})");
    temp_dir cache;
    auto partial = cache.path() / "models--alice--procs" / "blobs" / (sha + ".incomplete");
    pid_t first = spawn(download_args(srv, cache.path(), {"big.bin"}));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    auto size_now = [&] {
        std::error_code ec;
        auto n = fs::file_size(partial, ec);
        return ec ? 0 : n;  // absent until the body starts
    };
    while (std::chrono::steady_clock::now() < deadline && size_now() < (3u << 20))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::kill(first, SIGKILL);
    wait_exit(first);
    auto have = size_now();
    BOOST_TEST_REQUIRE(have == (3u << 20));
    srv.send("DELETE", "/admin/faults", "");

    auto before = srv.log_lines().size();
    BOOST_TEST(wait_exit(spawn(download_args(srv, cache.path(), {"big.bin"}))) == 0);
    auto ref = util::read_file(cache.path() / "models--alice--procs" / "refs" / "main");
    BOOST_TEST((util::read_file(cache.path() / "models--alice--procs" / "snapshots" / *ref / "big.bin") == data));
    std::uint64_t sent = 0;
    auto lines = srv.log_lines();
    for (std::size_t i = before; i < lines.size(); ++i) {
        auto e = json::parse(lines[i]).as_object();
        if (e.at("listener") == "storage") sent += e.at("bytes").to_number<std::uint64_t>();
    }
    BOOST_TEST(sent == data.size() - have);  // only the rest crossed the wire
    BOOST_TEST(!fs::exists(partial));
}

BOOST_AUTO_TEST_SUITE_END()
