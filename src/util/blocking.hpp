// Calls that block on the disk (fsync, the renames that publish a file, truncating or closing a
// big file) and waits on helper threads run on a small process-wide pool: on an I/O thread they
// would stall every transfer and timer it serves meanwhile, and several syncs at once let the
// file system commit them together.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

namespace hfhub::util {

boost::asio::any_io_executor blocking_executor();

// Whether a sync on this file can wait on a device at all (false on tmpfs and ramfs, where the
// hop to the pool would cost more than the call).
bool may_block_on_sync(int fd);

// Closes `fd` on the pool, without waiting: the last close of an unlinked big file frees its
// blocks, and ext4 starts writing back a file truncated earlier when it is closed.
void close_on_pool(int fd);

// An owned descriptor closed on the pool.
class pool_fd {
public:
    pool_fd() = default;
    explicit pool_fd(int fd) : fd_(fd) {}
    pool_fd(pool_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    pool_fd& operator=(pool_fd&& o) noexcept {
        if (this != &o) {
            if (fd_ >= 0) close_on_pool(fd_);
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    pool_fd(const pool_fd&) = delete;
    pool_fd& operator=(const pool_fd&) = delete;
    ~pool_fd() {
        if (fd_ >= 0) close_on_pool(fd_);
    }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }

private:
    int fd_ = -1;
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
    void operator()(Handler&& handler, F f, std::shared_ptr<blocking_result<R>> result) const {
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
        asio::post(blocking_executor(), [op, f = std::move(f), result]() mutable {
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

// Runs `f()` on the pool and resumes the caller on its own executor with f's result or exception.
// A cancellation of the caller resumes it at once with operation_aborted while `f` runs on to
// its end (a call that has started is never torn): `f` must own what it touches.
template <class F>
boost::asio::awaitable<std::invoke_result_t<F&>> co_blocking(F f) {
    namespace asio = boost::asio;
    using R = std::invoke_result_t<F&>;
    auto result = std::make_shared<detail::blocking_result<R>>();
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(std::exception_ptr)>(
        detail::blocking_init<F, R>{}, asio::use_awaitable, std::move(f), result);
    if constexpr (!std::is_void_v<R>) co_return std::move(*result->value);
}

}  // namespace hfhub::util
