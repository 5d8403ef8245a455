// The library's progress events as named phases with the real counts of each phase:
// "hashing 7 files", "uploading 6 LFS files (4 new, 2 already on the Hub)", "committing",
// "downloading 8 files (3 cached)", "verifying 2 files". What is already there counts as done.
#pragma once

#include "cli/progress.hpp"

#include <hfhub/progress.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace hfhub::cli {

inline std::string plural(std::uint64_t n, const std::string& what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// For commit_options::progress (upload) and mirror_options::progress.
class commit_phases {
public:
    // `sending`: what the uploading stage moves ("LFS file" for uploads, "file" for mirrors).
    commit_phases(phase_progress& bar, std::string sending) : bar_(bar), sending_(std::move(sending)) {}

    void operator()(const commit_progress& p) {
        if (!bar_.on()) return;
        using stage = commit_progress::stage;
        // A stage's first event starts its phase; the later ones count within it.
        bool first = !last_ || *last_ != p.what;
        last_ = p.what;
        switch (p.what) {
        case stage::hashing:
            if (first) bar_.begin("hashing " + plural(p.files_total, "file"), p.files_total, p.bytes_total);
            else bar_.update(p.files_done, p.bytes_done);
            break;
        case stage::checking:
            if (first) bar_.begin("checking what the Hub has");
            break;
        case stage::uploading:
            if (first) {
                skipped_files_ = p.files_skipped, skipped_bytes_ = p.bytes_skipped;
                std::uint64_t all = p.files_total + p.files_skipped;
                std::string label = "uploading " + plural(all, sending_);
                if (p.files_skipped) label += " (" + std::to_string(p.files_total) + " new, " + std::to_string(p.files_skipped) + " already on the Hub)";
                bar_.begin(label, all, p.bytes_total + p.bytes_skipped, p.files_skipped, p.bytes_skipped);
            } else {
                bar_.update(p.files_done + skipped_files_, p.bytes_done + skipped_bytes_);
            }
            break;
        case stage::committing:
            if (first) bar_.begin("committing");
            break;
        case stage::done:
            bar_.finish();
            break;
        }
    }

private:
    phase_progress& bar_;
    std::string sending_;
    std::uint64_t skipped_files_ = 0, skipped_bytes_ = 0;
    std::optional<commit_progress::stage> last_;
};

// For download_options::progress. A snapshot says what it selected first; a single file only
// sends its bytes.
class download_phases {
public:
    download_phases(phase_progress& bar, bool verify) : bar_(bar), verify_(verify) {}

    void operator()(const download_progress& p) {
        if (!bar_.on()) return;
        std::lock_guard lk(mu_);
        using kind = download_progress::kind;
        if (p.what == kind::listed) {
            listed_ = true;
            files_total_ = p.files_total, bytes_total_ = p.total;
            cached_files_ = p.files_cached, cached_bytes_ = p.done;
            std::string label = "downloading " + plural(files_total_, "file");
            if (cached_files_ == files_total_ && files_total_) label += " (all cached)";
            else if (cached_files_) label += " (" + std::to_string(cached_files_) + " cached)";
            bar_.begin(label, files_total_, bytes_total_, cached_files_, cached_bytes_);
            return;
        }
        if (!listed_ && !single_) {
            single_ = true, files_total_ = 1, bytes_total_ = p.total;
            bar_.begin("downloading 1 file", 1, p.total);
        }
        auto& f = files_[p.file];
        f.first = p.what == kind::finished ? p.total : p.done;
        if (p.what == kind::finished && !f.second) f.second = true, ++finished_;
        report();
    }
    // The call returned: every file is in place.
    void complete() {
        if (!bar_.on()) return;
        std::lock_guard lk(mu_);
        finished_ = files_total_ - cached_files_;
        report();
        bar_.finish();
    }

private:
    void report() {
        std::uint64_t bytes = cached_bytes_, unverified = 0;
        for (auto& [_, v] : files_) bytes += v.first;
        for (auto& [_, v] : files_) unverified += v.second ? 0 : v.first;
        std::uint64_t done = cached_files_ + finished_;
        // Every byte is in but big files are still being checked (parts read back and hashed):
        // say so. Small ones take no time worth a line.
        if (!verifying_ && bytes >= bytes_total_ && done < files_total_ && unverified >= (64ull << 20)) {
            verifying_ = true;
            verify_base_ = done;
            bar_.update(done, bytes);  // the download's line ends with every byte counted
            bar_.begin(std::string(verify_ ? "verifying " : "finishing ") + plural(files_total_ - done, "file"),
                       files_total_ - done);
            return;
        }
        if (verifying_) bar_.update(done - verify_base_, 0);
        else bar_.update(done, bytes);
    }

    phase_progress& bar_;
    bool verify_;
    std::mutex mu_;
    bool listed_ = false, single_ = false, verifying_ = false;
    std::uint64_t files_total_ = 0, bytes_total_ = 0, cached_files_ = 0, cached_bytes_ = 0, finished_ = 0,
                  verify_base_ = 0;
    std::map<std::string, std::pair<std::uint64_t, bool>> files_;  // bytes in, finished
};

}  // namespace hfhub::cli
