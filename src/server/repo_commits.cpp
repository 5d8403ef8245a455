// Commits and refs: the canonical commit files, resolving revisions, applying a commit's
// operations, squashing and merging, and walking history.
#include "server/repo_store.hpp"

#include "server/message.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <limits>
#include <set>

namespace hfhub::server {

namespace json = boost::json;

// ---- commits -------------------------------------------------------------------------------

std::string commit_json(const commit& c) {
    json::object o;
    json::array parents;
    for (auto& p : c.parents) parents.emplace_back(p);
    o["parents"] = std::move(parents);
    o["title"] = c.title;
    o["message"] = c.message;
    o["author"] = c.author;
    o["time"] = c.time;
    json::object files;
    for (auto& [path, e] : c.files) {
        json::object f{{"oid", e.oid}, {"size", e.size}};
        if (e.is_lfs()) f["lfs"] = e.lfs_sha256;
        files[path] = std::move(f);
    }
    o["files"] = std::move(files);
    return json::serialize(o);
}

std::shared_ptr<commit> parse_commit(std::string_view id, std::string_view text) {
    auto c = std::make_shared<commit>();
    c->id = std::string(id);
    json::object o = json::parse(text).as_object();
    for (auto& p : o.at("parents").as_array()) c->parents.push_back(json::value_to<std::string>(p));
    c->title = json::value_to<std::string>(o.at("title"));
    c->message = json::value_to<std::string>(o.at("message"));
    c->author = json::value_to<std::string>(o.at("author"));
    c->time = o.at("time").to_number<std::int64_t>();
    for (auto& [path, v] : o.at("files").as_object()) {
        file_entry e;
        e.oid = json::value_to<std::string>(v.at("oid"));
        e.size = v.at("size").to_number<std::uint64_t>();
        if (auto* l = v.as_object().if_contains("lfs")) e.lfs_sha256 = json::value_to<std::string>(*l);
        c->files.emplace(std::string(path), std::move(e));
    }
    return c;
}

const std::map<std::string, std::string>& commit::folder_oids() const {
    std::call_once(folders_once_, [this] {
        // Children per folder: name -> (is_folder, oid). Git sorts folders as "name/".
        struct child {
            bool folder;
            std::string oid;
        };
        std::map<std::string, std::map<std::string, child>> kids;
        kids[""];
        for (auto& [path, e] : files) {
            std::string parent;
            std::size_t start = 0;
            for (;;) {
                auto slash = path.find('/', start);
                if (slash == std::string::npos) {
                    kids[parent][path.substr(start)] = {false, e.oid};
                    break;
                }
                std::string folder = path.substr(0, slash);
                kids[parent][path.substr(start, slash - start)] = {true, {}};
                kids[folder];
                parent = folder;
                start = slash + 1;
            }
        }
        // Deepest folders first so children's ids are known.
        std::vector<std::string> order;
        for (auto& [k, _] : kids) order.push_back(k);
        std::sort(order.begin(), order.end(), [](auto& a, auto& b) {
            auto depth = [](const std::string& s) {
                return s.empty() ? 0 : 1 + std::count(s.begin(), s.end(), '/');
            };
            return depth(a) > depth(b);
        });
        for (auto& folder : order) {
            auto& entries = kids[folder];
            std::vector<std::pair<std::string, std::string>> sorted;  // sort key, raw entry
            for (auto& [name, ch] : entries) {
                std::string oid = ch.folder ? folders_[folder.empty() ? name : folder + "/" + name] : ch.oid;
                std::string raw = (ch.folder ? "40000 " : "100644 ") + name;
                raw.push_back('\0');
                raw += util::from_hex(oid);
                sorted.emplace_back(ch.folder ? name + "/" : name, std::move(raw));
            }
            std::sort(sorted.begin(), sorted.end());
            std::string body;
            for (auto& [_, raw] : sorted) body += raw;
            std::string obj = "tree " + std::to_string(body.size());
            obj.push_back('\0');
            obj += body;
            folders_[folder] = util::sha1_hex(obj);
        }
    });
    return folders_;
}

std::shared_ptr<const commit> repo_store::load_commit(repo& r, std::string_view id) {
    if (!util::is_hex(id, 40)) return nullptr;
    std::string key(id);
    {
        std::lock_guard lk(r.cache_mu_);
        auto it = r.cache_.find(key);
        if (it != r.cache_.end()) return it->second;
    }
    auto text = util::read_file(r.dir / "commits" / (key + ".json"));
    // A commit file is named by its content's hash; anything else is not ours.
    if (!text || util::sha1_hex(*text) != key) return nullptr;
    std::shared_ptr<const commit> c = parse_commit(key, *text);
    std::lock_guard lk(r.cache_mu_);
    if (r.cache_.size() > 4096) r.cache_.clear();
    r.cache_.emplace(key, c);
    return c;
}

std::optional<resolved_rev> repo_store::resolve(repo& r, std::string_view rev) {
    auto st = r.state();
    using k = resolved_rev::kind;
    if (rev.starts_with("refs/pr/")) {
        auto num = rev.substr(8);
        if (num.empty() || num.size() > 9 || num.find_first_not_of("0123456789") != std::string_view::npos)
            return std::nullopt;
        auto* d = st->find_discussion(std::stoi(std::string(num)));
        if (!d || !d->is_pr) return std::nullopt;
        return resolved_rev{d->head, k::pull_request, std::string(rev)};
    }
    if (rev == "HEAD") rev = "main";
    std::string_view branch = rev, tag = rev;
    if (rev.starts_with("refs/heads/")) branch = rev.substr(11), tag = {};
    if (rev.starts_with("refs/tags/")) tag = rev.substr(10), branch = {};
    if (auto it = st->branches.find(std::string(branch)); !branch.empty() && it != st->branches.end())
        return resolved_rev{it->second, k::branch, it->first};
    if (auto it = st->tags.find(std::string(tag)); !tag.empty() && it != st->tags.end())
        return resolved_rev{it->second.commit, k::tag, it->first};
    if (util::is_hex(rev, 40) && load_commit(r, rev)) return resolved_rev{std::string(rev), k::commit, std::string(rev)};
    // A short id, as git abbreviates them: 7+ hex characters naming exactly one commit.
    if (rev.size() >= 7 && rev.size() < 40 && rev.find_first_not_of("0123456789abcdef") == std::string_view::npos) {
        std::string found;
        std::error_code ec;
        for (auto it = fs::directory_iterator(r.dir / "commits", ec); !ec && it != fs::directory_iterator();
             it.increment(ec)) {
            std::string name = it->path().filename().string();
            if (name.size() != 45 || !name.ends_with(".json") || !name.starts_with(rev)) continue;
            if (!found.empty()) return std::nullopt;  // ambiguous
            found = name.substr(0, 40);
        }
        if (!found.empty() && load_commit(r, found)) return resolved_rev{found, k::commit, found};
    }
    return std::nullopt;
}

namespace {

// Where a commit goes: a branch, or the pull request whose ref it names; and its parent.
struct commit_target {
    std::string base;
    int pr = 0;
    std::string branch;
};

commit_target target_of(repo_store& store, repo& r, const repo_state& st, const commit_request& req) {
    commit_target t;
    if (req.revision.starts_with("refs/pr/")) {
        auto res = store.resolve(r, req.revision);
        if (!res) throw http_error(404, "RevisionNotFound", "Invalid rev id: " + req.revision);
        if (req.create_pr) throw http_error(400, "", "Cannot open a pull request from a pull request ref");
        t.pr = std::stoi(req.revision.substr(8));
        t.base = res->commit;
    } else {
        t.branch = req.revision.starts_with("refs/heads/") ? req.revision.substr(11) : req.revision;
        auto it = st.branches.find(t.branch);
        if (it == st.branches.end()) throw http_error(404, "RevisionNotFound", "Invalid rev id: " + req.revision);
        t.base = it->second;
    }
    if (req.parent) {
        std::string p = *req.parent;
        for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        bool hex = p.size() >= 5 && p.size() <= 40 && p.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!hex) throw http_error(400, "", "Invalid parentCommit: " + *req.parent);
        if (!t.base.starts_with(p))
            throw http_error(412, "", "A commit has happened since. Please refresh and try again.");
    }
    return t;
}

// Removes every path under `path` + "/"; false if there was none.
bool erase_folder(tree_map& files, const std::string& path) {
    std::string prefix = path + "/";
    auto it = files.lower_bound(prefix);
    if (it == files.end() || !it->first.starts_with(prefix)) return false;
    while (it != files.end() && it->first.starts_with(prefix)) it = files.erase(it);
    return true;
}

// Applies one operation to `files`; a regular file's bytes join `contents`, to be stored.
void apply_op(tree_map& files, const commit_op& op, lfs_storage& lfs, std::vector<const std::string*>& contents) {
    using kind = commit_op::kind;
    std::string why;
    std::string_view raw = op.path;
    if (op.what == kind::delete_folder || op.what == kind::delete_file)
        while (raw.size() > 1 && raw.back() == '/') raw.remove_suffix(1);
    auto path = util::normalize_repo_path(raw, why);
    if (!path) throw http_error(422, "", "Invalid path '" + op.path + "': " + why);
    switch (op.what) {
        case kind::add_regular:
            if (op.content.size() > max_regular_file)
                throw http_error(400, "",
                                 "Your push was rejected because it contains files larger than 10 MiB. "
                                 "Please use LFS for " + *path);
            files[*path] = {util::git_blob_sha1(op.content), op.content.size(), {}};
            contents.push_back(&op.content);
            break;
        case kind::add_lfs: {
            if (!util::is_hex(op.sha256, 64)) throw http_error(422, "", "Invalid LFS oid for " + *path);
            auto size = lfs.stat(op.sha256);
            if (!size)
                throw http_error(422, "", "LFS object " + op.sha256 + " for " + *path + " has not been uploaded");
            if (op.size && *op.size != *size)
                throw http_error(422, "", "LFS object " + op.sha256 + " has size " + std::to_string(*size) +
                                              ", not " + std::to_string(*op.size));
            files[*path] = {util::git_blob_sha1(util::lfs_pointer(op.sha256, *size)), *size, op.sha256};
            break;
        }
        case kind::delete_file:
            if (files.erase(*path) != 0) break;
            // The Hub deletes a folder named by a deletedFile, as git rm -r would.
            if (erase_folder(files, *path)) break;
            throw http_error(404, "EntryNotFound", "A file with this name doesn't exist: " + *path);
        case kind::delete_folder:
            if (!erase_folder(files, *path))
                throw http_error(404, "EntryNotFound", "A folder with this name doesn't exist: " + *path);
            break;
    }
}

// A path can't be both a file and a folder.
void check_no_file_over_folder(const tree_map& files) {
    for (auto& [path, _] : files)
        for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
            if (files.count(path.substr(0, slash)))
                throw http_error(422, "", "'" + path.substr(0, slash) + "' is a file, so '" + path +
                                              "' can't be added under it");
}

// The state after commit `id` lands where `t` says: a branch moves, or a pull request's head
// does, or a new pull request opens.
repo_state state_after(const repo_state& st, const commit_target& t, const commit_request& req, const commit& c,
                       const std::string& id, commit_result& result) {
    repo_state next = st;
    discussion_event pushed{util::random_hex(12), "commit", req.author, c.time, c.title, id};
    if (t.pr) {
        for (auto& d : next.discussions)
            if (d.num == t.pr) {
                d.head = id;
                d.events.push_back(pushed);
            }
        result.pr_num = t.pr;
    } else if (req.create_pr) {
        int num = 1;
        for (auto& d : next.discussions) num = std::max(num, d.num + 1);
        discussion d{num, c.title, req.description, req.author, true, "open", c.time, id, t.base};
        d.events.push_back(pushed);
        next.discussions.push_back(std::move(d));
        result.pr_num = num;
    } else {
        next.branches[t.branch] = id;
    }
    return next;
}

}  // namespace

