// Typed calls for the Hub's metadata endpoints. Each co_ call has a blocking twin of the same
// name without the prefix (for callers that are not coroutines; not from the client's own
// executor thread). All throw hfhub::error.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/repo.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hfhub {

struct lfs_info {
    std::string sha256;
    std::uint64_t size = 0;
    std::uint64_t pointer_size = 0;
};

struct last_commit_info {
    std::string id;
    std::string title;
    std::string date;  // ISO 8601
};

struct repo_file {
    std::string path;
    std::uint64_t size = 0;
    std::string blob_id;  // git blob SHA-1 (of the pointer for LFS files)
    std::optional<lfs_info> lfs;
    std::optional<last_commit_info> last_commit;  // with expand
    std::string etag() const { return lfs ? lfs->sha256 : blob_id; }  // the cache's blob name
};

struct repo_folder {
    std::string path;
    std::string tree_id;
};

using tree_entry = std::variant<repo_file, repo_folder>;

struct repo_metadata {
    std::string id;
    std::string sha;  // the commit the revision resolved to
    std::string author;
    std::string last_modified;
    std::string created_at;
    bool is_private = false;
    std::string gated;  // "false", "auto" or "manual"
    bool disabled = false;
    std::vector<repo_file> siblings;  // size, blob_id and lfs only with files_metadata
    // Downloads in the last 30 days, and since creation (the Hub sends this one only when
    // expanded); absent when the answer did not carry them, as for Spaces.
    std::optional<std::uint64_t> downloads;
    std::optional<std::uint64_t> downloads_all_time;
};

struct git_ref {
    std::string name;
    std::string ref;  // "refs/heads/main", "refs/tags/v1", "refs/pr/1"
    std::string target_commit;
};

struct repo_refs {
    std::vector<git_ref> branches;
    std::vector<git_ref> tags;
    std::vector<git_ref> converts;
    std::vector<git_ref> pull_requests;  // with include_pull_requests
};

struct commit_summary {
    std::string id;
    std::string title;
    std::string message;
    std::vector<std::string> authors;
    std::string date;
};

struct whoami_info {
    std::string name;
    std::string type;  // "user", "org", "app"
    std::string fullname;
    std::vector<std::string> orgs;
};

struct repo_query {
    repo_type type = repo_type::model;
    std::string revision = "main";  // branch, tag, 40-hex commit or refs/pr/N
    std::optional<std::string> token;  // overrides the client's
    std::optional<proxy_config> proxies;  // overrides the client's
    std::string user_agent_suffix;        // appended to the User-Agent, as http_request's
};

// repo_info with the Hub's expand: only the named properties come back, beside the id (e.g.
// {"downloads", "downloadsAllTime"}); the rest of repo_metadata stays empty, `sha` included.
// Names the Hub doesn't know for the repo type are a 400 from it.
struct repo_info_query : repo_query {
    std::vector<std::string> expand;
};

struct tree_query : repo_query {
    std::string path;  // a folder; empty for the root
    bool recursive = false;
    bool expand = false;  // adds last_commit to files
};

boost::asio::awaitable<repo_metadata> co_repo_info(client& c, std::string repo_id, repo_query q = repo_query(),
                                               bool files_metadata = false);
boost::asio::awaitable<repo_metadata> co_repo_info(client& c, std::string repo_id, repo_info_query q);
// Every page, following the Link header.
boost::asio::awaitable<std::vector<tree_entry>> co_list_repo_tree(client& c, std::string repo_id, tree_query q = tree_query());
// Entries for the given paths; missing paths are left out. Sent in batches of 500.
boost::asio::awaitable<std::vector<tree_entry>> co_get_paths_info(client& c, std::string repo_id,
                                                                  std::vector<std::string> paths, repo_query q = repo_query(),
                                                                  bool expand = false);
boost::asio::awaitable<repo_refs> co_list_repo_refs(client& c, std::string repo_id, repo_query q = repo_query(),
                                                    bool include_pull_requests = false);
// Newest first, every page.
boost::asio::awaitable<std::vector<commit_summary>> co_list_repo_commits(client& c, std::string repo_id,
                                                                         repo_query q = repo_query());
// HEAD on resolve: false on EntryNotFound; repo and revision errors still throw.
boost::asio::awaitable<bool> co_file_exists(client& c, std::string repo_id, std::string filename, repo_query q = repo_query());
boost::asio::awaitable<whoami_info> co_whoami(client& c, std::optional<std::string> token = {});
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<repo_metadata> co_repo_info(client& c, std::string repo_id, use_defaults,
                                                          bool files_metadata = false) {
    return co_repo_info(c, std::move(repo_id), repo_query(), files_metadata);
}
inline boost::asio::awaitable<std::vector<tree_entry>> co_list_repo_tree(client& c, std::string repo_id, use_defaults) {
    return co_list_repo_tree(c, std::move(repo_id));
}
inline boost::asio::awaitable<std::vector<tree_entry>> co_get_paths_info(client& c, std::string repo_id,
                                                                         std::vector<std::string> paths, use_defaults,
                                                                         bool expand = false) {
    return co_get_paths_info(c, std::move(repo_id), std::move(paths), repo_query(), expand);
}
inline boost::asio::awaitable<repo_refs> co_list_repo_refs(client& c, std::string repo_id, use_defaults,
                                                           bool include_pull_requests = false) {
    return co_list_repo_refs(c, std::move(repo_id), repo_query(), include_pull_requests);
}
inline boost::asio::awaitable<std::vector<commit_summary>> co_list_repo_commits(client& c, std::string repo_id,
                                                                                use_defaults) {
    return co_list_repo_commits(c, std::move(repo_id));
}
inline boost::asio::awaitable<bool> co_file_exists(client& c, std::string repo_id, std::string filename, use_defaults) {
    return co_file_exists(c, std::move(repo_id), std::move(filename));
}

repo_metadata repo_info(client& c, std::string repo_id, repo_query q = repo_query(), bool files_metadata = false);
repo_metadata repo_info(client& c, std::string repo_id, repo_info_query q);
std::vector<tree_entry> list_repo_tree(client& c, std::string repo_id, tree_query q = tree_query());
std::vector<tree_entry> get_paths_info(client& c, std::string repo_id, std::vector<std::string> paths,
                                       repo_query q = repo_query(), bool expand = false);
repo_refs list_repo_refs(client& c, std::string repo_id, repo_query q = repo_query(), bool include_pull_requests = false);
std::vector<commit_summary> list_repo_commits(client& c, std::string repo_id, repo_query q = repo_query());
bool file_exists(client& c, std::string repo_id, std::string filename, repo_query q = repo_query());
whoami_info whoami(client& c, std::optional<std::string> token = {});

}  // namespace hfhub
