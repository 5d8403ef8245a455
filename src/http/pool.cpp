#include "http/pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace hfhub::http {

namespace asio = boost::asio;

pool::pool(const pool_config& cfg) : cfg_(cfg) {
    if (cfg_.per_host == 0) cfg_.per_host = 1;
    if (cfg_.total == 0) cfg_.total = 1;
}

pool::~pool() = default;

void pool::prune(host& h) {
    auto now = std::chrono::steady_clock::now();
    while (!h.idle.empty() && now - h.idle.front()->idle_since > cfg_.idle_timeout) {
        h.idle.pop_front();
        --h.open;
        --open_;
    }
}

bool pool::try_take(const std::string& key, lease& out) {
    host& h = hosts_[key];
    prune(h);
    while (!h.idle.empty()) {
        // Newest first: the least likely to have been closed by the server.
        auto c = std::move(h.idle.back());
        h.idle.pop_back();
        if (c->alive()) {
            out.conn = std::move(c);
            out.reused = true;
            ++stats_.reused;
            return true;
        }
        --h.open;
        --open_;
    }
    if (h.open < cfg_.per_host && open_ >= cfg_.total) {
        // At the total cap: an idle connection to another host gives its slot up.
        for (auto& [k, other] : hosts_)
            if (&other != &h && !other.idle.empty()) {
                other.idle.pop_front();
                --other.open;
                --open_;
                break;
            }
    }
    if (h.open < cfg_.per_host && open_ < cfg_.total) {
        ++h.open;
        ++open_;
        stats_.peak_open = std::max(stats_.peak_open, open_);
        return true;
    }
    return false;
}

asio::awaitable<pool::lease> pool::acquire(const std::string& key) {
    lease out;
    out.key = key;
    for (;;) {
        std::shared_ptr<waiter> w;
        {
            std::lock_guard lk(mu_);
            if (try_take(key, out)) {
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
    std::unique_ptr<connection> closing;
    {
        std::lock_guard lk(mu_);
        host& h = hosts_[l.key];
        if (l.conn && l.conn->reusable()) {
            l.conn->idle_since = std::chrono::steady_clock::now();
            h.idle.push_back(std::move(l.conn));
        } else {
            closing = std::move(l.conn);
            --h.open;
            --open_;
        }
        l.held = false;
        wake_all();
    }
    // `closing` is destroyed outside the lock.
}

void pool::clear() {
    std::deque<std::unique_ptr<connection>> closing;
    std::lock_guard lk(mu_);
    for (auto& [k, h] : hosts_) {
        h.open -= h.idle.size();
        open_ -= h.idle.size();
        for (auto& c : h.idle) closing.push_back(std::move(c));
        h.idle.clear();
    }
    wake_all();
}

void pool::note_opened() {
    std::lock_guard lk(mu_);
    ++stats_.opened;
}

pool_stats pool::stats() const {
    std::lock_guard lk(mu_);
    pool_stats s = stats_;
    s.open = open_;
    s.idle = 0;
    for (auto& [k, h] : hosts_) s.idle += h.idle.size();
    return s;
}

}  // namespace hfhub::http
