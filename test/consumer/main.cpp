// Uploads a file to the Hub at HF_ENDPOINT and reads it back through the cache: blocking from
// main(), then the same from a coroutine on the program's own io_context. Built with g++ and,
// against the same g++-built library, with clang.
#include <hfhub/hfhub.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

namespace asio = boost::asio;

static std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

static asio::awaitable<void> again(hfhub::client& hub) {
    using namespace std::chrono_literals;
    auto p = co_await hfhub::with_deadline(hfhub::co_hf_hub_download(hub, "local/consumer", "hello.txt"), 60s);
    std::cout << "co_await: " << slurp(p) << "\n";
    // Default (temporary) options inside the co_await expression, as users write them.
    bool there = co_await hfhub::co_file_exists(hub, "local/consumer", "hello.txt");
    hfhub::repo_metadata info = co_await hfhub::co_repo_info(hub, "local/consumer");
    std::cout << "file_exists: " << there << ", sha: " << (info.sha.size() == 40 ? "40 hex" : info.sha) << "\n";
}

int main() try {
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    hfhub::create_repo_options ro;
    ro.exist_ok = true;  // the second build runs against the same Hub
    hfhub::create_repo(hub, "local/consumer", ro);
    hfhub::commit_options o;
    o.commit_message = "Add hello.txt";
    hfhub::upload_file(hub, "local/consumer", hfhub::commit_add::bytes("hello.txt", "hello from a consumer"), o);
    std::cout << "blocking: " << slurp(hfhub::hf_hub_download(hub, "local/consumer", "hello.txt")) << "\n";
    asio::co_spawn(ioc, again(hub), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
    });
    ioc.run();
} catch (const hfhub::error& e) {
    std::cerr << "consumer: " << e.what() << "\n";
    return 1;
}
