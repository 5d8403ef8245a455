// push_to_hub of a folder with the time each pipeline stage took, to see where an upload's
// time goes (bench/upload_vs_js.sh times the CLI; this splits it up).
//   upload_put ENDPOINT REPO DIR [MAX_WORKERS [IO_THREADS]]
// Prints one line per stage reached (seconds since start, since the previous stage, and the
// stage's byte rate), then the total.
#include <hfhub/commit.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: upload_put ENDPOINT REPO DIR [MAX_WORKERS [IO_THREADS]]\n");
        return 2;
    }
    hfhub::config cfg;
    cfg.endpoint = argv[1];
    std::string repo = argv[2];
    std::filesystem::path dir = argv[3];
    unsigned workers = argc > 4 ? static_cast<unsigned>(std::atoi(argv[4])) : 8;
    int io_threads = argc > 5 ? std::atoi(argv[5]) : 2;

    asio::io_context ioc;
    auto guard = asio::make_work_guard(ioc);
    std::vector<std::thread> threads;
    for (int i = 0; i < io_threads; ++i) threads.emplace_back([&] { ioc.run(); });
    hfhub::client c(ioc.get_executor(), cfg);

    static const char* names[] = {"hashing", "checking", "uploading", "committing", "done"};
    auto t0 = clock_type::now();
    auto last = t0;
    int stage = -1;
    std::uint64_t stage_bytes = 0;
    auto secs = [](clock_type::duration d) { return std::chrono::duration<double>(d).count(); };
    auto close_stage = [&](clock_type::time_point now) {
        if (stage < 0) return;
        double dt = secs(now - last);
        std::printf("  %-10s ends at %7.3f s  took %7.3f s", names[stage], secs(now - t0), dt);
        if (stage_bytes && dt > 0) std::printf("  %8.1f MB/s", stage_bytes / dt / 1e6);
        std::printf("\n");
    };
    hfhub::push_options o;
    o.max_workers = workers;
    o.progress = [&](const hfhub::commit_progress& p) {
        int s = static_cast<int>(p.what);
        if (s != stage) {
            auto now = clock_type::now();
            close_stage(now);
            stage = s;
            last = now;
            stage_bytes = 0;
        }
        stage_bytes = std::max(stage_bytes, p.bytes_done);
    };
    int rc = 0;
    try {
        auto info = hfhub::push_to_hub(c, repo, dir, o);
        close_stage(clock_type::now());
        double total = secs(clock_type::now() - t0);
        std::printf("total %.3f s, %llu LFS objects, %llu bytes sent: %s\n", total,
                    static_cast<unsigned long long>(info.files_uploaded),
                    static_cast<unsigned long long>(info.bytes_uploaded), info.url.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "upload_put: %s\n", e.what());
        rc = 1;
    }
    guard.reset();
    ioc.stop();
    for (auto& t : threads) t.join();
    return rc;
}
