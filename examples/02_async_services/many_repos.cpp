// Many repos at once: one call per repo, all in flight together over the client's shared pool,
// joined with parallel_group. Each result (or error) comes back in the order of the repos.
//   HF_ENDPOINT=http://127.0.0.1:8080 many_repos acme/a acme/b ...
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>
#include <vector>

namespace asio = boost::asio;

asio::awaitable<int> run(hfhub::client& hub, std::vector<std::string> repos) {
    auto ex = co_await asio::this_coro::executor;
    // co_spawn with `deferred` makes an operation that has not started yet; the group starts
    // them all and waits for every one (wait_for_all), so one failure doesn't cancel the rest.
    using op_type = decltype(asio::co_spawn(ex, hfhub::co_hf_hub_download(hub, "", ""), asio::deferred));
    std::vector<op_type> ops;
    for (const auto& repo : repos) ops.push_back(asio::co_spawn(ex, hfhub::co_hf_hub_download(hub, repo, "config.json"), asio::deferred));
    auto [order, errors, paths] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                      .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    int failed = 0;
    for (std::size_t i = 0; i < repos.size(); ++i) {
        if (!errors[i]) {
            std::cout << repos[i] << ": " << paths[i].parent_path().filename().string().substr(0, 7) << "\n";
            continue;
        }
        try {
            std::rethrow_exception(errors[i]);
        } catch (const hfhub::error& e) {
            std::cout << repos[i] << ": " << hfhub::error_name(e.code()) << "\n";
            ++failed;
        }
    }
    co_return failed;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: many_repos <repo_id>...\n";
        return 2;
    }
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    std::vector<std::string> repos(argv + 1, argv + argc);
    int failed = -1;
    asio::co_spawn(ioc, run(hub, repos), [&](std::exception_ptr e, int n) { failed = e ? -1 : n; });
    ioc.run();
    std::cout << failed << " failed\n";
    return failed < 0 ? 1 : 0;
}
