// test::run (test/support/deadline.hpp), the helper every suite runs its coroutines with: it
// returns what the coroutine returns, and fails instead of hanging when the deadline passes;
// test::run_all does the same for work a test co_spawns itself.
#include "deadline.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

// How a coroutine under test behaves.
enum class behaviour {
    returns,       // 7 after 10 ms
    throws,        // std::logic_error after 10 ms
    never_ends,    // waits on a timer that never fires, until cancelled
    ignores_cancel  // keeps waiting, cancelled or not
};

struct probe {
    bool cancelled = false;  // the coroutine saw its wait aborted
};

asio::awaitable<int> coroutine(behaviour b, probe& p) {
    auto ex = co_await asio::this_coro::executor;
    if (b == behaviour::returns || b == behaviour::throws) {
        asio::steady_timer t(ex, 10ms);
        co_await t.async_wait(asio::use_awaitable);
        if (b == behaviour::throws) throw std::logic_error("thrown by the coroutine");
        co_return 7;
    }
    if (b == behaviour::never_ends) {
        asio::steady_timer t(ex, clock_type::time_point::max());
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        p.cancelled = ec == asio::error::operation_aborted;
        co_return 0;
    }
    co_await asio::this_coro::throw_if_cancelled(false);
    for (;;) {
        asio::steady_timer t(ex, 20ms);
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) p.cancelled = true;
    }
}

struct row {
    const char* name;
    behaviour b;
    clock_type::duration limit;
    const char* outcome;  // "7", "logic_error" or "deadline"
    clock_type::duration at_most;
    bool cancelled;
};

// Each row fails if run() stops returning the value, rethrowing, or throwing deadline_passed
// in bounded time after cancelling the coroutine.
const row rows[] = {
    {"a coroutine that returns in time gives its value", behaviour::returns, 5s, "7", 4s, false},
    {"a coroutine that throws in time rethrows", behaviour::throws, 5s, "logic_error", 4s, false},
    {"a coroutine that never ends fails at the deadline, cancelled", behaviour::never_ends, 100ms, "deadline", 2s,
     true},
    {"one that ignores its cancellation still fails, after the unwind limit", behaviour::ignores_cancel, 100ms,
     "deadline", hfhub::test::unwind_limit + 2s, true},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(test_deadline)

BOOST_AUTO_TEST_CASE(run_returns_rethrows_or_fails_at_the_deadline) {
    for (auto& r : rows) {
        BOOST_TEST_CONTEXT(r.name) {
            probe p;  // outlives the context, which may still hold the coroutine
            asio::io_context ioc;
            std::string outcome;
            auto start = clock_type::now();
            try {
                outcome = std::to_string(hfhub::test::run(ioc, coroutine(r.b, p), r.limit));
            } catch (const hfhub::test::deadline_passed& e) {
                outcome = "deadline";
                BOOST_TEST(std::string(e.what()).find("still runs after") != std::string::npos);
            } catch (const std::logic_error&) {
                outcome = "logic_error";
            }
            auto took = clock_type::now() - start;
            BOOST_TEST(outcome == r.outcome);
            auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took).count();
            BOOST_TEST((took >= (r.outcome == std::string("deadline") ? r.limit : clock_type::duration(0))), ms << " ms");
            BOOST_TEST((took < r.at_most), ms << " ms");
            BOOST_TEST(p.cancelled == r.cancelled);
        }
    }
}

// A coroutine cut off at its deadline does not resume in the next run of the same io_context.
BOOST_AUTO_TEST_CASE(a_timed_out_coroutine_leaves_nothing_on_the_context) {
    probe stuck, later;
    asio::io_context ioc;
    BOOST_CHECK_THROW(hfhub::test::run(ioc, coroutine(behaviour::never_ends, stuck), 50ms),
                      hfhub::test::deadline_passed);
    BOOST_TEST(stuck.cancelled);
    stuck.cancelled = false;
    BOOST_TEST(hfhub::test::run(ioc, coroutine(behaviour::returns, later), 5s) == 7);
    BOOST_TEST(!stuck.cancelled);  // it did not run again
}

// run_all, for work a test co_spawns itself: returns when the work ends, fails when it doesn't.
BOOST_AUTO_TEST_CASE(run_all_returns_when_the_work_ends_and_fails_when_it_does_not) {
    for (bool ends : {true, false}) {
        BOOST_TEST_CONTEXT((ends ? "work that ends" : "work that never ends")) {
            probe p;
            asio::io_context ioc;
            int value = 0;
            asio::co_spawn(ioc, coroutine(ends ? behaviour::returns : behaviour::never_ends, p),
                           [&](std::exception_ptr, int v) { value = v; });
            auto start = clock_type::now();
            bool passed = false;
            try {
                hfhub::test::run_all(ioc, 200ms);
            } catch (const hfhub::test::deadline_passed&) {
                passed = true;
            }
            auto took = clock_type::now() - start;
            BOOST_TEST(passed == !ends);
            BOOST_TEST(value == (ends ? 7 : 0));
            BOOST_TEST((took < 2s));
            BOOST_TEST((ends ? took < 200ms : took >= 200ms));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
