// Bounding a call in time, and cancelling one from outside.
//   HF_ENDPOINT=http://127.0.0.1:8080 deadline_and_cancel acme/model model.safetensors
#include <hfhub/deadline.hpp>
#include <hfhub/download.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <filesystem>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// A download into a fresh cache of its own, so that every attempt really transfers.
hfhub::download_options fresh(const char* name) {
    hfhub::download_options o;
    o.cache_dir = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(o.cache_dir);
    return o;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: deadline_and_cancel <repo_id> <big_file>\n";
        return 2;
    }
    std::string repo = argv[1], file = argv[2];
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    int failures = 0;

    // 1. A deadline: with_deadline cancels the call when the time is up and throws
    //    client_errc::timeout; the call has stopped when it returns.
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
        try {
            auto opts = fresh("hfhub-example-deadline");
            co_await hfhub::with_deadline(hfhub::co_hf_hub_download(hub, repo, file, std::move(opts)), 1ms);
            std::cout << "deadline: finished in time\n";
        } catch (const hfhub::error& e) {
            std::cout << "deadline: " << (e.code() == hfhub::client_errc::timeout ? "timed out" : e.what()) << "\n";
        }
        // A generous deadline changes nothing.
        auto opts = fresh("hfhub-example-deadline");
        auto p = co_await hfhub::with_deadline(hfhub::co_hf_hub_download(hub, repo, "config.json", std::move(opts)), 30s);
        std::cout << "deadline: " << p.filename().string() << " within 30 s\n";
    }, [&](std::exception_ptr e) { failures += e != nullptr; });
    ioc.run();
    ioc.restart();

    // 2. A cancel: any Asio cancellation slot stops a call mid-transfer. Here the first progress
    //    report pulls the plug, as a service's shutdown or a client hanging up would.
    asio::cancellation_signal stop;
    auto opts = fresh("hfhub-example-cancel");
    opts.progress = [&](const hfhub::download_progress& p) {
        if (p.done > 0) asio::post(ioc, [&] { stop.emit(asio::cancellation_type::terminal); });
    };
    asio::co_spawn(ioc, hfhub::co_hf_hub_download(hub, repo, file, std::move(opts)),
                   asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, std::filesystem::path) {
                       try {
                           if (e) std::rethrow_exception(e);
                           std::cout << "cancel: finished before the cancel\n";
                       } catch (const hfhub::error& x) {
                           bool cancelled = x.code() == hfhub::client_errc::cancelled;
                           std::cout << "cancel: " << (cancelled ? "cancelled" : x.what()) << "\n";
                           failures += !cancelled;
                       }
                   }));
    ioc.run();
    ioc.restart();

    // The client is fine afterwards: the same file now downloads in full.
    asio::co_spawn(ioc, hfhub::co_hf_hub_download(hub, repo, file, fresh("hfhub-example-cancel")),
                   [&](std::exception_ptr e, std::filesystem::path p) {
                       if (e) ++failures;
                       else std::cout << "after: " << std::filesystem::file_size(p) << " bytes\n";
                   });
    ioc.run();
    return failures ? 1 : 0;
}
