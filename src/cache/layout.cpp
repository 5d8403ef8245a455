#include "cache/layout.hpp"

#include "util/fs.hpp"

#include <hfhub/error.hpp>

#include <cerrno>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace hfhub::cache {
namespace {

[[noreturn]] void bad_path(std::string_view what, std::string_view value) {
    throw hfhub::error(client_errc::invalid_path, {.client_message = std::string(what) + " '" + std::string(value) + "'"});
}

// Appends '/'-separated `rel` to `base` one segment at a time: fs::path's operator/ would
// let an absolute `rel` replace `base`, and ".." would climb out of the cache.
fs::path join(fs::path base, std::string_view rel, std::string_view what) {
    if (rel.empty()) bad_path(what, rel);
    std::size_t pos = 0;
    for (;;) {
        std::size_t slash = rel.find('/', pos);
        std::string_view seg = rel.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
        if (seg.empty() || seg == "." || seg == ".." || seg.find('\0') != std::string_view::npos) bad_path(what, rel);
        base /= std::string(seg);
        if (slash == std::string_view::npos) break;
        pos = slash + 1;
    }
    return base;
}

fs::path join_one(fs::path base, std::string_view name, std::string_view what) {
    if (name.find('/') != std::string_view::npos) bad_path(what, name);
    return join(std::move(base), name, what);
}

fs::path temp_beside(const fs::path& target) {
    fs::path tmp = target.parent_path();
    tmp /= "." + target.filename().string() + ".tmp." + util::unique_suffix();
    return tmp;
}

// Python's os.path.relpath(blob, dirname(link)) on absolute, lexically normalized paths.
fs::path link_target(const fs::path& blob, const fs::path& link_dir) {
    fs::path b = fs::absolute(blob).lexically_normal();
    fs::path d = fs::absolute(link_dir).lexically_normal();
    fs::path rel = b.lexically_relative(d);
    return rel.empty() ? b : rel;
}

void copy_durable(const fs::path& from, const fs::path& to) {
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    util::unique_fd fd(::open(to.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) util::throw_errno("open", to);
    util::fsync_fd(fd.get(), to);
}

std::mutex probe_mu;
std::map<fs::path, bool>& probe_results() {
    static std::map<fs::path, bool> m;
    return m;
}

}  // namespace

bool is_commit_hash(std::string_view s) {
    if (s.size() != 40) return false;
    for (char ch : s)
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
    return true;
}

repo_cache::repo_cache(fs::path cache_root, repo_type t, std::string_view repo_id)
    : root_(std::move(cache_root)) {
    validate_repo_id(repo_id);  // no "..", "/" or "--" surprises in the folder name
    folder_ = repo_folder_name(t, repo_id);
    dir_ = root_ / folder_;
}

fs::path repo_cache::blob(std::string_view etag) const { return join_one(dir_ / "blobs", etag, "etag"); }

fs::path repo_cache::snapshot(std::string_view commit) const {
    return join_one(dir_ / "snapshots", commit, "commit");
}

fs::path repo_cache::snapshot_file(std::string_view commit, std::string_view file) const {
    return join(snapshot(commit), file, "file");
}

fs::path repo_cache::ref(std::string_view revision) const { return join(dir_ / "refs", revision, "revision"); }

fs::path repo_cache::no_exist(std::string_view commit, std::string_view file) const {
    return join(join_one(dir_ / ".no_exist", commit, "commit"), file, "file");
}

fs::path repo_cache::lock(std::string_view etag) const {
    if (etag.empty()) bad_path("etag", etag);
    return join_one(root_ / ".locks" / folder_, std::string(etag) + ".lock", "etag");
}

fs::path repo_cache::tree_cache(std::string_view commit) const {
    if (commit.empty()) bad_path("commit", commit);
    return join_one(dir_ / "trees", std::string(commit) + ".json", "commit");
}

std::optional<std::string> resolve_cached_revision(const repo_cache& c, std::string_view revision) {
    if (is_commit_hash(revision)) return std::string(revision);
    auto content = util::read_file(c.ref(revision));
    if (!content || !is_commit_hash(*content)) return std::nullopt;
    return std::string(content->data(), content->size());
}

void write_ref(const repo_cache& c, std::string_view revision, std::string_view commit) {
    if (!is_commit_hash(commit))
        throw hfhub::error(client_errc::invalid_path, {.client_message = "not a commit hash: '" + std::string(commit) + "'"});
    if (revision == commit) return;
    fs::path p = c.ref(revision);
    // Unchanged refs are left alone: a read-only shared cache then still works.
    if (auto cur = util::read_file(p); cur && *cur == commit) return;
    fs::create_directories(p.parent_path());
    util::write_file_atomic(p, commit);
}

void ensure_cachedir_tag(const fs::path& root) {
    fs::path tag = root / "CACHEDIR.TAG";
    std::error_code ec;
    if (fs::exists(tag, ec)) return;
    fs::create_directories(root);
    util::write_file_atomic(tag,
                            "Signature: 8a477f597d28d172789f06886806bc55\n"
                            "# This file is a cache directory tag created by hfhub.\n"
                            "# For information about cache directory tags, see:\n"
                            "#\thttps://bford.info/cachedir/\n");
}

void mark_missing(const repo_cache& c, std::string_view commit, std::string_view file) {
    fs::path p = c.no_exist(commit, file);
    fs::create_directories(p.parent_path());
    util::unique_fd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666));
    if (!fd) util::throw_errno("create", p);
}

