// Download one file, then a whole snapshot, from coroutines on your own io_context.
//   HF_ENDPOINT=http://127.0.0.1:8080 download acme/model
#include <hfhub/download.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace asio = boost::asio;

asio::awaitable<void> run(hfhub::client& hub, std::string repo) {
    // One file: the path is inside the cache that Python and JS share.
    std::filesystem::path config = co_await hfhub::co_hf_hub_download(hub, repo, "config.json");
    std::ostringstream text;
    text << std::ifstream(config).rdbuf();
    std::cout << "config.json: " << text.str() << "\n";

    // The whole repo at one commit; allow_patterns would narrow it.
    std::filesystem::path snap = co_await hfhub::co_snapshot_download(hub, repo);
    for (const auto& e : std::filesystem::directory_iterator(snap))
        std::cout << e.path().filename().string() << " " << std::filesystem::file_size(e.path()) << "\n";
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: download <repo_id>\n";
        return 2;
    }
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    int rc = 0;
    asio::co_spawn(ioc, run(hub, argv[1]), [&](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const hfhub::error& x) {  // every failure is typed: x.code()
            std::cerr << "error: " << x.what() << "\n";
            rc = 1;
        }
    });
    ioc.run();
    return rc;
}