commit_result repo_store::apply_commit(repo& r, const commit_request& req) {
    std::lock_guard wl(r.write_mu_);
    if (r.deleted_) throw http_error(404, "RepoNotFound", "Repository not found");
    auto st = r.state();
    commit_target target = target_of(*this, r, *st, req);
    auto parent = load_commit(r, target.base);
    if (!parent) throw http_error(500, "", "Head commit " + target.base + " is unreadable");

    tree_map files = parent->files;
    std::vector<const std::string*> contents;
    for (auto& op : req.ops) apply_op(files, op, lfs_, contents);
    check_no_file_over_folder(files);

    // Objects first, then the commit, then the one atomic ref update.
    blobs_.put_all(contents);
    commit c;
    c.parents = {target.base};
    c.title = req.summary.empty() ? "Upload files" : req.summary;
    c.message = req.description;
    c.author = req.author;
    c.time = now_seconds();
    c.files = std::move(files);
    std::string id = write_commit(r, c);

    commit_result result{id, std::nullopt};
    repo_state next = state_after(*st, target, req, c, id, result);
    write_state(r, next);
    std::lock_guard lk(r.state_mu_);
    r.state_ = std::make_shared<const repo_state>(std::move(next));
    return result;
}

std::string repo_store::super_squash(repo& r, const std::string& branch, const std::string& message,
                                     const std::string& author) {
    std::lock_guard wl(r.write_mu_);
    if (r.deleted_) throw http_error(404, "RepoNotFound", "Repository not found");
    auto st = r.state();
    auto it = st->branches.find(branch);
    if (it == st->branches.end()) throw http_error(404, "RevisionNotFound", "Invalid rev id: " + branch);
    auto head = load_commit(r, it->second);
    if (!head) throw http_error(500, "", "Head commit " + it->second + " is unreadable");
    commit c;
    c.title = message;
    c.author = author;
    c.time = now_seconds();
    c.files = head->files;
    std::string id = write_commit(r, c);
    repo_state next = *st;
    next.branches[branch] = id;
    write_state(r, next);
    std::lock_guard lk(r.state_mu_);
    r.state_ = std::make_shared<const repo_state>(std::move(next));
    return id;
}

