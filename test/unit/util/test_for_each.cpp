// util::co_for_each: bounded workers over an index range, and which failure it reports.
#include "util/for_each.hpp"

#include "deadline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace asio = boost::asio;

namespace {

// What `a` threw, or null; a hang fails the test (test::run's deadline).
std::exception_ptr run(asio::io_context& ioc, asio::awaitable<void> a) {
    try {
        hfhub::test::run(ioc, std::move(a));
    } catch (const hfhub::test::deadline_passed&) {
        throw;
    } catch (...) {
        return std::current_exception();
    }
    return nullptr;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(util_for_each)

BOOST_AUTO_TEST_CASE(every_index_once_with_at_most_the_workers_at_a_time) {
    asio::io_context ioc;
    std::vector<int> seen(50, 0);
    int running = 0, most = 0;
    auto e = run(ioc, hfhub::util::co_for_each(seen.size(), 4, [&](std::size_t i) -> asio::awaitable<void> {
        ++seen[i];
        most = std::max(most, ++running);
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(1));
        co_await t.async_wait(asio::use_awaitable);
        --running;
    }));
    BOOST_TEST(!e);
    for (int s : seen) BOOST_TEST(s == 1);
    BOOST_TEST(most == 4);
}

BOOST_AUTO_TEST_CASE(the_first_failure_is_reported_not_the_cancellations_it_caused) {
    // Worker 0 waits on index 0; worker 1 fails on index 1, which cancels worker 0. The cause
    // is index 1's error, though index 0's cancellation sits first in the group.
    asio::io_context ioc;
    auto e = run(ioc, hfhub::util::co_for_each(2, 2, [&](std::size_t i) -> asio::awaitable<void> {
        if (i == 1) throw std::runtime_error("the cause");
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(30));
        co_await t.async_wait(asio::use_awaitable);
    }));
    BOOST_TEST_REQUIRE(bool(e));
    std::string what;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        what = x.what();
    }
    BOOST_TEST(what == "the cause");
}

BOOST_AUTO_TEST_SUITE_END()
