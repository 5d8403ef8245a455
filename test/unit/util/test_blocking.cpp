// The blocking pool: results and errors come back to the caller's executor, and a cancellation
// resumes the caller at once while the job runs on, never ending the process.
#include "util/blocking.hpp"

#include <hfhub/client.hpp>

#include "blocking_call.hpp"
#include "deadline.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace asio = boost::asio;
using hfhub::test::run;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

using hfhub::util::co_blocking;
using clock_type = std::chrono::steady_clock;

BOOST_AUTO_TEST_SUITE(blocking_pool)

BOOST_AUTO_TEST_CASE(results_and_errors_come_back_on_the_callers_thread) {
    asio::io_context ioc;
    hfhub::util::blocking_pool pool(2);
    const asio::any_io_executor ex = pool.get_executor();
    auto caller = std::this_thread::get_id();
    int v = run(ioc, [&]() -> asio::awaitable<int> {
        auto job = [caller, &pool] {
            if (std::this_thread::get_id() == caller) throw std::logic_error("ran on the caller's thread");
            if (!pool.running_in_this_thread()) throw std::logic_error("ran off the pool");
            return 42;
        };
        int r = co_await co_blocking(ex, std::move(job));
        if (std::this_thread::get_id() != caller) throw std::logic_error("resumed on another thread");
        co_return r;
    }());
    BOOST_TEST(v == 42);
    auto failing = [&]() -> asio::awaitable<void> {
        auto job = [] { throw std::runtime_error("disk on fire"); };
        co_await co_blocking(ex, std::move(job));
    };
    BOOST_CHECK_EXCEPTION(run(ioc, failing()), std::runtime_error,
                          [](const std::runtime_error& e) { return std::string(e.what()) == "disk on fire"; });
}

BOOST_AUTO_TEST_CASE(a_deadline_returns_at_once_while_the_job_runs_on) {
    asio::io_context ioc;
    hfhub::util::blocking_pool pool(2);
    const asio::any_io_executor ex = pool.get_executor();
    auto finished = std::make_shared<std::atomic<bool>>(false);
    auto started = clock_type::now();
    auto which = run(ioc, [&]() -> asio::awaitable<std::size_t> {
        asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
        auto job = [finished] {
            std::this_thread::sleep_for(400ms);
            *finished = true;
        };
        auto r = co_await (co_blocking(ex, std::move(job)) || t.async_wait(asio::use_awaitable));
        co_return r.index();
    }());
    auto took = clock_type::now() - started;
    BOOST_TEST(which == 1u);  // the deadline won
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 200);
    BOOST_TEST(!*finished);  // the job was not torn: it is still running
    for (int i = 0; i < 200 && !*finished; ++i) std::this_thread::sleep_for(10ms);
    BOOST_TEST(*finished);
}

BOOST_AUTO_TEST_CASE(a_cancellation_surfaces_as_operation_aborted) {
    asio::io_context ioc;
    hfhub::util::blocking_pool pool(2);
    const asio::any_io_executor ex = pool.get_executor();
    asio::cancellation_signal sig;
    std::exception_ptr got;
    bool done = false;
    auto work = [&]() -> asio::awaitable<void> {
        auto job = [] { std::this_thread::sleep_for(100ms); };
        co_await co_blocking(ex, std::move(job));
    };
    asio::co_spawn(ioc, work(), asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e) {
                       got = e;
                       done = true;
                   }));
    asio::steady_timer t(ioc, 10ms);
    t.async_wait([&](boost::system::error_code) { sig.emit(asio::cancellation_type::terminal); });
    hfhub::test::run_all(ioc);
    BOOST_TEST(done);
    BOOST_TEST_REQUIRE(static_cast<bool>(got));
    try {
        std::rethrow_exception(got);
    } catch (const boost::system::system_error& e) {
        BOOST_TEST((e.code() == asio::error::operation_aborted));
    }
}

// Deadlines landing all around the end of short jobs: before, during and after it. Any of them
// reaching a pool thread as an exception would end the process.
BOOST_AUTO_TEST_CASE(deadlines_racing_the_end_of_jobs_never_abort) {
    asio::io_context ioc;
    hfhub::util::blocking_pool pool(2);
    const asio::any_io_executor ex = pool.get_executor();
    std::atomic<int> ran{0};
    int won_by_job = 0, won_by_deadline = 0;
    run(ioc, [&]() -> asio::awaitable<void> {
        auto caller = co_await asio::this_coro::executor;
        for (int i = 0; i < 300; ++i) {
            asio::steady_timer t(caller, std::chrono::microseconds(50 * (i % 40)));
            auto job = [&ran, i] {
                auto until = clock_type::now() + std::chrono::microseconds(37 * (i % 53));
                while (clock_type::now() < until) {
                }
                ++ran;
            };
            auto r = co_await (co_blocking(ex, std::move(job)) || t.async_wait(asio::use_awaitable));
            (r.index() == 0 ? won_by_job : won_by_deadline)++;
        }
    }());
    for (int i = 0; i < 200 && ran < 300; ++i) std::this_thread::sleep_for(5ms);
    BOOST_TEST(ran == 300);
    BOOST_TEST_MESSAGE("jobs first: " << won_by_job << ", deadlines first: " << won_by_deadline);
    BOOST_TEST(won_by_job > 0);
    BOOST_TEST(won_by_deadline > 0);
}

