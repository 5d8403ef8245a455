// A one-line progress bar on stderr, for terminals; silent otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>

namespace hfhub::cli {

class progress_bar {
public:
    explicit progress_bar(bool quiet) : quiet_(quiet), start_(std::chrono::steady_clock::now()) {}

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
    // For callers that count files themselves (mirroring, commits).
    void update_totals(std::uint64_t done, std::uint64_t total, std::uint64_t files_done, std::uint64_t files_total) {
        if (quiet_) return;
        std::lock_guard lk(mu_);
        draw(done, total, files_done, files_total, files_done == files_total);
    }
    void finish() {
        std::lock_guard lk(mu_);
        if (drawn_) std::fputc('\n', stderr);
        drawn_ = false;
    }

    static std::string human(std::uint64_t n) {
        const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
        double v = static_cast<double>(n);
        int u = 0;
        while (v >= 1024 && u < 4) v /= 1024, ++u;
        char buf[32];
        std::snprintf(buf, sizeof buf, u ? "%.1f%s" : "%.0f%s", v, units[u]);
        return buf;
    }

private:
    void draw(std::uint64_t d, std::uint64_t t, std::uint64_t complete, std::uint64_t files, bool force) {
        auto now = std::chrono::steady_clock::now();
        if (now - last_ < std::chrono::milliseconds(100) && !force) return;
        last_ = now;
        double secs = std::chrono::duration<double>(now - start_).count();
        double rate = secs > 0 ? d / secs : 0;
        double eta = rate > 0 && t > d ? (t - d) / rate : 0;
        int width = 30, filled = t ? static_cast<int>(width * static_cast<double>(d) / t) : 0;
        std::fprintf(stderr, "\r[%-*s] %6.1f%% %s/%s %s/s ETA %4.0fs  %llu/%llu files ", width,
                     std::string(filled, '#').c_str(), t ? 100.0 * d / t : 0.0, human(d).c_str(), human(t).c_str(),
                     human(static_cast<std::uint64_t>(rate)).c_str(), eta, static_cast<unsigned long long>(complete),
                     static_cast<unsigned long long>(files));
        drawn_ = true;
    }

    bool quiet_;
    bool drawn_ = false;
    std::mutex mu_;
    std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> files_;
    std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace hfhub::cli
