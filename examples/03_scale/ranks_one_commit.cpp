// A checkpoint written by many ranks, published as one commit. Each rank (here: a process; in
// a job: a GPU, a host) uploads its own shard with co_preupload and leaves a receipt in a shared
// folder; nothing is visible on the Hub yet. Then one coordinator commits every receipt at once,
// without having any shard itself. A rank that fails leaves no commit; rerun, it sends only
// what the Hub still lacks.
//   HF_ENDPOINT=http://127.0.0.1:8080 HF_TOKEN=... ranks_one_commit you/checkpoints
#include <hfhub/commit.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/receipts.hpp>
#include <hfhub/repo_api.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace asio = boost::asio;
namespace fs = std::filesystem;

constexpr int world_size = 4;
constexpr std::size_t shard_bytes = 12 << 20;  // over the LFS threshold

// Runs a coroutine to its end on a fresh io_context; rethrows its error.
template <class F>
auto run(F make) {
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    auto done = asio::co_spawn(ioc, make(hub), asio::use_future);
    ioc.run();
    return done.get();
}

std::string shard_name(int rank) {
    return "model-0000" + std::to_string(rank + 1) + "-of-0000" + std::to_string(world_size) + ".safetensors";
}

// One rank: writes its shard where only it can see it, stores it on the Hub, leaves a receipt.
int worker(int rank, const std::string& repo, const fs::path& shared) {
    fs::path local = fs::temp_directory_path() / ("hfhub-rank-" + std::to_string(::getpid()));
    fs::create_directories(local);
    {
        std::ofstream out(local / shard_name(rank), std::ios::binary);
        std::string block(1 << 20, '\0');
        for (std::size_t i = 0; i < shard_bytes / block.size(); ++i) {
            for (std::size_t j = 0; j < block.size(); ++j) block[j] = static_cast<char>((rank * 97 + i * 31 + j) & 0xff);
            out.write(block.data(), static_cast<std::streamsize>(block.size()));
        }
    }
    auto receipts = run([&](hfhub::client& hub) {
        std::vector<hfhub::commit_add> adds{hfhub::commit_add::file("shards/" + shard_name(rank), local / shard_name(rank))};
        return hfhub::co_preupload(hub, repo, std::move(adds), hfhub::commit_options());
    });
    // Written whole or not at all: the coordinator never reads half a receipt file.
    hfhub::write_receipts(shared / ("rank-" + std::to_string(rank) + ".jsonl"), receipts);
    fs::remove_all(local);
    return 0;
}

int coordinator(const std::string& repo, const char* self) {
    fs::path shared = fs::temp_directory_path() / ("hfhub-receipts-" + std::to_string(::getpid()));
    fs::create_directories(shared);
    // The head the checkpoint is meant to land on: if anything else lands first, no commit.
    std::string parent = run([&](hfhub::client& hub) -> asio::awaitable<std::string> {
        hfhub::create_repo_options cro;
        cro.exist_ok = true;
        co_await hfhub::co_create_repo(hub, repo, cro);
        hfhub::repo_query q;
        hfhub::repo_metadata info = co_await hfhub::co_repo_info(hub, repo, q);
        co_return info.sha;
    });

    std::vector<pid_t> ranks;
    for (int r = 0; r < world_size; ++r) {
        std::string rank = std::to_string(r), dir = shared.string();
        std::vector<char*> argv{const_cast<char*>(self), const_cast<char*>("--worker"), rank.data(),
                                const_cast<char*>(repo.c_str()), dir.data(), nullptr};
        pid_t pid = -1;
        if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) return 1;
        ranks.push_back(pid);
    }
    bool all_ok = true;
    for (pid_t pid : ranks) {
        int status = 0;
        ::waitpid(pid, &status, 0);
        all_ok = all_ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (!all_ok) {
        std::cerr << "a rank failed: nothing committed\n";
        return 1;
    }

    std::vector<hfhub::upload_receipt> receipts;
    for (int r = 0; r < world_size; ++r) {
        auto got = hfhub::read_receipts(shared / ("rank-" + std::to_string(r) + ".jsonl"));
        for (auto& rc : got)
            std::cout << "rank " << r << ": " << rc.path_in_repo << " " << rc.size << " bytes"
                      << (rc.is_lfs ? " lfs" : "") << "\n";
        receipts.insert(receipts.end(), got.begin(), got.end());
    }
    hfhub::commit_info info = run([&](hfhub::client& hub) {
        std::vector<hfhub::commit_operation> ops;
        for (auto& rc : receipts) ops.push_back(hfhub::commit_add::from_receipt(rc));
        hfhub::commit_options o;
        o.commit_message = "Checkpoint from " + std::to_string(world_size) + " ranks";
        o.parent_commit = parent;
        return hfhub::co_create_commit(hub, repo, std::move(ops), o);
    });
    std::cout << "committed " << info.oid << ": " << info.operations << " files in one commit\n";
    fs::remove_all(shared);
    return 0;
}

int main(int argc, char** argv) {
    try {
        if (argc == 5 && std::string(argv[1]) == "--worker") return worker(std::stoi(argv[2]), argv[3], argv[4]);
        if (argc != 2) {
            std::cerr << "usage: ranks_one_commit <repo_id>\n";
            return 2;
        }
        return coordinator(argv[1], argv[0]);
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}
