// Running a coroutine to its end from a test, with a deadline: a coroutine that never finishes
// fails its own test case, by name, instead of hanging the whole executable until ctest kills it.
// Every suite runs its coroutines with test::run, or its own co_spawned work with test::run_all.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

namespace hfhub::test {

// How long test::run lets a coroutine run before calling it hung: far beyond any test's
// transfer, well inside ctest's timeout, so a hang fails its own test case by name.
#ifdef HFHUB_SANITIZER
inline constexpr std::chrono::seconds run_limit{360};
#else
inline constexpr std::chrono::seconds run_limit{120};
#endif

// How long a coroutine that missed its deadline gets to unwind once cancelled.
inline constexpr std::chrono::seconds unwind_limit{2};

// What test::run throws when the deadline passes.
struct deadline_passed : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Runs `aw` on `ioc` (in this thread) and returns its result or rethrows what it threw. If it
// is still running after `limit`, it is cancelled and given unwind_limit to end, so nothing of
// it resumes in a later run of `ioc`; then deadline_passed is thrown.
template <class T>
T run(boost::asio::io_context& ioc, boost::asio::awaitable<T> aw,
      std::chrono::steady_clock::duration limit = run_limit) {
    namespace asio = boost::asio;
    asio::cancellation_signal cancel;
    auto fut = asio::co_spawn(ioc, std::move(aw), asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    ioc.restart();
    ioc.run_for(limit);
    if (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        cancel.emit(asio::cancellation_type::all);
        ioc.restart();
        ioc.run_for(unwind_limit);
        ioc.stop();
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
        throw deadline_passed("test::run: the coroutine still runs after " + std::to_string(ms) + " ms");
    }
    return fut.get();
}

// Runs `ioc` (in this thread) until it runs out of work, for tests that co_spawn their own
// work with their own completion handlers, as users do; throws deadline_passed if work remains
// after `limit` (what remains is dropped with the context).
inline void run_all(boost::asio::io_context& ioc, std::chrono::steady_clock::duration limit = run_limit) {
    ioc.restart();
    ioc.run_for(limit);
    if (!ioc.stopped()) {
        ioc.stop();
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(limit).count();
        throw deadline_passed("test::run_all: work still pending after " + std::to_string(ms) + " ms");
    }
}

}  // namespace hfhub::test
