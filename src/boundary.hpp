// The edge of every public co_ call: whatever escapes from below leaves as an hfhub::error.
//
// A public co_ function is a plain function that takes its arguments by value and returns
// co_public(co_impl(std::move(args)...)): the inner coroutine owns its arguments in its frame,
// and the caller sees one error type. Asio reports a cancellation as operation_aborted from
// whichever co_await noticed it; here that becomes client_errc::cancelled.
#pragma once

#include <hfhub/error.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <exception>
#include <filesystem>
#include <type_traits>
#include <utility>

namespace hfhub::detail {

// Rethrows the exception in flight as an hfhub::error, unless it is one already or is not an
// error of the library's layers at all (a user callback's exception, bad_alloc).
[[noreturn]] inline void rethrow_typed() {
    try {
        throw;
    } catch (const hfhub::error&) {
        throw;
    } catch (const boost::system::system_error& e) {
        if (e.code() == boost::asio::error::operation_aborted)
            throw hfhub::error(client_errc::cancelled, {.client_message = "cancelled"});
        throw hfhub::error(client_errc::io_error, {.client_message = e.what()});
    } catch (const std::filesystem::filesystem_error& e) {
        throw hfhub::error(client_errc::io_error, {.client_message = e.what()});
    } catch (const std::system_error& e) {
        if (e.code() == std::errc::operation_canceled)
            throw hfhub::error(client_errc::cancelled, {.client_message = "cancelled"});
        throw hfhub::error(client_errc::io_error, {.client_message = e.what()});
    }
}

template <class T>
boost::asio::awaitable<T> co_public(boost::asio::awaitable<T> op) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(op);
            co_return;
        } else {
            co_return co_await std::move(op);
        }
    } catch (...) {
        rethrow_typed();
    }
}

}  // namespace hfhub::detail
