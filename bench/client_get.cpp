// Client throughput: one large GET streamed to nowhere, or many small GETs.
//   client_get big URL [repeats]           prints MB/s per run
//   client_get small URL COUNT [PARALLEL]  prints requests/s
#include <hfhub/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: client_get big URL [repeats] | small URL COUNT [PARALLEL]\n");
        return 2;
    }
    std::string mode = argv[1], url = argv[2];
    asio::io_context ioc(1);
    hfhub::config cfg;
    cfg.pool.per_host = 64;
    hfhub::client c(ioc.get_executor(), cfg);
    if (mode == "big") {
        int repeats = argc > 3 ? std::atoi(argv[3]) : 1;
        for (int i = 0; i < repeats; ++i) {
            std::uint64_t bytes = 0;
            auto t0 = clock_type::now();
            hfhub::http_request r;
            r.url = url;
            asio::co_spawn(ioc, c.co_stream(r, {[&](std::span<const char> s) { bytes += s.size(); }, [&] { bytes = 0; }}),
                           [](std::exception_ptr e, hfhub::http_response) {
                               if (e) std::rethrow_exception(e);
                           });
            ioc.restart();
            ioc.run();
            double s = std::chrono::duration<double>(clock_type::now() - t0).count();
            std::printf("%.1f MB/s (%llu bytes in %.3f s)\n", bytes / s / 1e6, static_cast<unsigned long long>(bytes), s);
        }
        return 0;
    }
    int count = argc > 3 ? std::atoi(argv[3]) : 1000;
    int parallel = argc > 4 ? std::atoi(argv[4]) : 1;
    int done = 0, failed = 0;
    auto t0 = clock_type::now();
    auto worker = [&](int n) -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) {
            hfhub::http_request r;
            r.url = url;
            try {
                auto resp = co_await c.co_request(r);
                ++done;
            } catch (const std::exception&) {
                ++failed;
            }
        }
    };
    for (int p = 0; p < parallel; ++p) asio::co_spawn(ioc, worker(count / parallel), asio::detached);
    ioc.run();
    double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    std::printf("%.0f requests/s (%d ok, %d failed, %d in parallel, %llu connections)\n", done / s, done, failed,
                parallel, static_cast<unsigned long long>(c.stats().opened));
    return failed ? 1 : 0;
}