namespace {

// Three-way merge of path tables; the paths both sides changed differently go to `conflicts`.
tree_map merge_trees(const tree_map& base, const tree_map& ours, const tree_map& theirs,
                     std::vector<std::string>& conflicts) {
    std::set<std::string> paths;
    for (auto* m : {&base, &ours, &theirs})
        for (auto& [p, _] : *m) paths.insert(p);
    auto get = [](const tree_map& m, const std::string& p) -> const file_entry* {
        auto it = m.find(p);
        return it == m.end() ? nullptr : &it->second;
    };
    auto same = [](const file_entry* a, const file_entry* b) {
        return a == b || (a && b && a->oid == b->oid && a->lfs_sha256 == b->lfs_sha256);
    };
    tree_map out;
    for (auto& p : paths) {
        const file_entry *b = get(base, p), *o = get(ours, p), *t = get(theirs, p);
        const file_entry* pick = o;
        if (same(o, b)) pick = t;
        else if (!same(t, b) && !same(o, t)) conflicts.push_back(p);
        if (pick) out[p] = *pick;
    }
    return out;
}

}  // namespace

std::string repo_store::merge_pr(repo& r, int num, const std::string& author, const std::string& comment) {
    std::lock_guard wl(r.write_mu_);
    if (r.deleted_) throw http_error(404, "RepoNotFound", "Repository not found");
    auto st = r.state();
    auto* d = st->find_discussion(num);
    if (!d) throw http_error(404, "", "Discussion not found");
    if (!d->is_pr) throw http_error(400, "", "Discussion #" + std::to_string(num) + " is not a pull request");
    if (d->status != "open" && d->status != "draft")
        throw http_error(400, "", "Pull request #" + std::to_string(num) + " is " + d->status);
    const std::string main = st->branches.at("main");
    // The merge base: the newest commit of main's first-parent history that the PR holds.
    std::set<std::string> pr_history;
    for (auto& c : history(r, d->head, std::numeric_limits<std::size_t>::max())) pr_history.insert(c->id);
    std::string result;
    if (pr_history.count(main)) {
        result = d->head;  // main hasn't moved: fast-forward
    } else {
        std::string base;
        for (auto& c : history(r, main, std::numeric_limits<std::size_t>::max()))
            if (pr_history.count(c->id)) {
                base = c->id;
                break;
            }
        auto ours = load_commit(r, main), theirs = load_commit(r, d->head);
        auto common = base.empty() ? nullptr : load_commit(r, base);
        if (!ours || !theirs) throw http_error(500, "", "A head commit is unreadable");
        std::vector<std::string> conflicts;
        tree_map files = merge_trees(common ? common->files : tree_map{}, ours->files, theirs->files, conflicts);
        if (!conflicts.empty()) {
            std::string list;
            for (auto& p : conflicts) list += (list.empty() ? "" : ", ") + p;
            throw http_error(409, "", "This pull request has conflicts with main in: " + list);
        }
        commit c;
        c.parents = {main, d->head};
        c.title = "Merge pull request #" + std::to_string(num) + ": " + d->title;
        c.author = author;
        c.time = now_seconds();
        c.files = std::move(files);
        result = write_commit(r, c);
    }
    repo_state next = *st;
    next.branches["main"] = result;
    for (auto& x : next.discussions)
        if (x.num == num) {
            x.status = "merged";
            x.merge_commit = result;
            if (!comment.empty()) x.events.push_back({util::random_hex(12), "comment", author, now_seconds(), comment, {}});
            x.events.push_back({util::random_hex(12), "status-change", author, now_seconds(), "merged", {}});
        }
    write_state(r, next);
    std::lock_guard lk(r.state_mu_);
    r.state_ = std::make_shared<const repo_state>(std::move(next));
    return result;
}

std::vector<std::shared_ptr<const commit>> repo_store::history(repo& r, std::string_view id, std::size_t max) {
    std::vector<std::shared_ptr<const commit>> out;
    std::string cur(id);
    while (out.size() < max) {
        auto c = load_commit(r, cur);
        if (!c) break;
        out.push_back(c);
        if (c->parents.empty()) break;
        cur = c->parents.front();
    }
    return out;
}

std::shared_ptr<const commit> repo_store::last_change(repo& r, const std::shared_ptr<const commit>& start,
                                                     const std::string& path) {
    auto cur = start;
    auto it = cur->files.find(path);
    if (it == cur->files.end()) return cur;
    const std::string oid = it->second.oid;
    while (!cur->parents.empty()) {
        auto parent = load_commit(r, cur->parents.front());
        if (!parent) break;
        auto pit = parent->files.find(path);
        if (pit == parent->files.end() || pit->second.oid != oid) break;
        cur = parent;
    }
    return cur;
}

}  // namespace hfhub::server