BOOST_AUTO_TEST_SUITE_END()

// The pool a client owns: config::blocking_threads threads, joined with the client.
BOOST_AUTO_TEST_SUITE(client_blocking_pool)

namespace {

struct concurrency {
    std::size_t most = 0;
    std::set<std::thread::id> threads;
    bool on_callers_thread = false;
};

// Posts `jobs` jobs to the pool of a client made with `threads`; each waits (up to 150 ms) for
// `threads` jobs to run at once. Returns how many ran at once at most, and on which threads.
concurrency measure(unsigned threads, unsigned jobs) {
    asio::io_context ioc;
    hfhub::config cfg;
    cfg.blocking_threads = threads;
    hfhub::client hub(ioc.get_executor(), cfg);
    auto pool = hfhub::detail::blocking_executor(hub);
    std::mutex mu;
    std::condition_variable cv;
    std::size_t running = 0, ended = 0;
    concurrency out;
    auto me = std::this_thread::get_id();
    for (unsigned i = 0; i < jobs; ++i)
        asio::post(pool, [&] {
            std::unique_lock lk(mu);
            out.threads.insert(std::this_thread::get_id());
            out.on_callers_thread |= std::this_thread::get_id() == me;
            out.most = std::max(out.most, ++running);
            cv.notify_all();
            cv.wait_for(lk, 150ms, [&] { return running >= threads; });
            --running;
            ++ended;
            cv.notify_all();
        });
    std::unique_lock lk(mu);
    cv.wait_for(lk, 20s, [&] { return ended == jobs; });
    BOOST_TEST(ended == jobs);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_pool_has_as_many_threads_as_configured) {
    auto one = measure(1, 4);
    BOOST_TEST(one.most == 1u);
    BOOST_TEST(one.threads.size() == 1u);
    BOOST_TEST(!one.on_callers_thread);
    auto three = measure(3, 9);
    BOOST_TEST(three.most == 3u);  // three at once, and never a fourth
    BOOST_TEST(three.threads.size() == 3u);
    BOOST_TEST(!three.on_callers_thread);
    auto none = measure(0, 2);  // 0 counts as 1
    BOOST_TEST(none.most == 1u);
}

// A cancelled caller resumes at once while its job runs on; destroying the client then waits for
// that job and for one queued behind it (a close or an unlink left by a cancelled call must not
// be lost), and the caller's io_context sees nothing of it afterwards. Under ASan/LSan: no leak.
BOOST_AUTO_TEST_CASE(destroying_a_client_while_a_job_runs_waits_for_it_and_drops_its_completion) {
    asio::io_context ioc;
    hfhub::config cfg;
    cfg.blocking_threads = 1;
    auto hub = std::make_unique<hfhub::client>(ioc.get_executor(), cfg);
    const asio::any_io_executor pool = hfhub::detail::blocking_executor(*hub);
    auto started = std::make_shared<std::atomic<bool>>(false);
    auto finished = std::make_shared<std::atomic<bool>>(false);
    auto queued_ran = std::make_shared<std::atomic<bool>>(false);
    asio::cancellation_signal sig;
    std::exception_ptr got;
    int completions = 0;
    auto work = [&]() -> asio::awaitable<void> {
        auto job = [started, finished] {
            *started = true;
            std::this_thread::sleep_for(300ms);
            *finished = true;
        };
        co_await co_blocking(pool, std::move(job));
    };
    auto t0 = clock_type::now();
    asio::co_spawn(ioc, work(), asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e) {
                       got = e;
                       ++completions;
                   }));
    asio::post(pool, [queued_ran] { *queued_ran = true; });
    asio::steady_timer t(ioc, 30ms);
    t.async_wait([&](boost::system::error_code) { sig.emit(asio::cancellation_type::terminal); });
    hfhub::test::run_all(ioc);
    auto took = clock_type::now() - t0;
    BOOST_TEST(completions == 1);
    BOOST_TEST(static_cast<bool>(got));
    BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(took).count() < 250);
    BOOST_TEST(*started);
    BOOST_TEST(!*finished);  // still running when the caller went on
    hub.reset();
    BOOST_TEST(*finished);    // the client's destructor waited for it
    BOOST_TEST(*queued_ran);  // and for what was queued behind it
    ioc.restart();
    BOOST_TEST(ioc.run() == 0u);  // the job's late completion went nowhere
    BOOST_TEST(completions == 1);
}

BOOST_AUTO_TEST_SUITE_END()
