// Cache locks: exclusion within a process and across processes, timeouts, cancellation.
#include "cache/lock.hpp"

#include "deadline.hpp"
#include "test_server.hpp"  // temp_dir

#include <hfhub/error.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
using hfhub::test::run;
namespace fs = std::filesystem;
using hfhub::cache::file_lock;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

std::error_code acquire_error(asio::io_context& ioc, const fs::path& p, std::chrono::milliseconds timeout) {
    try {
        auto l = run(ioc, file_lock::co_acquire(p, timeout));
        BOOST_TEST(l.held());
    } catch (const hfhub::error& e) {
        return e.code();
    }
    return {};
}

long long ms_since(clock_type::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cache_lock)

BOOST_AUTO_TEST_CASE(creates_folders_and_a_0664_file) {
    hfhub::test::temp_dir tmp;
    fs::path p = tmp.path() / ".locks" / "models--a--b" / "etag.lock";
    auto l = file_lock::try_acquire(p);
    BOOST_TEST(l.held());
    struct stat st{};
    BOOST_TEST_REQUIRE(::stat(p.c_str(), &st) == 0);
    mode_t mask = ::umask(0);
    ::umask(mask);
    BOOST_TEST((st.st_mode & 0777) == (0664 & ~mask));
    l.release();
    BOOST_TEST(!l.held());
    BOOST_TEST(fs::exists(p));  // left in place: unlinking a lock file races with waiters
}

BOOST_AUTO_TEST_CASE(two_locks_in_one_process_exclude) {
    hfhub::test::temp_dir tmp;
    fs::path p = tmp.path() / "x.lock";
    auto a = file_lock::try_acquire(p);
    BOOST_TEST_REQUIRE(a.held());
    auto b = file_lock::try_acquire(p);
    BOOST_TEST(!b.held());

    asio::io_context ioc;
    auto t0 = clock_type::now();
    BOOST_TEST(acquire_error(ioc, p, 120ms) == std::error_code(hfhub::client_errc::lock_timeout));
    BOOST_TEST(ms_since(t0) >= 120);
    BOOST_TEST(ms_since(t0) < 1000);

    // Moving keeps one holder; dropping the holder frees the lock.
    file_lock moved = std::move(a);
    BOOST_TEST(!a.held());
    BOOST_TEST(moved.held());
    BOOST_TEST(!file_lock::try_acquire(p).held());
    moved = file_lock{};
    BOOST_TEST(file_lock::try_acquire(p).held());
}

BOOST_AUTO_TEST_CASE(a_waiter_gets_the_lock_when_it_is_released) {
    hfhub::test::temp_dir tmp;
    fs::path p = tmp.path() / "x.lock";
    auto holder = file_lock::try_acquire(p);
    BOOST_TEST_REQUIRE(holder.held());
    asio::io_context ioc;
    asio::steady_timer t(ioc, 80ms);
    t.async_wait([&](auto) { holder.release(); });
    auto t0 = clock_type::now();
    auto got = run(ioc, file_lock::co_acquire(p, 5s));
    BOOST_TEST(got.held());
    BOOST_TEST(ms_since(t0) >= 70);
    BOOST_TEST(ms_since(t0) < 1000);
    BOOST_TEST(!file_lock::try_acquire(p).held());
}

BOOST_AUTO_TEST_CASE(a_lock_file_unlinked_while_waiting_is_reopened) {
    hfhub::test::temp_dir tmp;
    fs::path p = tmp.path() / "x.lock";
    auto holder = file_lock::try_acquire(p);
    BOOST_TEST_REQUIRE(holder.held());
    asio::io_context ioc;
    asio::steady_timer t(ioc, 50ms);
    t.async_wait([&](auto) {
        fs::remove(p);  // e.g. someone cleaning .locks
        holder.release();
    });
    auto got = run(ioc, file_lock::co_acquire(p, 5s));
    BOOST_TEST(got.held());
    BOOST_TEST(fs::exists(p));
    // The waiter holds the file the path names now, so a newcomer is excluded.
    BOOST_TEST(!file_lock::try_acquire(p).held());
}

BOOST_AUTO_TEST_CASE(zero_timeout_is_one_attempt) {
    hfhub::test::temp_dir tmp;
    fs::path p = tmp.path() / "x.lock";
    asio::io_context ioc;
    {
        auto free_lock = run(ioc, file_lock::co_acquire(p, 0ms));
        BOOST_TEST(free_lock.held());
    }
    auto holder = file_lock::try_acquire(p);
    BOOST_TEST(acquire_error(ioc, p, 0ms) == std::error_code(hfhub::client_errc::lock_timeout));
}

BOOST_AUTO_TEST_CASE(excludes_another_process_until_it_dies) {
    hfhub::test::temp_dir tmp;
    fs::path p = tmp.path() / ".locks" / "models--a--b" / "etag.lock";
    fs::create_directories(p.parent_path());
    const std::string path = p.string();
    int ready[2];
    BOOST_TEST_REQUIRE(::pipe(ready) == 0);
    pid_t pid = ::fork();
    BOOST_TEST_REQUIRE(pid >= 0);
    if (pid == 0) {
        // Child: only async-signal-safe calls after fork.
        ::close(ready[0]);
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0664);
        if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
        char c = 'x';
        if (::write(ready[1], &c, 1) != 1) ::_exit(1);
        for (;;) ::pause();
    }
    ::close(ready[1]);
    char c = 0;
    BOOST_TEST_REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);

    asio::io_context ioc;
    BOOST_TEST(!file_lock::try_acquire(p).held());
    auto t0 = clock_type::now();
    BOOST_TEST(acquire_error(ioc, p, 150ms) == std::error_code(hfhub::client_errc::lock_timeout));
    BOOST_TEST(ms_since(t0) >= 150);

    // SIGKILL gives the holder no chance to unlock: the kernel drops the lock.
    BOOST_TEST_REQUIRE(::kill(pid, SIGKILL) == 0);
    int status = 0;
    BOOST_TEST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_TEST(WIFSIGNALED(status));
    t0 = clock_type::now();
    auto l = run(ioc, file_lock::co_acquire(p, 5s));
    BOOST_TEST(l.held());
    BOOST_TEST(ms_since(t0) < 500);
}

BOOST_AUTO_TEST_CASE(a_waiting_acquire_can_be_cancelled) {
    hfhub::test::temp_dir tmp;
    fs::path p = tmp.path() / "x.lock";
    auto holder = file_lock::try_acquire(p);
    BOOST_TEST_REQUIRE(holder.held());

    // 20 and 60 ms fall on poll boundaries (20, 40, ...): the signal may land mid-wait or between waits.
    for (auto at : {1ms, 20ms, 33ms, 60ms}) {
        BOOST_TEST_CONTEXT("cancelled after " << at.count() << " ms") {
            asio::io_context ioc;
            asio::cancellation_signal cancel;
            auto fut = asio::co_spawn(ioc, file_lock::co_acquire(p, 10s),
                                      asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
            asio::steady_timer t(ioc, at);
            t.async_wait([&](auto) { cancel.emit(asio::cancellation_type::terminal); });
            auto t0 = clock_type::now();
            hfhub::test::run_all(ioc);
            BOOST_TEST(ms_since(t0) < 1000);
            std::error_code got;
            try {
                fut.get();
            } catch (const hfhub::error& e) {
                got = e.code();
            }
            BOOST_TEST(got == std::error_code(hfhub::client_errc::cancelled));
        }
    }
    BOOST_TEST(holder.held());
    BOOST_TEST(!file_lock::try_acquire(p).held());
}

BOOST_AUTO_TEST_SUITE_END()
