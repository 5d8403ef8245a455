// The pool's bookkeeping, without sockets or locks: slots per key and in all, idle connections
// newest last, expiry, the eviction of another host's idle connection at the total cap, and the
// counters. `Conn` is anything owned by unique_ptr; the pool (pool.hpp) guards this with its
// mutex and does the waiting, and unit tests drive it with stand-in connections.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/config.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hfhub::http {

template <class Conn>
class pool_state {
public:
    using clock = std::chrono::steady_clock;

    explicit pool_state(const pool_config& cfg) : cfg_(cfg) {
        if (cfg_.per_host == 0) cfg_.per_host = 1;
        if (cfg_.total == 0) cfg_.total = 1;
    }

    struct taken {
        enum class kind {
            reused,  // `conn` is an idle connection, alive
            slot,    // a slot is held: open a connection in it
            full,    // no slot: wait for one to be given back
        } what = kind::full;
        std::unique_ptr<Conn> conn;
        // Idle connections given up on the way (expired, closed by the peer, evicted for this
        // key at the total cap), to be closed by the caller.
        std::vector<std::unique_ptr<Conn>> closed;
    };

    // A slot for `key` at `now`; `alive(Conn&)` says whether an idle connection still works.
    template <class Alive>
    taken take(const std::string& key, clock::time_point now, Alive&& alive) {
        taken out;
        host& h = hosts_[key];
        expire(h, now, out.closed);
        while (!h.idle.empty()) {
            // Newest first: the least likely to have been closed by the server.
            auto c = std::move(h.idle.back().conn);
            h.idle.pop_back();
            if (alive(*c)) {
                out.what = taken::kind::reused;
                out.conn = std::move(c);
                ++stats_.reused;
                return out;
            }
            out.closed.push_back(std::move(c));
            drop(h);
        }
        if (h.open < cfg_.per_host && open_ >= cfg_.total) evict_idle(out.closed);
        if (h.open < cfg_.per_host && open_ < cfg_.total) {
            ++h.open;
            ++open_;
            stats_.peak_open = std::max(stats_.peak_open, open_);
            out.what = taken::kind::slot;
        }
        return out;
    }

    // Gives back a slot of `key`. A reusable connection stays, idle since `now`; otherwise the
    // slot is freed and the connection returned, to be closed.
    std::unique_ptr<Conn> give_back(const std::string& key, std::unique_ptr<Conn> conn, bool reusable,
                                    clock::time_point now) {
        host& h = hosts_[key];
        if (conn && reusable) {
            h.idle.push_back({std::move(conn), now});
            return nullptr;
        }
        drop(h);
        return conn;
    }

    // Gives up every idle connection; slots in use stay.
    std::vector<std::unique_ptr<Conn>> clear() {
        std::vector<std::unique_ptr<Conn>> closed;
        for (auto& [k, h] : hosts_)
            while (!h.idle.empty()) {
                closed.push_back(std::move(h.idle.front().conn));
                h.idle.pop_front();
                drop(h);
            }
        return closed;
    }

    void note_opened() { ++stats_.opened; }

    pool_stats stats() const {
        pool_stats s = stats_;
        s.open = open_;
        s.idle = 0;
        for (auto& [k, h] : hosts_) s.idle += h.idle.size();
        return s;
    }

private:
    struct idle_conn {
        std::unique_ptr<Conn> conn;
        clock::time_point since;
    };
    struct host {
        std::size_t open = 0;
        std::deque<idle_conn> idle;  // oldest first
    };

    void drop(host& h) {
        --h.open;
        --open_;
    }

    void expire(host& h, clock::time_point now, std::vector<std::unique_ptr<Conn>>& closed) {
        while (!h.idle.empty() && now - h.idle.front().since > cfg_.idle_timeout) {
            closed.push_back(std::move(h.idle.front().conn));
            h.idle.pop_front();
            drop(h);
        }
    }

    // At the total cap: the oldest idle connection of another key gives its slot up (the
    // taker's own idle list is empty by then).
    void evict_idle(std::vector<std::unique_ptr<Conn>>& closed) {
        for (auto& [k, other] : hosts_)
            if (!other.idle.empty()) {
                closed.push_back(std::move(other.idle.front().conn));
                other.idle.pop_front();
                drop(other);
                return;
            }
    }

    pool_config cfg_;
    std::map<std::string, host> hosts_;
    std::size_t open_ = 0;
    pool_stats stats_;
};

}  // namespace hfhub::http
