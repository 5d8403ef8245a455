// A repo's LFS grants, and the lfs-files tools built on them: listing a repo's objects and
// deleting some for good.
//
// The grants file is append-only, so concurrent uploads never lose each other's lines:
// "<oid> <unix time>" grants (a bare "<oid>" from before times were kept), "-<oid>" revokes.
// The last line about an oid wins.
#include "server/message.hpp"
#include "server/repo_store.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <algorithm>
#include <chrono>
#include <fcntl.h>

namespace hfhub::server {

namespace {

lfs_grant_log parse_grants(std::string_view text) {
    lfs_grant_log log;
    for (std::size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string_view::npos; pos = nl + 1) {
        std::string_view line = text.substr(pos, nl - pos);
        bool revoke = line.starts_with('-');
        if (revoke) line.remove_prefix(1);
        if (line.size() < 64 || !util::is_hex(line.substr(0, 64), 64)) continue;
        std::string oid(line.substr(0, 64));
        if (revoke) {
            log.granted.erase(oid);
            log.revoked.insert(std::move(oid));
            continue;
        }
        std::int64_t when = 0;
        if (line.size() > 65 && line.size() < 85 && line[64] == ' ' &&
            line.substr(65).find_first_not_of("0123456789") == std::string_view::npos)
            when = std::stoll(std::string(line.substr(65)));
        log.revoked.erase(oid);
        log.granted.emplace(std::move(oid), when);
    }
    return log;
}

void append_lines(const fs::path& f, const std::string& lines) {
    if (lines.empty()) return;
    util::unique_fd fd(::open(f.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) util::throw_errno("open", f);
    util::write_all(fd.get(), lines.data(), lines.size(), f);
}

}  // namespace

fs::path lfs_grants_path(const fs::path& repo_dir) { return repo_dir / "lfs-grants"; }

lfs_grant_log repo_store::lfs_grant_history(const repo& r) const {
    auto text = util::read_file(lfs_grants_path(r.dir));
    return text ? parse_grants(*text) : lfs_grant_log{};
}

std::unordered_set<std::string> repo_store::lfs_grants(const repo& r) const {
    std::unordered_set<std::string> out;
    for (auto& [oid, _] : lfs_grant_history(r).granted) out.insert(oid);
    return out;
}

void repo_store::grant_lfs(const repo& r, const std::vector<std::string>& oids,
                           std::unordered_set<std::string>& granted) {
    std::lock_guard lk(lfs_mu_);
    std::string lines, when = " " + std::to_string(now_seconds()) + "\n";
    for (auto& oid : oids)
        // Not an object purged meanwhile: a grant always has its bytes.
        if (!granted.contains(oid) && lfs_.stat(oid) && granted.insert(oid).second) lines += oid + when;
    append_lines(lfs_grants_path(r.dir), lines);
}

bool repo_store::put_lfs(const repo* r, const std::string& sha, const fs::path& file) {
    std::lock_guard lk(lfs_mu_);
    bool take = !lfs_.stat(sha);
    if (take) lfs_.put_verified(sha, file);
    if (r && !lfs_grants(*r).contains(sha))
        append_lines(lfs_grants_path(r->dir), sha + " " + std::to_string(now_seconds()) + "\n");
    return take;
}

std::vector<lfs_file> repo_store::lfs_files(repo& r) {
    auto log = lfs_grant_history(r);
    std::unordered_map<std::string, lfs_file> found;
    for (auto& [oid, when] : log.granted) found[oid] = {oid, 0, when, {}, {}};

    // A name for each object: the newest path naming it on the first ref (main first) whose
    // history does. Stops once every object has one.
    auto st = r.state();
    std::vector<std::pair<std::string, std::string>> refs;  // ref name, commit
    if (auto it = st->branches.find("main"); it != st->branches.end()) refs.emplace_back("refs/heads/main", it->second);
    for (auto& [b, id] : st->branches)
        if (b != "main") refs.emplace_back("refs/heads/" + b, id);
    for (auto& [t, tag] : st->tags) refs.emplace_back("refs/tags/" + t, tag.commit);
    for (auto& d : st->discussions)
        if (d.is_pr && !d.head.empty()) refs.emplace_back("refs/pr/" + std::to_string(d.num), d.head);
    std::size_t unnamed = found.size();
    std::unordered_set<std::string> seen;
    for (auto& [ref, head] : refs) {
        std::vector<std::string> todo{head};
        while (unnamed && !todo.empty()) {
            std::string id = std::move(todo.back());
            todo.pop_back();
            if (!seen.insert(id).second) continue;
            auto c = load_commit(r, id);
            if (!c) continue;
            for (auto& [path, e] : c->files) {
                auto it = e.is_lfs() ? found.find(e.lfs_sha256) : found.end();
                if (it == found.end() || !it->second.ref.empty()) continue;
                it->second.ref = ref;
                it->second.filename = path;
                if (!it->second.pushed) it->second.pushed = c->time;
                it->second.size = e.size;
                --unnamed;
            }
            for (auto p = c->parents.rbegin(); p != c->parents.rend(); ++p) todo.push_back(*p);
        }
    }
    std::vector<lfs_file> out;
    for (auto& [oid, f] : found) {
        if (auto size = lfs_.stat(oid)) f.size = *size;
        if (!f.pushed) f.pushed = r.created;
        out.push_back(std::move(f));
    }
    std::sort(out.begin(), out.end(), [](const lfs_file& a, const lfs_file& b) {
        return a.pushed != b.pushed ? a.pushed > b.pushed : a.oid < b.oid;
    });
    return out;
}

std::size_t repo_store::purge_lfs(repo& r, const std::vector<std::string>& oids, bool rewrite_history) {
    std::unordered_set<std::string> gone(oids.begin(), oids.end());
    {
        std::lock_guard wl(r.write_mu_);
        if (r.deleted_) throw http_error(404, "RepoNotFound", "Repository not found");
        auto granted = lfs_grants(r);
        // All or nothing, and the same answer for an object other repos hold: no probing.
        for (auto& oid : gone)
            if (!granted.contains(oid))
                throw http_error(404, "EntryNotFound", "LFS object " + oid + " not found in " + r.id);
        if (rewrite_history) {
            // Every commit reachable from a ref, parents before children (commits form a DAG).
            auto st = r.state();
            std::vector<std::string> roots;
            for (auto& [_, id] : st->branches) roots.push_back(id);
            for (auto& [_, t] : st->tags) roots.push_back(t.commit);
            for (auto& d : st->discussions)
                for (auto* id : {&d.head, &d.base, &d.merge_commit})
                    if (!id->empty()) roots.push_back(*id);
            std::vector<std::string> order;
            std::unordered_set<std::string> seen;
            std::vector<std::pair<std::string, bool>> stack;
            for (auto& root : roots) stack.emplace_back(root, false);
            while (!stack.empty()) {
                auto [id, done] = std::move(stack.back());
                stack.pop_back();
                if (done) {
                    order.push_back(id);
                    continue;
                }
                if (!seen.insert(id).second) continue;
                auto c = load_commit(r, id);
                if (!c) continue;  // unreadable: left as it is
                stack.emplace_back(id, true);
                for (auto& p : c->parents)
                    if (!seen.contains(p)) stack.emplace_back(p, false);
            }
            std::unordered_map<std::string, std::string> to;  // old id -> new id
            for (auto& id : order) {
                auto old = load_commit(r, id);
                commit c;
                c.title = old->title;
                c.message = old->message;
                c.author = old->author;
                c.time = old->time;
                for (auto& p : old->parents) c.parents.push_back(to.contains(p) ? to[p] : p);
                for (auto& [path, e] : old->files)
                    if (!e.is_lfs() || !gone.contains(e.lfs_sha256)) c.files.emplace(path, e);
                to[id] = c.parents == old->parents && c.files.size() == old->files.size() ? id : write_commit(r, c);
            }
            auto moved = [&](std::string& id) {
                if (auto it = to.find(id); it != to.end()) id = it->second;
            };
            repo_state next = *st;
            for (auto& [_, id] : next.branches) moved(id);
            for (auto& [_, t] : next.tags) moved(t.commit);
            for (auto& d : next.discussions)
                for (auto* id : {&d.head, &d.base, &d.merge_commit}) moved(*id);
            write_state(r, next);
            std::lock_guard lk(r.state_mu_);
            r.state_ = std::make_shared<const repo_state>(std::move(next));
        }
        std::string lines;
        for (auto& oid : gone) lines += "-" + oid + "\n";
        append_lines(lfs_grants_path(r.dir), lines);
    }

    return drop_unheld(std::move(gone));
}

std::size_t repo_store::drop_unheld(std::unordered_set<std::string> gone) {
    if (gone.empty()) return 0;
    // The bytes go when no repo holds a grant any more. create_mu_ keeps a repo from being in
    // the middle of a move (out of repos/) while the others are read.
    std::lock_guard create_lk(create_mu_);
    std::lock_guard lk(lfs_mu_);
    for_each_repo_dir([&](repo_type t, const std::string& id, const fs::path& dir) {
        // A repo from before grants gets its file when first loaded: load it now.
        if (!fs::exists(lfs_grants_path(dir))) find(t, id);
        if (auto text = util::read_file(lfs_grants_path(dir))) {
            auto log = parse_grants(*text);
            std::erase_if(gone, [&](const std::string& oid) { return log.granted.contains(oid); });
        }
        return !gone.empty();
    });
    if (gone.empty()) return 0;
    for (auto& oid : gone) lfs_.remove(oid);
    return gone.size();
}

std::size_t repo_store::sweep_unreferenced_lfs(std::int64_t granted_before) {
    std::vector<std::pair<repo_type, std::string>> ids;
    {
        std::lock_guard create_lk(create_mu_);
        for_each_repo_dir([&](repo_type t, const std::string& id, const fs::path&) {
            ids.emplace_back(t, id);
            return true;
        });
    }
    std::size_t removed = 0;
    for (auto& [t, id] : ids) {
        auto r = find(t, id);
        if (!r) continue;
        std::vector<std::string> stale;
        // No ref names it (ref empty) and its grant is old: uploaded, never committed.
        for (auto& f : lfs_files(*r))
            if (f.ref.empty() && f.pushed < granted_before) stale.push_back(f.oid);
        if (stale.empty()) continue;
        try {
            removed += purge_lfs(*r, stale, false);
        } catch (const http_error&) {
            // Deleted meanwhile: its grants went with it.
        }
    }
    return removed;
}

}  // namespace hfhub::server
