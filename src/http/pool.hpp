// Connections kept alive per key (scheme, host, port, proxy), with per-host and total caps.
// A lease holds a slot: a pooled connection, or the right to open one. Giving it back wakes a
// waiter. The bookkeeping (pool_state.hpp) is under a mutex, so coroutines on several threads
// may share the pool.
#pragma once

#include "http/connection.hpp"
#include "http/pool_state.hpp"

#include <hfhub/client.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <string>

namespace hfhub::http {

class pool {
public:
    explicit pool(const pool_config& cfg);
    ~pool();

    struct lease {
        std::unique_ptr<connection> conn;  // null: open a new one in this slot
        std::string key;
        bool reused = false;
        bool held = false;
    };

    // Waits for a slot; throws hfhub::error(cancelled) if the awaiting coroutine is cancelled.
    boost::asio::awaitable<lease> acquire(const std::string& key);
    // Returns the slot. A connection that is `reusable()` goes back to the idle list.
    void release(lease& l);
    // Closes idle connections; further use is still allowed.
    void clear();

    pool_stats stats() const;
    void note_opened();

private:
    // A thread-safe channel, not a timer: a wake-up sent before the waiter starts waiting
    // is kept (capacity 1), where a timer's cancel from another thread would be lost.
    struct waiter {
        explicit waiter(boost::asio::any_io_executor ex) : wake(ex, 1) {}
        boost::asio::experimental::concurrent_channel<void(boost::system::error_code)> wake;
        bool woken = false;
    };
    void wake_all();  // under mu_

    mutable std::mutex mu_;
    pool_state<connection> state_;
    std::deque<std::shared_ptr<waiter>> waiters_;
};

}  // namespace hfhub::http
