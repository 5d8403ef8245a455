// A script: the blocking twins from a plain main(). Nobody runs an io_context here; the
// client starts a thread of its own for them on first use.
//   HF_ENDPOINT=http://127.0.0.1:8080 blocking acme/model
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: blocking <repo_id>\n";
        return 2;
    }
    boost::asio::io_context ioc;  // the client's executor; never run in this program
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    try {
        std::cout << "exists: " << hfhub::file_exists(hub, argv[1], "config.json") << "\n";
        std::cout << hfhub::hf_hub_download(hub, argv[1], "config.json").filename().string() << "\n";
        hfhub::snapshot_options opts;
        opts.allow_patterns = {"*.json"};
        std::cout << "snapshot: " << hfhub::snapshot_download(hub, argv[1], std::move(opts)).parent_path().filename().string()
                  << "\n";
    } catch (const hfhub::error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
