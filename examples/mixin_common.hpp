// Shared by the mixin examples: run one coroutine on an io_context and report its error.
#pragma once

#include <hfhub/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <functional>
#include <iostream>
#include <string>

// Runs body(client, repo_id) with a client configured from the environment (HF_ENDPOINT, HF_TOKEN).
inline int run_example(int argc, char** argv, const char* name,
                       std::function<boost::asio::awaitable<void>(hfhub::client&, std::string)> body) {
    if (argc != 2) {
        std::cerr << "usage: " << name << " <repo_id>\n";
        return 2;
    }
    boost::asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    int rc = 0;
    boost::asio::co_spawn(ioc, body(hub, argv[1]), [&](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "error: " << x.what() << "\n";
            rc = 1;
        }
    });
    ioc.run();
    return rc;
}
