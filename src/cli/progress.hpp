// Progress on stderr for a person at a terminal; silent otherwise.
// Every redraw is "\r" + a line fitted to the width + ESC[K, so a shorter line never leaves
// the tail of a longer one, and nothing wraps.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "cli/interrupt.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

namespace hfhub::cli {

// What stderr can show.
struct terminal {
    // Bars need a terminal that understands "\r" and ESC[K: not a pipe, a file, or TERM=dumb.
    static bool bars_allowed(bool quiet) {
        if (quiet || !::isatty(STDERR_FILENO)) return false;
        const char* t = std::getenv("TERM");
        return !(t && std::string_view(t) == "dumb");
    }
    // https://no-color.org: set and not empty turns colour off.
    static bool colour_allowed() {
        const char* n = std::getenv("NO_COLOR");
        return !(n && *n);
    }
    // Read on every redraw, so a resize is followed without a SIGWINCH handler.
    static int width() {
        if (const char* c = std::getenv("COLUMNS")) {
            int n = std::atoi(c);
            if (n > 0) return n;
        }
        winsize ws{};
        if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
        return 80;
    }
};

inline std::string human(std::uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u ? "%.1f%s" : "%.0f%s", v, units[u]);
    return buf;
}

inline std::string human_time(double secs) {
    auto s = static_cast<long long>(std::llround(std::max(0.0, secs)));
    char buf[32];
    if (secs < 9.95) std::snprintf(buf, sizeof buf, "%.1fs", std::max(0.0, secs));
    else if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s / 60 % 60);
    return buf;
}

// The first `cols` characters of UTF-8 text (continuation bytes take no column).
inline std::string fit(const std::string& s, int cols) {
    int used = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && used++ == cols) return s.substr(0, i);
    }
    return s;
}

// Bytes per second, smoothed over about two seconds (an EWMA), so one slow or fast step
// does not swing the ETA.
class rate_meter {
public:
    void sample(std::uint64_t bytes, std::chrono::steady_clock::time_point now) {
        if (!started_) {
            started_ = true, last_ = now, last_bytes_ = bytes;
            return;
        }
        double dt = std::chrono::duration<double>(now - last_).count();
        if (dt < 0.05) return;
        double inst = bytes >= last_bytes_ ? (bytes - last_bytes_) / dt : 0;
        // Until two seconds have passed, the plain average so far: the first sample alone
        // would otherwise weigh on the estimate for seconds.
        elapsed_ += dt;
        double a = std::max(1 - std::exp(-dt / 2.0), dt / elapsed_);
        rate_ = have_ ? rate_ + a * (inst - rate_) : inst;
        have_ = true, last_ = now, last_bytes_ = bytes;
    }
    double rate() const { return rate_; }
    bool known() const { return have_; }

private:
    bool started_ = false, have_ = false;
    double rate_ = 0, elapsed_ = 0;
    std::uint64_t last_bytes_ = 0;
    std::chrono::steady_clock::time_point last_;
};

// One line per phase ("hashing 7 files", "committing", ...): redrawn in place while it runs,
// left on the screen with its final counts when the next phase begins. Thread-safe; a ticker
// redraws four times a second so elapsed time and ETA move in phases without events.
class phase_progress {
public:
    using clock = std::chrono::steady_clock;

    explicit phase_progress(bool on) : on_(on), colour_(on && terminal::colour_allowed()) {
        if (on_) ticker_ = std::thread([this] { tick(); });
    }
    ~phase_progress() {
        finish();
        if (ticker_.joinable()) {
            {
                std::lock_guard lk(mu_);
                stop_ = true;
            }
            cv_.notify_one();
            ticker_.join();
        }
    }
    phase_progress(const phase_progress&) = delete;
    phase_progress& operator=(const phase_progress&) = delete;

    bool on() const { return on_; }

    // Closes the running phase's line and starts `label`. Totals of zero: a phase without counts.
    void begin(std::string label, std::uint64_t files_total = 0, std::uint64_t bytes_total = 0,
               std::uint64_t files_done = 0, std::uint64_t bytes_done = 0) {
        if (!on_) return;
        std::lock_guard lk(mu_);
        close_locked();
        p_ = {};
        p_.label = std::move(label);
        p_.files_total = files_total, p_.bytes_total = bytes_total;
        p_.files_done = files_done, p_.bytes_done = bytes_done;
        p_.start = clock::now();
        active_ = true;
        // Bytes that were already there (cached, on the Hub) are not transfer speed.
        p_.base_bytes = bytes_done;
        meter_ = {};
        meter_.sample(bytes_done, p_.start);
        draw_locked(false);
    }
    void update(std::uint64_t files_done, std::uint64_t bytes_done) {
        if (!on_) return;
        std::lock_guard lk(mu_);
        if (!active_) return;
        p_.files_done = files_done, p_.bytes_done = bytes_done;
        auto now = clock::now();
        meter_.sample(bytes_done, now);
        if (now - last_draw_ < std::chrono::milliseconds(100) && !complete()) return;
        draw_locked(false);
    }
    // Leaves the running phase's line with its final counts.
    void finish() {
        if (!on_) return;
        std::lock_guard lk(mu_);
        close_locked();
    }
    // A line of its own under the phases (a note, a warning).
    void say(const std::string& line) {
        if (!on_) return;
        std::lock_guard lk(mu_);
        close_locked();
        std::fprintf(stderr, "%s\x1b[K\n", fit(line, terminal::width() - 1).c_str());
        std::fflush(stderr);
    }
    std::string label() {
        std::lock_guard lk(mu_);
        return active_ ? p_.label : std::string();
    }

private:
    struct phase {
        std::string label;
        std::uint64_t files_done = 0, files_total = 0, bytes_done = 0, bytes_total = 0, base_bytes = 0;
        clock::time_point start;
    };

