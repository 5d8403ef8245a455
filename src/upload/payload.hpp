// The pure parts of a commit: path rules, the NDJSON payload, batching, folder plans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfhub::upload {

// Python's _validate_path_in_repo, then hfhub's path rules: a leading "/" or "./" goes;
// ".", "..", "../x", a ".git" or ".cache" segment and anything validate_repo_path refuses
// throw client_errc::invalid_path. A folder keeps no trailing '/'.
std::string path_in_repo(std::string_view raw, bool folder = false);

struct payload_header {
    std::string summary;
    std::string description;
    std::optional<std::string> parent_commit;
};

struct payload_op {
    enum class kind { file, lfs_file, deleted_file, deleted_folder };
    kind what = kind::file;
    std::string path;
    std::string content;  // file: the raw bytes (sent base64)
    std::string oid;      // lfs_file: sha256
    std::optional<std::uint64_t> size;  // lfs_file; copies of LFS files carry none
};

// One JSON object per line, every line ending in '\n', in the order given; a folder's path
// ends with '/'.
std::string commit_payload(const payload_header& h, const std::vector<payload_op>& ops);

// [begin, end) ranges of at most `size` items covering [0, n).
std::vector<std::pair<std::size_t, std::size_t>> batches(std::size_t n, std::size_t size);

// "pullRequestUrl" → N, for ".../discussions/N".
std::optional<unsigned> pr_number(std::string_view pr_url);

// An LFS action href on https://huggingface.co moves to the configured endpoint (the Hub
// answers with its public origin even behind a mirror).
std::string fix_endpoint(std::string href, std::string_view endpoint);

}  // namespace hfhub::upload
