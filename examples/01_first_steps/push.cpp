// Several files in one atomic commit: a folder pushed with co_push_to_hub, which creates the
// repo when it is missing, uploads the big files through LFS and then commits them all at once.
//   HF_ENDPOINT=http://127.0.0.1:8080 HF_TOKEN=... push you/new-model
#include <hfhub/commit.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <unistd.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;

// A model folder as a training job leaves it.
fs::path write_model() {
    fs::path dir = fs::temp_directory_path() / ("hfhub-push-example-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << R"({"hidden_size": 64})";
    std::ofstream weights(dir / "model.safetensors", std::ios::binary);
    std::string block(1 << 20, '\0');
    for (int i = 0; i < 12; ++i) {  // 12 MiB: over the LFS threshold
        for (std::size_t j = 0; j < block.size(); ++j) block[j] = static_cast<char>((i * 131 + j * 7) & 0xff);
        weights.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    return dir;
}

asio::awaitable<void> run(hfhub::client& hub, std::string repo, fs::path dir) {
    hfhub::push_options opts;
    opts.commit_message = "Add model";
    hfhub::commit_info info = co_await hfhub::co_push_to_hub(hub, repo, dir, std::move(opts));
    std::cout << "committed " << info.oid << "\n" << info.url << "\n";

    // The same folder again changes nothing, so no commit is made.
    hfhub::push_options again;
    hfhub::commit_info second = co_await hfhub::co_push_to_hub(hub, repo, dir, std::move(again));
    std::cout << (second.changed ? "changed" : "unchanged") << "\n";
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: push <repo_id>\n";
        return 2;
    }
    fs::path dir = write_model();
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    int rc = 0;
    asio::co_spawn(ioc, run(hub, argv[1], dir), [&](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const hfhub::error& x) {
            std::cerr << "error: " << x.what() << "\n";
            rc = 1;
        }
    });
    ioc.run();
    fs::remove_all(dir);
    return rc;
}
