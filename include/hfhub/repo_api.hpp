// Repo management: create and delete repos, branches and tags, change settings, open pull
// requests. Each co_ call has a blocking twin of the same name without the prefix (for callers
// that are not coroutines; on the client's own executor thread: would_deadlock). All throw hfhub::error.
//
// None of these requests is retried: like the Python client, a mutation whose answer was lost is
// reported, not sent twice.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/repo.hpp>

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>

namespace hfhub {

struct repo_url_info {
    std::string url;      // e.g. "https://huggingface.co/datasets/alice/data"
    std::string repo_id;  // always "namespace/name"
};

struct create_repo_options {
    repo_type type = repo_type::model;
    bool is_private = false;
    // An existing repo is success: its URL is returned. Also when the namespace is not writable
    // (401/402/403) but the repo can be read.
    bool exist_ok = false;
    std::optional<std::string> token;  // overrides the client's
    std::string space_sdk;  // spaces only: gradio, streamlit, docker or static; empty means "gradio"
};

struct delete_repo_options {
    repo_type type = repo_type::model;
    bool missing_ok = false;  // a missing repo (repo_not_found) is success
    std::optional<std::string> token;
};

struct branch_options {
    repo_type type = repo_type::model;
    std::optional<std::string> revision;  // the starting point; the server's default is main
    bool exist_ok = false;                // an existing branch is success (it is not moved)
    std::optional<std::string> token;
};

struct tag_options {
    repo_type type = repo_type::model;
    std::string revision = "main";  // what the tag points at: branch, tag or commit
    std::optional<std::string> message;
    bool exist_ok = false;  // an existing tag is success (it is not moved)
    std::optional<std::string> token;
};

struct ref_options {
    repo_type type = repo_type::model;
    std::optional<std::string> token;
};

struct repo_settings {
    repo_type type = repo_type::model;
    std::optional<bool> is_private;
    std::optional<std::string> gated;  // "auto", "manual" or "false"; other values go as given
    std::optional<std::string> token;
};

struct pull_request_options {
    repo_type type = repo_type::model;
    std::string title;
    std::string description;
    std::optional<std::string> token;
};

struct discussion_info {
    unsigned num = 0;
    std::string url;
    std::string git_ref;  // "refs/pr/N": commit to it to add to the pull request
};

// A repo_id without a namespace is created under the token's user.
boost::asio::awaitable<repo_url_info> co_create_repo(client& c, std::string repo_id, create_repo_options o = create_repo_options());
boost::asio::awaitable<void> co_delete_repo(client& c, std::string repo_id, delete_repo_options o = delete_repo_options());
// Branch and tag names are checked here (git's rules, no "refs/" prefix): client_errc::invalid_path.
boost::asio::awaitable<void> co_create_branch(client& c, std::string repo_id, std::string branch,
                                              branch_options o = branch_options());
boost::asio::awaitable<void> co_delete_branch(client& c, std::string repo_id, std::string branch, ref_options o = ref_options());
boost::asio::awaitable<void> co_create_tag(client& c, std::string repo_id, std::string tag, tag_options o = tag_options());
boost::asio::awaitable<void> co_delete_tag(client& c, std::string repo_id, std::string tag, ref_options o = ref_options());
boost::asio::awaitable<void> co_update_repo_settings(client& c, std::string repo_id, repo_settings s);
boost::asio::awaitable<discussion_info> co_create_pull_request(client& c, std::string repo_id,
                                                               pull_request_options o);
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<repo_url_info> co_create_repo(client& c, std::string repo_id, use_defaults) {
    return co_create_repo(c, std::move(repo_id));
}
inline boost::asio::awaitable<void> co_delete_repo(client& c, std::string repo_id, use_defaults) {
    return co_delete_repo(c, std::move(repo_id));
}
inline boost::asio::awaitable<void> co_create_branch(client& c, std::string repo_id, std::string branch, use_defaults) {
    return co_create_branch(c, std::move(repo_id), std::move(branch));
}
inline boost::asio::awaitable<void> co_delete_branch(client& c, std::string repo_id, std::string branch, use_defaults) {
    return co_delete_branch(c, std::move(repo_id), std::move(branch));
}
inline boost::asio::awaitable<void> co_create_tag(client& c, std::string repo_id, std::string tag, use_defaults) {
    return co_create_tag(c, std::move(repo_id), std::move(tag));
}
inline boost::asio::awaitable<void> co_delete_tag(client& c, std::string repo_id, std::string tag, use_defaults) {
    return co_delete_tag(c, std::move(repo_id), std::move(tag));
}
inline boost::asio::awaitable<void> co_update_repo_settings(client& c, std::string repo_id, use_defaults) {
    return co_update_repo_settings(c, std::move(repo_id), repo_settings());
}
inline boost::asio::awaitable<discussion_info> co_create_pull_request(client& c, std::string repo_id, use_defaults) {
    return co_create_pull_request(c, std::move(repo_id), pull_request_options());
}

repo_url_info create_repo(client& c, std::string repo_id, create_repo_options o = create_repo_options());
void delete_repo(client& c, std::string repo_id, delete_repo_options o = delete_repo_options());
void create_branch(client& c, std::string repo_id, std::string branch, branch_options o = branch_options());
void delete_branch(client& c, std::string repo_id, std::string branch, ref_options o = ref_options());
void create_tag(client& c, std::string repo_id, std::string tag, tag_options o = tag_options());
void delete_tag(client& c, std::string repo_id, std::string tag, ref_options o = ref_options());
void update_repo_settings(client& c, std::string repo_id, repo_settings s);
discussion_info create_pull_request(client& c, std::string repo_id, pull_request_options o);

}  // namespace hfhub
