// Progress of a snapshot download: one line per file as it completes, and the bytes so far.
// The handler runs on the executor the call runs on, so it may touch the caller's state freely.
//   HF_ENDPOINT=http://127.0.0.1:8080 progress acme/model
#include <hfhub/download.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <iostream>
#include <map>

namespace asio = boost::asio;

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: progress <repo_id>\n";
        return 2;
    }
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());

    std::map<std::string, std::uint64_t> done;  // bytes per file
    hfhub::snapshot_options opts;
    opts.cache_dir = std::filesystem::temp_directory_path() / "hfhub-example-progress";
    std::filesystem::remove_all(opts.cache_dir);
    opts.progress = [&](const hfhub::download_progress& p) {
        bool finished = p.total != 0 && p.done == p.total && done[p.file] != p.total;
        done[p.file] = p.done;
        if (finished) std::cout << "done " << p.file << " (" << p.total << " bytes)\n";
    };
    int rc = 0;
    asio::co_spawn(ioc, hfhub::co_snapshot_download(hub, argv[1], std::move(opts)),
                   [&](std::exception_ptr e, std::filesystem::path snap) {
                       if (e) {
                           rc = 1;
                           return;
                       }
                       std::uint64_t total = 0;
                       for (auto& [file, bytes] : done) total += bytes;
                       std::cout << "snapshot " << snap.filename().string() << ": " << done.size() << " files, " << total
                                 << " bytes\n";
                   });
    ioc.run();
    return rc;
}