    bool complete() const {
        return (p_.files_total || p_.bytes_total) && p_.files_done >= p_.files_total && p_.bytes_done >= p_.bytes_total;
    }

    void tick() {
        std::unique_lock lk(mu_);
        while (!stop_) {
            cv_.wait_for(lk, std::chrono::milliseconds(250));
            if (!stop_ && active_ && clock::now() - last_draw_ >= std::chrono::milliseconds(200)) draw_locked(false);
        }
    }

    void close_locked() {
        if (!active_) return;
        draw_locked(true);
        std::fputc('\n', stderr);
        std::fflush(stderr);
        interrupt::mid_line = false;
        active_ = false;
    }

    void draw_locked(bool final) {
        auto now = clock::now();
        last_draw_ = now;
        double secs = std::chrono::duration<double>(now - p_.start).count();
        std::string rest;
        bool counted = p_.files_total || p_.bytes_total;
        int cols = terminal::width() - 1;  // the last column would wrap on some terminals
        char buf[64];
        if (counted) {
            if (!final && cols >= 70 && p_.bytes_total) {
                int w = 20, filled = static_cast<int>(w * std::min(1.0, double(p_.bytes_done) / double(p_.bytes_total)));
                rest += "  [" + std::string(filled, '#') + std::string(w - filled, '.') + "]";
            }
            if (p_.files_total) rest += "  " + std::to_string(p_.files_done) + "/" + std::to_string(p_.files_total);
            if (p_.bytes_total) {
                rest += "  " + (final ? human(p_.bytes_done) : human(p_.bytes_done) + "/" + human(p_.bytes_total));
                if (!final && meter_.known()) {
                    rest += "  " + human(static_cast<std::uint64_t>(meter_.rate())) + "/s";
                    if (meter_.rate() > 0 && p_.bytes_total > p_.bytes_done)
                        rest += "  ETA " + human_time((p_.bytes_total - p_.bytes_done) / meter_.rate());
                }
            }
        }
        if (final) {
            std::uint64_t moved = p_.bytes_done - std::min(p_.bytes_done, p_.base_bytes);
            rest += "  done in " + human_time(secs);
            if (moved && secs >= 0.5) {
                std::snprintf(buf, sizeof buf, " (%s/s)", human(static_cast<std::uint64_t>(moved / secs)).c_str());
                rest += buf;
            }
        } else if (!counted || !meter_.known()) {
            rest += "  " + human_time(secs);
        }
        std::string line = fit(p_.label + rest, cols);
        // Colour only the phase name, and only when it is shown whole.
        if (colour_ && line.size() >= p_.label.size())
            line = "\x1b[1m" + p_.label + "\x1b[0m" + line.substr(p_.label.size());
        std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
        std::fflush(stderr);
        interrupt::mid_line = true;
    }

    bool on_, colour_;
    bool active_ = false, stop_ = false;
    std::mutex mu_;
    std::condition_variable cv_;
    std::thread ticker_;
    phase p_;
    rate_meter meter_;
    clock::time_point last_draw_;
};

// A single line summing per-key byte counts (upload --watch, where checkpoints overlap).
class progress_bar {
public:
    explicit progress_bar(bool quiet) : quiet_(quiet || !terminal::bars_allowed(false)), start_(std::chrono::steady_clock::now()) {}

    // Thread-safe; redraws at most ten times a second.
    void update(const std::string& file, std::uint64_t done, std::uint64_t total) {
        if (quiet_) return;
        std::lock_guard lk(mu_);
        files_[file] = {done, total};
        std::uint64_t d = 0, t = 0, complete = 0;
        for (auto& [_, v] : files_) {
            d += v.first;
            t += v.second;
            complete += v.first == v.second;
        }
        draw(d, t, complete, files_.size(), done == total);
    }
    void finish() {
        std::lock_guard lk(mu_);
        if (drawn_) std::fputc('\n', stderr);
        drawn_ = false;
    }

    static std::string human(std::uint64_t n) { return cli::human(n); }

private:
    void draw(std::uint64_t d, std::uint64_t t, std::uint64_t complete, std::uint64_t files, bool force) {
        auto now = std::chrono::steady_clock::now();
        if (now - last_ < std::chrono::milliseconds(100) && !force) return;
        last_ = now;
        meter_.sample(d, now);
        char buf[256];
        std::snprintf(buf, sizeof buf, "%5.1f%%  %s/%s  %s/s  %llu/%llu", t ? 100.0 * d / t : 0.0, human(d).c_str(),
                      human(t).c_str(), human(static_cast<std::uint64_t>(meter_.rate())).c_str(),
                      static_cast<unsigned long long>(complete), static_cast<unsigned long long>(files));
        std::fprintf(stderr, "\r%s\x1b[K", fit(buf, terminal::width() - 1).c_str());
        std::fflush(stderr);
        drawn_ = true;
    }

    bool quiet_;
    bool drawn_ = false;
    std::mutex mu_;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> files_;
    std::chrono::steady_clock::time_point start_, last_;
    rate_meter meter_;
};

}  // namespace hfhub::cli