bool symlinks_supported(const fs::path& root) {
    fs::path key = fs::absolute(root).lexically_normal();
    std::lock_guard lk(probe_mu);
    auto& m = probe_results();
    if (auto it = m.find(key); it != m.end()) return it->second;
    // Probed inside .locks, which scan_cache skips, so a crash can't leave junk in a listing.
    fs::path dir = key / ".locks";
    std::error_code ec;
    fs::create_directories(dir, ec);
    fs::path probe = dir / (".symlink-probe." + util::unique_suffix());
    bool ok = ::symlink("probe-target", probe.c_str()) == 0;
    int err = errno;
    if (ok) ::unlink(probe.c_str());
    // Only a definite answer is remembered; e.g. an unwritable root says nothing about symlinks.
    if (ok || err == EPERM || err == EOPNOTSUPP || err == ENOSYS) m[key] = ok;
    return ok;
}

void link_snapshot_file(const repo_cache& c, std::string_view commit, std::string_view file, const fs::path& blob,
                        bool allow_symlinks) {
    fs::path target = c.snapshot_file(commit, file);
    fs::create_directories(target.parent_path());
    if (allow_symlinks && symlinks_supported(c.root())) {
        fs::path rel = link_target(blob, target.parent_path());
        std::error_code ec;
        if (fs::is_symlink(target, ec) && fs::read_symlink(target, ec) == rel) return;
        fs::path tmp = temp_beside(target);
        if (::symlink(rel.c_str(), tmp.c_str()) == 0) {
            // No folder fsync per link: a link lost in a crash is remade by the next download
            // (the blob is still there), and snapshots can hold thousands of files.
            if (::rename(tmp.c_str(), target.c_str()) != 0) {
                int e = errno;
                ::unlink(tmp.c_str());
                errno = e;
                util::throw_errno("rename to", target);
            }
            return;
        }
        // Symlinks refused here after all (e.g. a different filesystem below the root): copy.
    }
    fs::path tmp = temp_beside(target);
    try {
        copy_durable(blob, tmp);
    } catch (...) {
        std::error_code ec;
        fs::remove(tmp, ec);
        throw;
    }
    util::rename_durable(tmp, target);
}

cache_lookup lookup(const repo_cache& c, std::string_view revision, std::string_view file) {
    cache_lookup out;
    auto commit = resolve_cached_revision(c, revision);
    if (!commit) return out;
    out.commit = *commit;
    std::error_code ec;
    if (fs::is_regular_file(c.no_exist(*commit, file), ec)) {
        out.state = cached_state::known_missing;
        return out;
    }
    fs::path p = c.snapshot_file(*commit, file);
    // is_regular_file follows the link, so a dangling one is not present.
    if (fs::is_regular_file(p, ec)) {
        out.state = cached_state::present;
        out.path = std::move(p);
    }
    return out;
}

}  // namespace hfhub::cache
