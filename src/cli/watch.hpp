// `hfhub upload --watch DIR REPO`: each complete checkpoint folder in DIR becomes one commit.
#pragma once

#include <hfhub/commit.hpp>
#include <hfhub/config.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace hfhub::cli {

struct watch_settings {
    std::filesystem::path dir;
    std::string repo;
    std::string path_in_repo;             // prefix for every checkpoint; empty: the root
    std::string marker = ".complete";     // a file name, or a glob over the folder's own files
    bool upload_marker = false;
    std::string folders = "*";            // which subfolders are checkpoints (fnmatch)
    std::optional<std::uint64_t> max_commits;
    std::optional<std::chrono::milliseconds> idle_exit;
    std::chrono::milliseconds poll_interval{10000};
    bool use_inotify = true;
    bool json = false;
    bool quiet = false;     // nothing on stderr but errors
    bool progress = false;  // bars on stderr
    std::string message;    // "{folder}" is replaced by the folder's name
    push_options push;      // type, revision, private, patterns, create_pr, workers, description
};

int run_watch(const config& cfg, watch_settings s);

// The fields `--format json` prints for a commit.
boost::json::object commit_json(const std::string& repo_id, const commit_info& info);

// --- the folder side, in watch_dir.cpp ---

struct checkpoint_folder {
    std::string name;
    std::filesystem::path path;
    std::filesystem::file_time_type ready_at;  // the marker's time
};

// "ckpt-2" < "ckpt-10": runs of digits compare as numbers.
bool natural_less(const std::string& a, const std::string& b);

// Subfolders of `dir` (not hidden, not in `skip`) whose name matches `folders`, complete or
// not; `before_check` sees each before its marker is looked for. An empty marker: complete at
// once (for writers that rename finished folders into `dir`). Throws filesystem_error.
struct folder_scan {
    std::vector<checkpoint_folder> complete;    // sorted by ready_at, then natural name
    std::vector<std::filesystem::path> waiting;  // no marker yet
};
folder_scan scan_folders(const std::filesystem::path& dir, const std::string& folders, const std::string& marker,
                         const std::set<std::string>& skip,
                         const std::function<void(const std::filesystem::path&)>& before_check = {});

// Wakes up when something changes in `dir` or one of its subfolders (inotify), or after a
// timeout; without inotify, only the timeout. Not thread-safe: use from one strand.
class dir_watch {
public:
    dir_watch(boost::asio::any_io_executor ex, const std::filesystem::path& dir, bool use_inotify);
    ~dir_watch();
    bool inotify() const { return fd_.is_open(); }
    // Adds a subfolder to the watch (again is harmless), or forgets it.
    void add(const std::filesystem::path& sub);
    void remove(const std::filesystem::path& sub);
    // Returns after an event or `timeout`; a cancel() makes it return at once.
    boost::asio::awaitable<void> co_wait(std::chrono::milliseconds timeout);
    void cancel();

private:
    boost::asio::posix::stream_descriptor fd_;
    boost::asio::steady_timer timer_;
    std::map<std::string, int> watches_;
    std::vector<char> buf_;
};

}  // namespace hfhub::cli
