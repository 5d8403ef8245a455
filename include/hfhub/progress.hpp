// Progress, one model for every transfer: downloads report download_progress, uploads and mirrors
// report commit_progress, each through a handler in the call's options (which say where it is
// called from). A handler costs nothing when unset.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace hfhub {

// A download's events (co_hf_hub_download, co_snapshot_download).
struct download_progress {
    // bytes: `done` of `file`'s `total` bytes are in. Snapshots also report:
    // listed: `files_total` files of `total` bytes are selected, `files_cached` of them (with
    // `done` bytes) already there; finished: `file` is in place, verified when asked.
    enum class kind { bytes, listed, finished };
    std::string file;
    std::uint64_t done = 0;
    std::uint64_t total = 0;
    kind what = kind::bytes;
    std::uint64_t files_total = 0;
    std::uint64_t files_cached = 0;
};
using download_progress_handler = std::function<void(const download_progress&)>;
using progress_handler = download_progress_handler;  // download_options' name for it

// An upload's or a mirror's events: one stage after another, each with its own counts.
struct commit_progress {
    enum class stage { hashing, checking, uploading, committing, done };
    stage what = stage::hashing;
    std::string file;            // the file a step finished, when there is one
    std::uint64_t files_done = 0;
    std::uint64_t files_total = 0;
    std::uint64_t bytes_done = 0;  // hashed or uploaded (a mirror: fetched and sent), by stage
    std::uint64_t bytes_total = 0;
    // uploading: LFS objects the Hub already stores, so not sent; not in the totals above.
    std::uint64_t files_skipped = 0;
    std::uint64_t bytes_skipped = 0;
};
using commit_progress_handler = std::function<void(const commit_progress&)>;
using upload_progress = commit_progress;
using mirror_progress = commit_progress;
using mirror_progress_handler = commit_progress_handler;

}  // namespace hfhub
