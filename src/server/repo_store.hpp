// Repositories on disk: immutable commits holding full path tables, and one small mutable
// state file per repo (refs, discussions, visibility) swapped atomically. A commit becomes
// visible only through that swap, after every object it names is durable.
#pragma once

#include "server/object_store.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace hfhub::server {

enum class repo_type { model, dataset, space };

std::string_view type_name(repo_type t);    // "model"
std::string_view type_plural(repo_type t);  // "models"
std::string_view url_prefix(repo_type t);   // "", "datasets/", "spaces/"
std::optional<repo_type> parse_type(std::string_view singular);
std::optional<repo_type> parse_type_plural(std::string_view plural);

// The largest regular file a commit may add; bigger ones must go through LFS, as on the Hub.
inline constexpr std::uint64_t max_regular_file = 10ull * 1024 * 1024;

// Seconds since the epoch: the times commits, grants and discussions record.
std::int64_t now_seconds();

struct file_entry {
    std::string oid;         // git blob id (of the pointer file for LFS)
    std::uint64_t size = 0;  // the real size, LFS included
    std::string lfs_sha256;  // empty for regular files
    bool is_lfs() const { return !lfs_sha256.empty(); }
};
using tree_map = std::map<std::string, file_entry>;

struct commit {
    std::string id;
    std::vector<std::string> parents;
    std::string title;
    std::string message;
    std::string author;
    std::int64_t time = 0;
    tree_map files;

    // Git tree ids of every folder ("" is the root), computed once.
    const std::map<std::string, std::string>& folder_oids() const;

private:
    mutable std::once_flag folders_once_;
    mutable std::map<std::string, std::string> folders_;
};

struct tag_ref {
    std::string commit;
    std::string message;
};

// One entry of a discussion's timeline, as the Hub lists them in `events`.
struct discussion_event {
    std::string id;      // 24 hex
    std::string type;    // comment, status-change, title-change, commit
    std::string author;
    std::int64_t time = 0;
    std::string text;    // comment body, new status, new title, or commit subject
    std::string old;     // title-change: the previous title; commit: the oid
};

struct discussion {
    int num = 0;
    std::string title;
    std::string description;
    std::string author;
    bool is_pr = false;
    std::string status = "open";
    std::int64_t created = 0;
    std::string head;  // refs/pr/N's commit, for pull requests
    std::string base;          // main's head when the PR was opened; empty in older states
    std::string merge_commit;  // set once merged
    std::vector<discussion_event> events;
};

struct repo_state {
    bool is_private = false;
    std::string gated;                     // "", "auto" or "manual"
    std::vector<std::string> gate_access;  // users granted access to a gated repo
    bool xet_enabled = false;              // large files go through Xet (settings: xetEnabled)
    std::map<std::string, std::string> branches;
    std::map<std::string, tag_ref> tags;
    std::vector<discussion> discussions;

    const discussion* find_discussion(int num) const;
};

// What repo_info reports: downloads in the 30 days ending today, and since the repo was created.
struct download_counts {
    std::uint64_t last_30_days = 0;
    std::uint64_t all_time = 0;
};

// A repo's downloads per UTC day (days since the epoch), in memory and in a file in its folder.
// Each download appends one "<day> 1" line without fsync (a crash of the machine may lose the
// latest, a killed process does not); the file is rewritten as one "<day> <n>" line per day
// when loaded and whenever appends pile up, so it stays small.
class download_log {
public:
    // Reads `file` (absent: no downloads yet); later downloads go there.
    void open(const fs::path& file);
    void add(std::int64_t day);
    download_counts counts(std::int64_t today) const;
    // Downloads from now on are dropped: the folder is being moved or deleted.
    void close();

private:
    void compact_locked();

    mutable std::mutex mu_;
    fs::path file_;
    bool closed_ = true;
    std::map<std::int64_t, std::uint64_t> days_;
    std::uint64_t total_ = 0;
    std::size_t lines_ = 0;  // in the file
};

