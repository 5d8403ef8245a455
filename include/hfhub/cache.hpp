// Cache tools: scan, delete revisions (blob reference counting), verify (re-hash), prune.
// They read and change the cache layout that Python, JS and hfhub share.
#pragma once

#include <hfhub/repo.hpp>

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace hfhub {

struct cached_file {
    std::string name;                  // path inside the repo
    std::filesystem::path file_path;   // in snapshots/
    std::filesystem::path blob_path;   // what it resolves to
    std::uint64_t size = 0;
};

struct cached_revision {
    std::string commit;
    std::set<std::string> refs;  // "main", "refs/pr/1", ...
    std::filesystem::path snapshot_path;
    std::vector<cached_file> files;
    std::uint64_t size_on_disk = 0;  // unique blobs of this revision
};

struct cached_repo {
    std::string repo_id;
    repo_type type = repo_type::model;
    std::filesystem::path repo_path;
    std::vector<cached_revision> revisions;
    std::uint64_t size_on_disk = 0;  // unique blobs of the repo
    std::uint64_t nb_files = 0;
};

struct cache_report {
    std::filesystem::path cache_dir;
    std::vector<cached_repo> repos;
    std::vector<std::string> warnings;          // corrupted repos, unreadable entries
    std::vector<std::filesystem::path> incomplete;  // blobs/*.incomplete left by downloads
    std::uint64_t size_on_disk = 0;
};

// Never throws for a damaged cache: damage becomes warnings. As in the Python client, a
// corrupted repo (dangling link, ref to a missing snapshot) is left out of `repos`.
cache_report scan_cache(const std::filesystem::path& cache_dir);

struct cache_plan {
    std::vector<std::filesystem::path> blobs;
    std::vector<std::filesystem::path> snapshots;
    std::vector<std::filesystem::path> refs;
    std::vector<std::filesystem::path> other;  // incomplete files, empty repo folders
    std::uint64_t freed_bytes = 0;
};

// What deleting these commits frees: blobs no other revision uses, their snapshots and the
// refs pointing at them; when no revision is left, the repo folder too (in `other`).
// Unknown commits are ignored.
cache_plan plan_delete_revisions(const cache_report& report, const std::vector<std::string>& commits);
// Revisions no ref points to, blobs no snapshot uses, and incomplete downloads.
cache_plan plan_prune(const cache_report& report);
// Removes the paths (already-missing ones are fine), then repo folders left with no snapshots
// and no blobs. A file in blobs/ whose etag lock a download holds is left alone.
void execute(const cache_plan& plan);

struct verify_report {
    std::uint64_t checked = 0;
    std::vector<std::filesystem::path> corrupted;  // blobs whose bytes don't hash to their name
    std::vector<std::filesystem::path> dangling;   // snapshot entries whose blob is missing
};
// Re-hashes every blob: sha256 for 64-hex names, git blob SHA-1 for 40-hex names.
verify_report verify_cache(const std::filesystem::path& cache_dir);

}  // namespace hfhub
