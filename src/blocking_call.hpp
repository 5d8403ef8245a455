// The blocking twin of a public co_ call, in one place. The operation runs on a thread of the
// client's own (started on first use, joined with the client), never on the client's executor:
// a script's main() runs nothing, and a service's I/O thread must not wait on itself.
// And the client's blocking pool, where the disk and CPU work of every call goes.
#pragma once

#include <hfhub/client.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>

#include <utility>

namespace hfhub::detail {

struct blocking_access {
    // The executor blocking calls of `c` run on; throws client_errc::would_deadlock when this
    // thread runs it, or runs the client's own executor (the call could wait on a lock or a
    // connection that only this thread would release).
    static boost::asio::any_io_executor enter(client& c);
    // The same refusal for a second client the operation uses, without starting its thread.
    static void refuse_on_executor(client& c);
    // The client's blocking pool (config::blocking_threads threads, started on first use and
    // joined with the client): serialising, hashing local files, fsync, renames, unlinks.
    static boost::asio::any_io_executor pool(client& c);
};

inline boost::asio::any_io_executor blocking_executor(client& c) { return blocking_access::pool(c); }

template <class T>
T run_blocking(client& c, boost::asio::awaitable<T> op) {
    auto ex = blocking_access::enter(c);
    return boost::asio::co_spawn(ex, std::move(op), boost::asio::use_future).get();
}

}  // namespace hfhub::detail
