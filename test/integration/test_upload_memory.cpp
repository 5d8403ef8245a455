// Bounded memory: `hfhub upload` of a 512 MiB file (the real binary, against the server running
// in this process) peaks at no more than 64 MiB of RSS, and the commit lands with the right oid.
#include "test_server.hpp"
#include "transport_util.hpp"

#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <random>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

using hfhub::test::alice_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
using hfhub::test::transport::hfhub_binary;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t file_mib = 512;
constexpr long rss_limit_kib = 64 * 1024;
#ifdef HFHUB_SANITIZER
// Shadow memory and the allocator's quarantine inflate RSS several-fold: only check that the
// file is not held whole (it is 512 MiB).
constexpr long checked_limit_kib = 448 * 1024;
constexpr const char* limit_note = " (relaxed from 64 MiB: built with HFHUB_SANITIZER=" HFHUB_SANITIZER ")";
#else
constexpr long checked_limit_kib = rss_limit_kib;
constexpr const char* limit_note = "";
#endif

struct child_result {
    int code = -1;
    long max_rss_kib = 0;  // the peak of the child's own image, VmHWM
};

// The high-water mark of `pid`'s memory, or 0 once it has exited.
long vm_hwm_kib(pid_t pid) {
    std::ifstream st("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(st, line);)
        if (line.starts_with("VmHWM:")) return std::stol(line.substr(6));
    return 0;
}

// Runs argv with stdout and stderr in files, sampling the child's VmHWM until it exits.
// wait4's ru_maxrss won't do: a spawned child inherits this process's peak at exec, and this
// process may be large from earlier tests.
child_result run_measured(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err,
                          int timeout_ms) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
    child_result r;
    int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pfd < 0) throw std::runtime_error(std::string("pidfd_open: ") + std::strerror(errno));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    bool exited = false;
    while (!exited && std::chrono::steady_clock::now() < deadline) {
        r.max_rss_kib = std::max(r.max_rss_kib, vm_hwm_kib(pid));  // the peak so far, never lost
        pollfd p{pfd, POLLIN, 0};
        exited = ::poll(&p, 1, 5) > 0;
    }
    ::close(pfd);
    if (!exited) ::kill(pid, SIGKILL);  // too slow: fail below, never hang
    int st = 0;
    if (::waitpid(pid, &st, 0) != pid) return r;
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upload_memory)

BOOST_AUTO_TEST_CASE(cli_upload_of_512_mib_peaks_under_64_mib_rss) {
    test_server s;
    temp_dir d;
    // A folder holding the file: the folder path of `hfhub upload` (push_to_hub).
    fs::create_directories(d.path() / "up");
    fs::path big = d.path() / "up" / "weights.bin";
    // One random MiB written over and over: fast to make, still one object of many parts.
    std::string block(1 << 20, '\0');
    std::mt19937_64 rng(42);
    for (std::size_t i = 0; i < block.size(); i += 8) {
        std::uint64_t v = rng();
        std::memcpy(block.data() + i, &v, 8);
    }
    hfhub::util::hasher sha(hfhub::util::hash_algo::sha256);
    {
        std::ofstream f(big, std::ios::binary);
        for (std::size_t i = 0; i < file_mib; ++i) {
            f.write(block.data(), static_cast<std::streamsize>(block.size()));
            sha.update(block);
        }
        BOOST_TEST_REQUIRE(f.good());
    }
    std::string want = sha.hex_digest();
    const std::uint64_t size = std::uint64_t(file_mib) << 20;

    auto r = run_measured({hfhub_binary(), "upload", "alice/mem", (d.path() / "up").string(), "--endpoint", s.url(), "--token",
                           alice_token, "--quiet"},
                          d.path() / "out", d.path() / "err", 60000);
    std::ifstream errf(d.path() / "err");
    std::string err((std::istreambuf_iterator<char>(errf)), std::istreambuf_iterator<char>());
    BOOST_TEST_REQUIRE(r.code == 0, "hfhub upload exited " << r.code << ": " << err);
    BOOST_TEST_MESSAGE("hfhub upload of " << file_mib << " MiB: peak RSS " << r.max_rss_kib / 1024 << " MiB, bound "
                                          << checked_limit_kib / 1024 << " MiB" << limit_note);
    BOOST_TEST(r.max_rss_kib > 0);  // it was measured at all
    BOOST_TEST(r.max_rss_kib <= checked_limit_kib,
               "peak RSS " << r.max_rss_kib << " KiB > " << checked_limit_kib << " KiB" << limit_note);

    // Server side: the head lists the file as the LFS object we hashed, and the store has it.
    auto tree = s.get("/api/models/alice/mem/tree/main", alice_token);
    BOOST_TEST_REQUIRE(tree.status == 200u, tree.body);
    auto entries = json::parse(tree.body).as_array();
    bool found = false;
    for (auto& e : entries) {
        auto& o = e.as_object();
        if (o.at("path") != "weights.bin") continue;
        found = true;
        BOOST_TEST_REQUIRE(o.contains("lfs"));
        BOOST_TEST(o.at("lfs").at("oid").as_string() == want);
        BOOST_TEST(o.at("size").to_number<std::uint64_t>() == size);
    }
    BOOST_TEST(found, tree.body);
    fs::path stored = s.root() / "lfs" / want.substr(0, 2) / want;
    BOOST_TEST_REQUIRE(fs::exists(stored));
    BOOST_TEST(fs::file_size(stored) == size);
}

BOOST_AUTO_TEST_SUITE_END()
