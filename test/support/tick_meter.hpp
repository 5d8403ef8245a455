// A 1 ms timer on the user's io_context, re-armed until stop(): how late its ticks run while
// a transfer shares the thread. A tick runs late when the I/O thread is blocked.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace hfhub::test {

class tick_meter {
public:
    using duration = std::chrono::steady_clock::duration;

    explicit tick_meter(boost::asio::io_context& ioc) : timer_(ioc) { arm(); }
    void stop() { done_ = true; }
    std::uint64_t ticks() const { return ticks_; }
    // Lateness less the time the thread sat runnable waiting for a CPU (see sched).
    duration worst() const { return worst_; }
    double worst_ms() const { return as_ms(worst_); }
    // Lateness as the clock saw it.
    double worst_raw_ms() const { return as_ms(worst_raw_); }

    std::string summary() const {
        std::ostringstream o;
        o << "worst tick " << worst_ms() << " ms late, of which the thread ran handlers " << as_ms(worst_busy_)
          << " ms and slept the rest (" << worst_raw_ms() << " ms by the clock, with waits for a CPU), over " << ticks_
          << " ticks";
        return o.str();
    }

    // The target: no tick more than 50 ms late. Sanitizers slow every step several times.
    static std::chrono::milliseconds bound() {
#ifdef HFHUB_SANITIZER
        return std::chrono::milliseconds(250);
#else
        return std::chrono::milliseconds(50);
#endif
    }

    // This thread's time on a CPU and time runnable but not running (schedstat's first two
    // fields). On a 2-core machine shared with the in-process server and other builds, the
    // second is the scheduler's, not the transfer's: a blocked I/O thread (an fsync, a join, a
    // big unlink) sleeps, and a busy one runs handlers, and both still count as late.
    struct sched_times {
        duration on_cpu{}, waiting{};
    };
    static sched_times sched() {
        std::ifstream f("/proc/thread-self/schedstat");
        std::uint64_t on_cpu = 0, waiting = 0;
        f >> on_cpu >> waiting;
        return {std::chrono::nanoseconds(on_cpu), std::chrono::nanoseconds(waiting)};
    }

private:
    static double as_ms(duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

    void arm() {
        auto due = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
        timer_.expires_at(due);
        // Armed and run on the same thread: the io_context the meter shares has one.
        timer_.async_wait([this, due, before = sched()](boost::system::error_code) {
            auto raw = std::chrono::steady_clock::now() - due;
            auto after = sched();
            auto late = raw - std::min(raw, after.waiting - before.waiting);
            worst_raw_ = std::max(worst_raw_, raw);
            if (late > worst_) {
                worst_ = late;
                worst_busy_ = after.on_cpu - before.on_cpu;
            }
            ++ticks_;
            if (!done_) arm();
        });
    }

    boost::asio::steady_timer timer_;
    bool done_ = false;
    std::uint64_t ticks_ = 0;
    duration worst_{};
    duration worst_raw_{};
    duration worst_busy_{};
};

}  // namespace hfhub::test
