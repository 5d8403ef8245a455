// sendfile(2) to a TCP socket from coroutines: the kernel moves page-cache pages to the socket
// with no copy through user space. Shared by the client's uploads and the server's downloads.
#pragma once

#include "util/sigpipe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <variant>

#include <sys/sendfile.h>

namespace hfhub::util {

// Sends `left` bytes of `fd` from `off`, advancing both. Returns:
//   {}                                 everything was sent;
//   errc::operation_not_supported      the kernel can't for this file, and nothing was sent
//                                      (the caller copies instead);
//   asio::error::timed_out             the socket took no bytes for `timeout`;
//   errc::io_error                     the file ended early;
//   anything else                      the socket's error.
template <class Socket>
boost::asio::awaitable<boost::system::error_code> co_sendfile(Socket& sock, int fd, std::uint64_t& off,
                                                              std::uint64_t& left, std::chrono::milliseconds timeout) {
    namespace asio = boost::asio;
    using boost::system::error_code;
    using boost::system::errc::make_error_code;
    if (!sock.native_non_blocking()) sock.native_non_blocking(true);
    bool sent_any = false;
    while (left > 0) {
        auto pos = static_cast<off_t>(off);
        std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, 1u << 30));
        ssize_t n;
        {
            sigpipe_blocked guard;  // sendfile has no MSG_NOSIGNAL: a closed peer must not kill us
            n = ::sendfile(sock.native_handle(), fd, &pos, want);
        }
        if (n > 0) {
            sent_any = true;
            off += static_cast<std::uint64_t>(n);
            left -= static_cast<std::uint64_t>(n);
            continue;
        }
        if (n == 0) co_return make_error_code(boost::system::errc::io_error);
        int err = errno;
        if (err == EINTR) continue;
        if ((err == EINVAL || err == ENOSYS) && !sent_any)
            co_return make_error_code(boost::system::errc::operation_not_supported);
        if (err != EAGAIN && err != EWOULDBLOCK) co_return error_code(err, boost::system::system_category());
        // The socket buffer is full: wait until it drains, within the same timeout as a write.
        using namespace asio::experimental::awaitable_operators;
        asio::steady_timer timer(sock.get_executor());
        timer.expires_after(timeout);
        constexpr auto tuple = asio::as_tuple(asio::use_awaitable);
        auto which = co_await (sock.async_wait(asio::socket_base::wait_write, tuple) || timer.async_wait(tuple));
        if (which.index() == 1) co_return asio::error::timed_out;
        if (auto [ec] = std::get<0>(which); ec) co_return ec;
    }
    co_return error_code{};
}

}  // namespace hfhub::util