class repo {
public:
    repo_type type;
    std::string id;         // "ns/name"
    std::string object_id;  // 24 hex, the Hub's _id
    std::int64_t created = 0;
    fs::path dir;

    std::shared_ptr<const repo_state> state() const;
    download_log downloads;
    std::string ns() const { return id.substr(0, id.find('/')); }
    std::string name() const { return id.substr(id.find('/') + 1); }

private:
    friend class repo_store;
    mutable std::mutex state_mu_;
    std::shared_ptr<const repo_state> state_;
    std::mutex write_mu_;  // serializes writers: commits, ref and settings changes
    bool deleted_ = false;
    std::mutex cache_mu_;
    std::unordered_map<std::string, std::shared_ptr<const commit>> cache_;
};

// What a revision string names.
struct resolved_rev {
    std::string commit;
    enum class kind { branch, tag, pull_request, commit } how = kind::branch;
    std::string name;  // the branch, tag or "refs/pr/N"
};

struct commit_op {
    enum class kind { add_regular, add_lfs, delete_file, delete_folder } what = kind::add_regular;
    std::string path;
    std::string content;                // add_regular
    std::string sha256;                 // add_lfs
    std::optional<std::uint64_t> size;  // add_lfs; absent for a copy
};

struct commit_request {
    std::string revision;  // a branch, or refs/pr/N
    std::string summary;
    std::string description;
    std::optional<std::string> parent;  // 5..40 hex, checked against the head
    std::string author;
    bool create_pr = false;
    std::vector<commit_op> ops;
};

struct commit_result {
    std::string commit;
    std::optional<int> pr_num;
};

struct initial_file {
    std::string path;
    std::string content;
};

// One LFS object of a repo, as the lfs-files listing gives it.
struct lfs_file {
    std::string oid;  // sha256
    std::uint64_t size = 0;
    std::int64_t pushed = 0;  // when the repo was granted it
    std::string ref;          // a ref whose history names it ("refs/heads/main"), empty if none
    std::string filename;     // a path naming it there, empty if no commit does
};

struct lfs_grant_log {
    std::unordered_map<std::string, std::int64_t> granted;  // oid -> time granted, 0 if unknown
    std::unordered_set<std::string> revoked;
};

// The repo's grants file, in its folder.
fs::path lfs_grants_path(const fs::path& repo_dir);
// The repo's download counts, in its folder.
fs::path downloads_path(const fs::path& repo_dir);

class repo_store {
public:
    repo_store(fs::path root, lfs_storage& lfs, blob_store& blobs);

    std::shared_ptr<repo> find(repo_type t, std::string_view id);
    std::shared_ptr<repo> create(repo_type t, const std::string& id, bool is_private,
                                 const std::string& author, const std::vector<initial_file>& files,
                                 bool xet_enabled = false);
    bool remove(repo_type t, std::string_view id);
    // Renames `r` to `to` (another namespace or name) and remembers the old id, so old URLs
    // keep working through `moved_to`. Throws http_error (409) when `to` exists.
    std::shared_ptr<repo> move(repo& r, const std::string& to);
    // The id a repo that was moved away from `id` has now, if any (followed through chains).
    std::optional<std::string> moved_to(repo_type t, std::string_view id);

    std::shared_ptr<const commit> load_commit(repo& r, std::string_view id);
    std::optional<resolved_rev> resolve(repo& r, std::string_view rev);

    // All or nothing: throws http_error and changes nothing on any failure.
    commit_result apply_commit(repo& r, const commit_request& req);

    // Runs `edit` on a copy of the state and publishes it durably; `edit` may throw http_error.
    void update_state(repo& r, const std::function<void(repo_state&)>& edit);

