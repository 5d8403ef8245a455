// Calls that block on the disk (fsync, and the renames that publish a file) run on a small
// process-wide pool: on an I/O thread they would stall every transfer it serves meanwhile, and
// several at once let the file system commit them together.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <filesystem>

namespace hfhub::util {

boost::asio::any_io_executor blocking_executor();

// Whether a sync on this file can wait on a device at all (false on tmpfs and ramfs, where the
// hop to the pool would cost more than the call).
bool may_block_on_sync(int fd);

// Runs `f()` on the pool and resumes the caller with its result or its exception.
template <class F>
boost::asio::awaitable<void> co_blocking(F f) {
    co_await boost::asio::co_spawn(
        blocking_executor(), [&]() -> boost::asio::awaitable<void> {
            f();
            co_return;
        },
        boost::asio::use_awaitable);
}

}  // namespace hfhub::util
