// Calls that block on the disk or the CPU (fsync, the renames that publish a file, truncating,
// closing or unlinking a big file, hashing, serialising) run on a small pool of threads that each
// client owns (config::blocking_threads): on an I/O thread they would stall every transfer and
// timer it serves meanwhile, and several syncs at once let the file system commit them together.
//
// A job on the pool never waits for a job queued behind it on the same pool: with one thread that
// would never end. Where a job wants a helper (read_ahead), it does the helper's work itself
// whenever the helper has not started.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <thread>
#include <utility>
#include <vector>

namespace hfhub::util {

// The pool: `threads` threads (at least one) started at construction, at a batch scheduling
// priority so that they never preempt the I/O threads on a busy machine. Its destructor lets what
// is queued run to its end (a close or an unlink a cancelled call left behind), then joins, and
// each thread frees OpenSSL's state of its own before it ends.
class blocking_pool {
public:
    explicit blocking_pool(std::size_t threads);
    ~blocking_pool();
    blocking_pool(const blocking_pool&) = delete;
    blocking_pool& operator=(const blocking_pool&) = delete;

    boost::asio::any_io_executor get_executor() { return ctx_.get_executor(); }
    std::size_t size() const noexcept { return threads_.size(); }
    bool running_in_this_thread() noexcept { return ctx_.get_executor().running_in_this_thread(); }

private:
    boost::asio::io_context ctx_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::vector<std::thread> threads_;  // last: started once the rest is ready
};

// Whether a sync on this file can wait on a device at all (false on tmpfs and ramfs, where the
// hop to the pool would cost more than the call).
bool may_block_on_sync(int fd);

// Closes `fd` on `pool`, without waiting: the last close of an unlinked big file frees its
// blocks, and ext4 starts writing back a file truncated earlier when it is closed.
void close_on_pool(const boost::asio::any_io_executor& pool, int fd);

// An owned descriptor closed on a pool, which must outlive it.
class pool_fd {
public:
    pool_fd() = default;
    pool_fd(int fd, boost::asio::any_io_executor pool) : fd_(fd), pool_(std::move(pool)) {}
    pool_fd(pool_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)), pool_(std::move(o.pool_)) {}
    pool_fd& operator=(pool_fd&& o) noexcept {
        if (this != &o) {
            if (fd_ >= 0) close_on_pool(pool_, fd_);
            fd_ = std::exchange(o.fd_, -1);
            pool_ = std::move(o.pool_);
        }
        return *this;
    }
    pool_fd(const pool_fd&) = delete;
    pool_fd& operator=(const pool_fd&) = delete;
    ~pool_fd() {
        if (fd_ >= 0) close_on_pool(pool_, fd_);
    }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
    boost::asio::any_io_executor pool_;
};

namespace detail {

template <class R>
struct blocking_result {
    std::optional<R> value;
};
template <>
struct blocking_result<void> {};

// One job's completion. The job's end and the caller's cancellation race for the handler; the
// loser does nothing. The handler always runs on its own executor, and clears the slot there
// itself (awaitable handlers do), so the slot is never touched from the pool.
template <class Handler, class WorkExecutor>
struct blocking_op {
    blocking_op(Handler h, WorkExecutor w)
        : handler(std::move(h)), work(std::move(w)) {}

    void complete(std::exception_ptr e) {
        std::optional<Handler> h;
        std::optional<WorkExecutor> w;
        {
            std::lock_guard lk(mu);
            if (!handler) return;
            h.emplace(std::move(*handler));
            handler.reset();
            w.emplace(std::move(*work));
            work.reset();
        }
        // From here the caller's executor is busy with this completion only, not with the job:
        // after a cancellation its io_context may run out of work while the job goes on.
        boost::asio::post(*w, [h = std::move(*h), e]() mutable { std::move(h)(e); });
    }

    std::mutex mu;
    std::optional<Handler> handler;
    std::optional<WorkExecutor> work;  // keeps the caller's executor from running out of work meanwhile
};

template <class F, class R>
struct blocking_init {
    template <class Handler>
    void operator()(Handler&& handler, boost::asio::any_io_executor pool, F f,
                    std::shared_ptr<blocking_result<R>> result) const {
        namespace asio = boost::asio;
        using H = std::decay_t<Handler>;
        auto ex = asio::get_associated_executor(handler);
        auto work = asio::prefer(ex, asio::execution::outstanding_work.tracked);
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto op = std::make_shared<blocking_op<H, decltype(work)>>(std::forward<Handler>(handler), std::move(work));
        if (slot.is_connected()) {
            slot.assign([weak = std::weak_ptr(op)](asio::cancellation_type t) {
                if ((t & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                          asio::cancellation_type::total)) == asio::cancellation_type::none)
                    return;
                if (auto o = weak.lock())
                    o->complete(std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted)));
            });
        }
        asio::post(pool, [op, f = std::move(f), result]() mutable {
            std::exception_ptr e;
            try {
                if constexpr (std::is_void_v<R>) f();
                else result->value.emplace(f());
            } catch (...) {
                e = std::current_exception();
            }
            op->complete(e);
        });
    }
};

}  // namespace detail

// Runs `f()` on `pool` and resumes the caller on its own executor with f's result or exception.
// A cancellation of the caller resumes it at once with operation_aborted while `f` runs on to
// its end (a call that has started is never torn): `f` must own what it touches.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> co_blocking(boost::asio::any_io_executor pool, F f) {
    namespace asio = boost::asio;
    using R = std::invoke_result_t<F&>;
    auto result = std::make_shared<detail::blocking_result<R>>();
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr)>(
        detail::blocking_init<F, R>{}, asio::use_awaitable, std::move(pool), std::move(f), result);
    if constexpr (!std::is_void_v<R>) co_return std::move(*result->value);
}

namespace detail {

struct to_end_init {
    template <class Handler>
    void operator()(Handler handler, boost::asio::any_io_executor pool, std::function<void(const std::atomic<bool>&)> f) const {
        namespace asio = boost::asio;
        auto stop = std::make_shared<std::atomic<bool>>(false);
        auto slot = asio::get_associated_cancellation_slot(handler);
        if (slot.is_connected()) slot.assign([stop](asio::cancellation_type) { *stop = true; });
        auto work = asio::prefer(asio::get_associated_executor(handler), asio::execution::outstanding_work.tracked);
        asio::post(pool, [f = std::move(f), stop, handler = std::move(handler), work = std::move(work)]() mutable {
            std::exception_ptr e;
            try {
                f(*stop);
            } catch (...) {
                e = std::current_exception();
            }
            auto w = std::move(work);
            asio::post(w, [handler = std::move(handler), e]() mutable { std::move(handler)(e); });
        });
    }
};

}  // namespace detail

// Runs `f(stop)` on `pool` and resumes the caller once it has ended, with its exception if any,
// also when the caller is cancelled: then `stop` becomes true (f may check it and end early).
// For jobs that write into the caller's objects. A cancellation never reaches into the pool: a
// coroutine resumed there would throw operation_aborted on a pool thread, outside any handler.
inline boost::asio::awaitable<void> co_blocking_to_end(boost::asio::any_io_executor pool,
                                                       std::function<void(const std::atomic<bool>& stop)> f) {
    namespace asio = boost::asio;
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr)>(
        detail::to_end_init{}, asio::use_awaitable, std::move(pool), std::move(f));
}

}  // namespace hfhub::util
