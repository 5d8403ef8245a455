// Atomic commits: several adds, deletes and copies land as one commit or not at all.
// Files are hashed in one read pass (in parallel), the Hub says which it already has, LFS
// objects go up in parallel (basic or multipart), then one NDJSON commit. Each co_ call has a
// blocking twin without the prefix (any thread but the client's executor's: would_deadlock).
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/progress.hpp>
#include <hfhub/repo.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hfhub {

// What co_preupload_lfs_files learned about an add (its hashes; its LFS object is stored).
struct preuploaded_file;
// A file another process stored on the Hub (receipts.hpp).
struct upload_receipt;

// Adds or replaces a file, from a local file (streamed, never loaded whole) or from bytes.
struct commit_add {
    std::string path_in_repo;
    std::variant<std::filesystem::path, std::string> source;
    // Set by co_preupload_lfs_files; a commit then neither hashes the file again nor sends its
    // LFS object again. Reset it if the source changes.
    std::shared_ptr<const preuploaded_file> preuploaded;

    static commit_add file(std::string path_in_repo, std::filesystem::path local) {
        return {std::move(path_in_repo), std::move(local)};
    }
    static commit_add bytes(std::string path_in_repo, std::string content) {
        return {std::move(path_in_repo), std::move(content)};
    }
    // The file a receipt names, whose bytes need not be on this host. co_create_commit refuses
    // (client_errc::invalid_argument, before any request) a receipt made for another repo, repo
    // type or revision; an object the Hub no longer has fails the commit with
    // hub_errc::unprocessable naming the receipt's path.
    static commit_add from_receipt(const upload_receipt& r);
};

// Deletes a file, or a folder with everything under it (also when the path ends with '/').
struct commit_delete {
    std::string path_in_repo;
    bool is_folder = false;
};

// Copies a file inside the repo, from `src_revision` (default: the commit's revision).
struct commit_copy {
    std::string src_path_in_repo;
    std::string path_in_repo;
    std::optional<std::string> src_revision;
};

using commit_operation = std::variant<commit_add, commit_delete, commit_copy>;

// Objects per LFS batch call (and paths per preupload call) unless an option says otherwise.
inline constexpr std::size_t default_batch_size = 256;

struct commit_options {
    repo_type type = repo_type::model;
    std::string revision = "main";  // a branch, or refs/pr/N to add to an open pull request
    std::string commit_message;     // required by create_commit; the helpers have defaults
    std::string commit_description;
    // The commit only lands if the revision's head is still this commit (else precondition_failed).
    std::optional<std::string> parent_commit;
    bool create_pr = false;
    std::optional<std::string> token;
    unsigned max_workers = 8;  // files hashed and LFS objects (or parts) uploaded at once
    // On a stale parent_commit, re-read the head and retry when none of this commit's paths
    // changed in between; overlapping changes still fail with precondition_failed.
    bool rebase_on_conflict = false;
    // Split a commit bigger than the limits below into several, each atomic; a rerun after a
    // failure skips what already landed. Deletes go in the first commit.
    bool multi_commit = false;
    std::size_t max_files_per_commit = 1000;
    std::uint64_t max_regular_bytes_per_commit = 100ull << 20;
    std::size_t batch_size = default_batch_size;  // paths per preupload call and objects per LFS batch call
    commit_progress_handler progress;  // called from the client's executor or the hashing threads, serialised
};

struct commit_info {
    std::string oid;  // the new commit; when nothing changed, the unchanged head
    std::string url;  // E/[{T}s/]{repo}/commit/<oid>
    std::optional<std::string> pr_url;
    std::optional<unsigned> pr_num;
    bool changed = true;  // false: every file was already there, no commit was made
    std::uint64_t operations = 0;      // adds, deletes and copies sent (unchanged files left out)
    std::uint64_t files_uploaded = 0;  // LFS objects sent (not already stored)
    std::uint64_t bytes_uploaded = 0;
    unsigned commits = 1;  // more than one with multi_commit
};

