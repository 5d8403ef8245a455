// Crash consistency: SIGKILL `hfhub serve` at random moments while clients commit, restart it
// on the same root, and check that every acknowledged write survived and everything readable
// is whole. Seeded (HFHUB_CRASH_SEED, HFHUB_CRASH_RUNS) so that a failure can be replayed.
#include "crash_checker.hpp"
#include "hub_process.hpp"

#include <boost/json.hpp>
#include <boost/test/execution_monitor.hpp>
#include <boost/test/results_collector.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace hfhub::crash;

namespace {

bool passed_so_far() {
    namespace ut = boost::unit_test;
    return ut::results_collector.results(ut::framework::current_test_case().p_id).passed();
}

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// One crash test: the server, the streams writing to it, and what every run found.
struct crash_run {
    std::string binary;
    std::uint64_t seed = 0;
    std::uint64_t runs = 0;
    std::mt19937_64 master;
    fs::path work, root, log;
    std::unique_ptr<hub_process> server;
    std::vector<stream> streams;
    std::vector<created_repo> created;
    std::size_t kills_with_in_flight = 0;

    // Three repos, two with a second branch: five single-writer streams.
    void create_streams() {
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
        checker ck{server->url()};
        for (auto& s : streams) {
            s.head = ck.branches(s.repo).at(s.branch);
            s.files = ck.list(s.repo, s.branch);
            s.acked.push_back(s.head);
        }
    }

    // Every stream and every repo in `repos` checks out against the server now running.
    checker check_all(const std::vector<created_repo>& repos) {
        checker ck{server->url()};
        std::map<std::string, std::map<std::string, std::string>> refs;
        for (auto& s : streams)
            if (!refs.count(s.repo)) refs[s.repo] = ck.branches(s.repo);
        for (auto& s : streams) ck.check_stream(s, refs[s.repo]);
        for (auto& c : repos) ck.check_created(c);
        return ck;
    }

    // Writers and a creator run until a random moment, when the server is killed; then it is
    // restarted and everything acknowledged must be there.
    void kill_run(std::uint64_t run) {
        auto run_start = std::chrono::steady_clock::now();
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
        checker ck = check_all(fresh);
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
        if (!passed_so_far()) BOOST_FAIL("stopping after run " << run << " (seed " << seed << "); data kept in " << work);
    }

    // A clean stop, then a restart: tmp is empty and everything still checks out.
    void final_check(std::chrono::steady_clock::time_point started) {
        BOOST_TEST(server->stop() == 0, "SIGTERM did not stop the server cleanly\n" << log_tail(log));
        server = std::make_unique<hub_process>(binary, root, log);
        BOOST_TEST(tmp_is_empty(root), "root/tmp not wiped after a clean restart");
        std::size_t total_commits = 0, lfs_puts = 0, recovered = 0;
        for (auto& s : streams) BOOST_TEST(!s.in_flight.has_value());
        check_all(created);
        for (auto& s : streams) {
            total_commits += s.commits;
            lfs_puts += s.lfs_puts;
            recovered += s.recovered;
        }
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
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(crash)

BOOST_AUTO_TEST_CASE(sigkill_during_commits) {
    const char* binary = std::getenv("HFHUB_BINARY");
    BOOST_TEST_REQUIRE(binary != nullptr, "set HFHUB_BINARY to the hfhub executable");
    BOOST_TEST_REQUIRE(fs::is_regular_file(binary), binary);
    crash_run cr;
    cr.binary = binary;
    cr.seed = env_number("HFHUB_CRASH_SEED", std::random_device{}());
    cr.runs = env_number("HFHUB_CRASH_RUNS", 24);
    const std::uint64_t seed = cr.seed;
    std::cout << "crash test: seed " << seed << ", " << cr.runs << " runs (HFHUB_CRASH_SEED=" << seed
              << " HFHUB_CRASH_RUNS=" << cr.runs << " to repeat)" << std::endl;
    cr.master.seed(seed);

    cr.work = fs::temp_directory_path() / ("hfhub-crash-" + std::to_string(::getpid()) + "-" + std::to_string(seed));
    fs::remove_all(cr.work);
    fs::create_directories(cr.work);
    cr.root = cr.work / "root";
    cr.log = cr.work / "server.log";
    auto started = std::chrono::steady_clock::now();

    cr.server = std::make_unique<hub_process>(cr.binary, cr.root, cr.log);
    std::string phase = "setup";  // for messages from exceptions
    try {
        cr.create_streams();
        for (std::uint64_t run = 0; run < cr.runs; ++run) {
            phase = "run " + std::to_string(run);
            cr.kill_run(run);
        }
        phase = "final check";
        cr.final_check(started);
    } catch (const boost::execution_aborted&) {
        std::cout << "crash test: data kept in " << cr.work << "\n" << log_tail(cr.log) << std::endl;
        throw;
    } catch (const std::exception& e) {
        BOOST_FAIL(phase << " (seed " << seed << "): " << e.what() << "\nserver log:\n" << log_tail(cr.log)
                         << "\ndata kept in " << cr.work);
    }
    if (passed_so_far())
        fs::remove_all(cr.work);
    else
        std::cout << "crash test: data kept in " << cr.work << std::endl;
}

BOOST_AUTO_TEST_SUITE_END()
