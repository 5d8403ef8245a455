// Runs body(0) … body(n-1) on at most `workers` coroutines at once, on a strand of the caller's
// executor.
// The first error cancels the others and is rethrown.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <vector>

namespace hfhub::util {

template <class F>
boost::asio::awaitable<void> co_for_each(std::size_t n, unsigned workers, F body) {
    namespace asio = boost::asio;
    if (n == 0) co_return;
    std::atomic<std::size_t> next{0};
    auto worker = [&]() -> asio::awaitable<void> {
        for (std::size_t i = next++; i < n; i = next++) co_await body(i);
    };
    // The group is launched, and its workers run, on one strand: on an io_context run by several
    // threads, a worker could otherwise finish the whole group (and free it) on one thread while
    // the launch is still walking the group on another.
    auto group = [&]() -> asio::awaitable<void> {
        auto ex = co_await asio::this_coro::executor;
        using op_type = decltype(asio::co_spawn(ex, worker(), asio::deferred));
        std::vector<op_type> ops;
        std::size_t count = std::min<std::size_t>(std::max(1u, workers), n);
        for (std::size_t w = 0; w < count; ++w) ops.push_back(asio::co_spawn(ex, worker(), asio::deferred));
        auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                   .async_wait(asio::experimental::wait_for_one_error(), asio::use_awaitable);
        // The first to fail is the cause; the others then failed because they were cancelled.
        for (auto i : order)
            if (errors[i]) std::rethrow_exception(errors[i]);
    };
    auto caller = co_await asio::this_coro::executor;
    auto strand = asio::make_strand(caller);
    co_await asio::co_spawn(strand, group(), asio::use_awaitable);
}

}  // namespace hfhub::util
