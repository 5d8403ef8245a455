// The Hub cache on disk, exactly as huggingface_hub lays it out (protocol reference 1.5 and 2),
// so Python, JS and hfhub share one cache. Paths are pure; the writers are atomic.
#pragma once

#include <hfhub/repo.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace hfhub::cache {

namespace fs = std::filesystem;

// 40 lower-case hex characters.
bool is_commit_hash(std::string_view s);

// The paths of one repo inside a hub cache root ($HF_HUB_CACHE). Every name joined below
// (etag, commit, revision, file) must be relative without "", "." or ".." segments, else
// hfhub::error(invalid_path): a path function never points outside the repo folder.
class repo_cache {
public:
    repo_cache(fs::path cache_root, repo_type t, std::string_view repo_id);

    const fs::path& root() const { return root_; }
    const fs::path& dir() const { return dir_; }                                  // root/models--org--name
    const std::string& folder() const { return folder_; }                         // models--org--name
    fs::path blob(std::string_view etag) const;                                   // dir/blobs/<etag>
    fs::path snapshot(std::string_view commit) const;                             // dir/snapshots/<commit>
    fs::path snapshot_file(std::string_view commit, std::string_view file) const;  // .../<commit>/<file>
    fs::path ref(std::string_view revision) const;                                // dir/refs/<rev>, '/' nests
    fs::path no_exist(std::string_view commit, std::string_view file) const;      // dir/.no_exist/<commit>/<file>
    fs::path lock(std::string_view etag) const;                                   // root/.locks/<folder>/<etag>.lock
    fs::path tree_cache(std::string_view commit) const;                           // dir/trees/<commit>.json

private:
    fs::path root_;
    fs::path dir_;
    std::string folder_;
};

// The commit a revision points to in the cache: the revision itself when it is a commit hash,
// else refs/<revision> read verbatim (nullopt when absent or not a commit hash, which no
// snapshot could be named after).
std::optional<std::string> resolve_cached_revision(const repo_cache& c, std::string_view revision);

// Writes refs/<revision> = commit (no newline) atomically, only when it changed.
void write_ref(const repo_cache& c, std::string_view revision, std::string_view commit);

// Creates root/CACHEDIR.TAG if absent.
void ensure_cachedir_tag(const fs::path& root);

// Touches the .no_exist marker for a file known to be absent at a commit.
void mark_missing(const repo_cache& c, std::string_view commit, std::string_view file);

// Whether symlinks can be created under `root`: probed once per root (in root/.locks), cached.
bool symlinks_supported(const fs::path& root);

// Makes snapshots/<commit>/<file> point at `blob` with a relative symlink (one "../" per folder
// level). Where symlinks fail (probed once per cache root) or HF_HUB_DISABLE_SYMLINKS is set in
// the config, the blob is copied instead. Replaces an existing entry atomically.
void link_snapshot_file(const repo_cache& c, std::string_view commit, std::string_view file, const fs::path& blob,
                        bool allow_symlinks = true);

enum class cached_state { present, known_missing, unknown };
struct cache_lookup {
    cached_state state = cached_state::unknown;
    std::string commit;  // when the revision resolved in the cache
    fs::path path;       // when present
};
// What the cache alone says about (revision, file): the Python client's try_load_from_cache.
cache_lookup lookup(const repo_cache& c, std::string_view revision, std::string_view file);

}  // namespace hfhub::cache