// Errors: invalid_repo_id, invalid_path, precondition_failed (stale parent), repo_not_found,
// revision_not_found, entry_not_found (deleting or copying a missing path), conflict,
// payload_too_large, unprocessable, and the client's transport errors. Nothing is committed
// unless every step succeeded.
boost::asio::awaitable<commit_info> co_create_commit(client& c, std::string repo_id,
                                                     std::vector<commit_operation> operations,
                                                     commit_options opts);
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<commit_info> co_create_commit(client& c, std::string repo_id,
                                                            std::vector<commit_operation> operations, use_defaults) {
    return co_create_commit(c, std::move(repo_id), std::move(operations), commit_options());
}
commit_info create_commit(client& c, std::string repo_id, std::vector<commit_operation> operations,
                          commit_options opts);

// Hashes the adds and stores their LFS objects on the Hub now, so that a later
// co_create_commit with them only sends the commit: the next commit can be prepared while the
// previous one uploads. Returns the adds with `preuploaded` set (already set ones are not hashed
// again). Regular files are not kept in memory: the commit reads them again and fails with
// local_file_changed if they changed. `opts` must name the revision (and create_pr) the commit
// will use. Errors: those of co_create_commit before its commit step.
boost::asio::awaitable<std::vector<commit_add>> co_preupload_lfs_files(client& c, std::string repo_id,
                                                                       std::vector<commit_add> additions,
                                                                       commit_options opts);
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<std::vector<commit_add>> co_preupload_lfs_files(client& c, std::string repo_id,
                                                                              std::vector<commit_add> additions,
                                                                              use_defaults) {
    return co_preupload_lfs_files(c, std::move(repo_id), std::move(additions), commit_options());
}
std::vector<commit_add> preupload_lfs_files(client& c, std::string repo_id, std::vector<commit_add> additions,
                                            commit_options opts);

// One file. Default message: "Upload <path_in_repo> with hfhub".
boost::asio::awaitable<commit_info> co_upload_file(client& c, std::string repo_id, commit_add file,
                                                   commit_options opts = commit_options());
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<commit_info> co_upload_file(client& c, std::string repo_id, commit_add file,
                                                          use_defaults) {
    return co_upload_file(c, std::move(repo_id), std::move(file));
}
commit_info upload_file(client& c, std::string repo_id, commit_add file, commit_options opts = commit_options());

struct folder_options : commit_options {
    std::string path_in_repo;  // where the folder lands; empty: the root
    // Python's fnmatch semantics: '*' spans '/', a trailing '/' means everything under it.
    std::vector<std::string> allow_patterns;
    std::vector<std::string> ignore_patterns;
    // Remote files under path_in_repo matching these (relative to it) are deleted, except
    // .gitattributes and anything the upload adds.
    std::vector<std::string> delete_patterns;
};

// Uploads every matching file under `folder` (sorted; .git/ and .cache/huggingface/ are always
// left out). Default message: "Upload folder using hfhub".
boost::asio::awaitable<commit_info> co_upload_folder(client& c, std::string repo_id,
                                                     std::filesystem::path folder, folder_options opts = folder_options());
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<commit_info> co_upload_folder(client& c, std::string repo_id,
                                                            std::filesystem::path folder, use_defaults) {
    return co_upload_folder(c, std::move(repo_id), std::move(folder));
}
commit_info upload_folder(client& c, std::string repo_id, std::filesystem::path folder, folder_options opts = folder_options());

struct push_options : folder_options {
    bool is_private = false;  // when the repo has to be created
};

// Creates the repo unless it exists (and the branch, when `revision` names a missing one),
// then uploads the folder as one commit. Default message: "Push model using hfhub".
boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, std::filesystem::path folder,
                                                   push_options opts = push_options());
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id,
                                                          std::filesystem::path folder, use_defaults) {
    return co_push_to_hub(c, std::move(repo_id), std::move(folder));
}
commit_info push_to_hub(client& c, std::string repo_id, std::filesystem::path folder, push_options opts = push_options());

// What upload_folder would commit, given the local files (relative, '/'-separated) and the
// remote paths: adds first (sorted), then deletes. Pure, for tests and dry runs.
struct folder_plan {
    std::vector<std::string> upload;     // local relative paths
    std::vector<std::string> delete_paths;  // remote paths
};
folder_plan plan_folder(const std::vector<std::string>& local_files, const std::vector<std::string>& remote_files,
                        const folder_options& opts);

}  // namespace hfhub