    // Replaces `branch`'s history by one root commit holding its current files.
    std::string super_squash(repo& r, const std::string& branch, const std::string& message,
                             const std::string& author);
    // Merges pull request `num` into main: a fast-forward when main hasn't moved since the PR's
    // base, else a merge commit; throws http_error 409 naming the conflicting files.
    std::string merge_pr(repo& r, int num, const std::string& author, const std::string& comment);
    // First-parent history from `commit_id`, newest first.
    std::vector<std::shared_ptr<const commit>> history(repo& r, std::string_view commit_id,
                                                       std::size_t max);
    // The newest commit on first-parent history that changed `path` (a file).
    std::shared_ptr<const commit> last_change(repo& r, const std::shared_ptr<const commit>& c,
                                              const std::string& path);

    // The LFS objects a repo may name: those uploaded through it (bytes that hash to the oid
    // proved possession) and those its commits took in. Objects are stored once for all repos,
    // so without this an oid alone would open another repo's private object. Read once per
    // request: a batch or a commit naming thousands of objects must not read it per object.
    std::unordered_set<std::string> lfs_grants(const repo& r) const;
    // The grants with the time each was given (0 if unknown), and the oids permanently deleted
    // from the repo since (and not granted again).
    lfs_grant_log lfs_grant_history(const repo& r) const;
    // Appends the stored oids not in `granted` yet (and adds them there), in one O_APPEND
    // write: whole lines even beside another request's append.
    void grant_lfs(const repo& r, const std::vector<std::string>& oids, std::unordered_set<std::string>& granted);
    // Stores `file` (verified bytes of `sha256`) unless the store has the object, and grants it
    // to `r` if given, in one step against a purge. Returns false when `file` was not taken.
    bool put_lfs(const repo* r, const std::string& sha256, const fs::path& file);

    // The repo's LFS objects, newest grant first, with a path and ref that name each.
    std::vector<lfs_file> lfs_files(repo& r);
    // Permanently deletes `oids` from `r` (all granted to it, or a 404 and nothing changes):
    // drops its grants and, with `rewrite_history`, rewrites every ref's history without the
    // files that point at them. Bytes no other repo holds a grant for leave the store; returns
    // how many did.
    std::size_t purge_lfs(repo& r, const std::vector<std::string>& oids, bool rewrite_history);
    // Drops every repo's grants of objects that no ref's history references and that were
    // granted before `granted_before` (unix seconds); bytes no repo holds then leave the store.
    // Returns how many objects left the store.
    std::size_t sweep_unreferenced_lfs(std::int64_t granted_before);

    lfs_storage& lfs() { return lfs_; }
    blob_store& blobs() { return blobs_; }

private:
    fs::path repo_dir(repo_type t, std::string_view id) const;
    static std::string key_of(repo_type t, std::string_view id);  // case-insensitive map key
    void index_existing();
    // Calls fn(type, "ns/name", folder) for each repo folder under repos/, until fn returns false.
    void for_each_repo_dir(const std::function<bool(repo_type, const std::string&, const fs::path&)>& fn) const;
    std::shared_ptr<repo> load(repo_type t, std::string_view id);
    // Removes the objects of `gone` that no repo holds a grant for; returns how many went.
    std::size_t drop_unheld(std::unordered_set<std::string> gone);
    std::string write_commit(repo& r, const commit& c);
    void write_state(repo& r, const repo_state& s);

    fs::path root_;
    fs::path tmp_;
    lfs_storage& lfs_;
    blob_store& blobs_;
    std::shared_mutex map_mu_;
    std::map<std::string, std::shared_ptr<repo>, std::less<>> repos_;  // by key_of
    std::map<std::string, std::string, std::less<>> names_;             // key_of -> id on disk
    std::map<std::string, std::string, std::less<>> moved_;             // key_of -> new id
    std::mutex create_mu_;
    // Held across "is the object stored" and "grant it", and across a purge's "does any repo
    // hold it" and "remove it", so no grant is ever left without its bytes.
    std::mutex lfs_mu_;
};

// Canonical JSON of a commit's content (its id is this text's SHA-1), and the parser back.
std::string commit_json(const commit& c);
std::shared_ptr<commit> parse_commit(std::string_view id, std::string_view json);

}  // namespace hfhub::server
