#include "http/pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace hfhub::http {

namespace asio = boost::asio;

pool::pool(const pool_config& cfg) : state_(cfg) {}

pool::~pool() = default;

asio::awaitable<pool::lease> pool::acquire(const std::string& key) {
    lease out;
    out.key = key;
    for (;;) {
        std::shared_ptr<waiter> w;
        pool_state<connection>::taken t;  // what it closes goes after the lock
        {
            std::lock_guard lk(mu_);
            t = state_.take(key, std::chrono::steady_clock::now(), [](connection& c) { return c.alive(); });
            if (t.what != pool_state<connection>::taken::kind::full) {
                out.conn = std::move(t.conn);
                out.reused = out.conn != nullptr;
                out.held = true;
                co_return out;
            }
            w = std::make_shared<waiter>(co_await asio::this_coro::executor);
            waiters_.push_back(w);
        }
        co_await w->wake.async_receive(asio::as_tuple(asio::use_awaitable));
        std::lock_guard lk(mu_);
        if (!w->woken) {
            // Cancelled while waiting: leave the queue.
            std::erase(waiters_, w);
            throw hfhub::error(client_errc::cancelled, {.client_message = "cancelled while waiting for a connection"});
        }
    }
}

void pool::wake_all() {
    for (auto& w : waiters_) {
        w->woken = true;
        w->wake.try_send(boost::system::error_code{});
    }
    waiters_.clear();
}

void pool::release(lease& l) {
    if (!l.held) return;
    std::unique_ptr<connection> closing;  // destroyed outside the lock
    bool reusable = l.conn && l.conn->reusable();
    std::lock_guard lk(mu_);
    closing = state_.give_back(l.key, std::move(l.conn), reusable, std::chrono::steady_clock::now());
    l.held = false;
    wake_all();
}

void pool::clear() {
    std::vector<std::unique_ptr<connection>> closing;
    std::lock_guard lk(mu_);
    closing = state_.clear();
    wake_all();
}

void pool::note_opened() {
    std::lock_guard lk(mu_);
    state_.note_opened();
}

pool_stats pool::stats() const {
    std::lock_guard lk(mu_);
    return state_.stats();
}

}  // namespace hfhub::http
