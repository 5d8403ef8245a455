// A deadline for any co_ call: with_deadline(co_x(...), 30s) runs the call against a timer on
// the caller's executor. When the timer fires first the call is cancelled, and once it has
// stopped (it leaves no partial cache entry and no commit) hfhub::error(client_errc::timeout)
// is thrown. Cancelling the awaiting coroutine cancels both.
//
//     auto path = co_await hfhub::with_deadline(hfhub::co_hf_hub_download(hub, "acme/model", "config.json"), 30s);
#pragma once

#include <hfhub/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace hfhub {

namespace detail {

template <class T>
using deadline_box = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// The call's outcome as an optional, so that T needs no default constructor (co_spawn's
// handler gets a value even on an exception).
template <class T>
boost::asio::awaitable<std::optional<deadline_box<T>>> co_boxed(boost::asio::awaitable<T> op) {
    if constexpr (std::is_void_v<T>) {
        co_await std::move(op);
        co_return std::monostate{};
    } else {
        co_return co_await std::move(op);
    }
}

template <class T>
boost::asio::awaitable<T> co_deadline(boost::asio::awaitable<T> op, std::chrono::steady_clock::duration limit) {
    namespace asio = boost::asio;
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer timer(ex, limit);
    // wait_for_one: whichever ends first cancels the other, and the group waits for both, so the
    // call has stopped when this returns. (operator|| would wait out the timer after a failure.)
    auto [order, failure, result, timer_ec] =
        co_await asio::experimental::make_parallel_group(asio::co_spawn(ex, co_boxed(std::move(op)), asio::deferred),
                                                         timer.async_wait(asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    if (!failure && result) {  // done, even if only just as the timer fired
        if constexpr (std::is_void_v<T>) co_return;
        else co_return std::move(*result);
    }
    // The call failed first, or both were cancelled from outside (the timer was aborted).
    if (order[0] == 0 || timer_ec) std::rethrow_exception(failure);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
    throw error(client_errc::timeout, {.client_message = "the deadline of " + std::to_string(ms) + " ms passed"});
}

}  // namespace detail

// A plain function, so that the awaitable passed in (a temporary of the caller's co_await
// expression) is moved into a coroutine frame at once; g++ 12 mishandles such temporaries
// when they are by-value parameters of a coroutine.
template <class T>
boost::asio::awaitable<T> with_deadline(boost::asio::awaitable<T> op, std::chrono::steady_clock::duration limit) {
    return detail::co_deadline(std::move(op), limit);
}

}  // namespace hfhub
