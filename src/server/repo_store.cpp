// Repositories on disk: the store's index of repo folders, creating, moving and deleting
// repos, and the state file each keeps. Commits and refs are in repo_commits.cpp.
#include "server/repo_store.hpp"

#include "server/message.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <set>
#include <fcntl.h>

namespace hfhub::server {

namespace json = boost::json;

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

// The attributes a new repo starts with: common weight and data formats go to LFS.
constexpr std::string_view default_gitattributes =
    "*.7z filter=lfs diff=lfs merge=lfs -text\n"
    "*.arrow filter=lfs diff=lfs merge=lfs -text\n"
    "*.bin filter=lfs diff=lfs merge=lfs -text\n"
    "*.ckpt filter=lfs diff=lfs merge=lfs -text\n"
    "*.gguf filter=lfs diff=lfs merge=lfs -text\n"
    "*.gz filter=lfs diff=lfs merge=lfs -text\n"
    "*.h5 filter=lfs diff=lfs merge=lfs -text\n"
    "*.msgpack filter=lfs diff=lfs merge=lfs -text\n"
    "*.npy filter=lfs diff=lfs merge=lfs -text\n"
    "*.npz filter=lfs diff=lfs merge=lfs -text\n"
    "*.onnx filter=lfs diff=lfs merge=lfs -text\n"
    "*.parquet filter=lfs diff=lfs merge=lfs -text\n"
    "*.pkl filter=lfs diff=lfs merge=lfs -text\n"
    "*.pt filter=lfs diff=lfs merge=lfs -text\n"
    "*.pth filter=lfs diff=lfs merge=lfs -text\n"
    "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    "*.tar filter=lfs diff=lfs merge=lfs -text\n"
    "*.tflite filter=lfs diff=lfs merge=lfs -text\n"
    "*.zip filter=lfs diff=lfs merge=lfs -text\n";

std::string state_json(const repo_state& s) {
    json::object o;
    o["private"] = s.is_private;
    o["gated"] = s.gated;
    o["xetEnabled"] = s.xet_enabled;
    json::array access;
    for (auto& u : s.gate_access) access.emplace_back(u);
    o["gateAccess"] = std::move(access);
    json::object br;
    for (auto& [k, v] : s.branches) br[k] = v;
    o["branches"] = std::move(br);
    json::object tags;
    for (auto& [k, v] : s.tags) tags[k] = json::object{{"commit", v.commit}, {"message", v.message}};
    o["tags"] = std::move(tags);
    json::array ds;
    for (auto& d : s.discussions) {
        json::array events;
        for (auto& e : d.events)
            events.push_back(json::object{{"id", e.id}, {"type", e.type}, {"author", e.author},
                                          {"time", e.time}, {"text", e.text}, {"old", e.old}});
        ds.push_back(json::object{{"num", d.num},
                                  {"title", d.title},
                                  {"description", d.description},
                                  {"author", d.author},
                                  {"isPullRequest", d.is_pr},
                                  {"status", d.status},
                                  {"created", d.created},
                                  {"head", d.head},
                                  {"base", d.base},
                                  {"mergeCommit", d.merge_commit},
                                  {"events", std::move(events)}});
    }
    o["discussions"] = std::move(ds);
    return json::serialize(o);
}

// A string member that states written by older versions may lack.
std::string opt_str(const json::object& o, std::string_view key) {
    auto* x = o.if_contains(key);
    return x && x->is_string() ? std::string(x->as_string()) : std::string();
}

repo_state parse_state(std::string_view text) {
    json::object o = json::parse(text).as_object();
    repo_state s;
    s.is_private = o.at("private").as_bool();
    s.gated = opt_str(o, "gated");
    if (auto* x = o.if_contains("xetEnabled"); x && x->is_bool()) s.xet_enabled = x->as_bool();
    if (auto* a = o.if_contains("gateAccess"); a && a->is_array())
        for (auto& u : a->as_array()) s.gate_access.push_back(json::value_to<std::string>(u));
    for (auto& [k, v] : o.at("branches").as_object()) s.branches[k] = json::value_to<std::string>(v);
    for (auto& [k, v] : o.at("tags").as_object())
        s.tags[k] = {json::value_to<std::string>(v.at("commit")),
                     json::value_to<std::string>(v.at("message"))};
    for (auto& v : o.at("discussions").as_array()) {
        discussion d;
        d.num = static_cast<int>(v.at("num").to_number<std::int64_t>());
        d.title = json::value_to<std::string>(v.at("title"));
        d.description = json::value_to<std::string>(v.at("description"));
        d.author = json::value_to<std::string>(v.at("author"));
        d.is_pr = v.at("isPullRequest").as_bool();
        d.status = json::value_to<std::string>(v.at("status"));
        d.created = v.at("created").to_number<std::int64_t>();
        d.head = json::value_to<std::string>(v.at("head"));
        d.base = opt_str(v.as_object(), "base");
        d.merge_commit = opt_str(v.as_object(), "mergeCommit");
        if (auto* ev = v.as_object().if_contains("events"); ev && ev->is_array())
            for (auto& e : ev->as_array())
                d.events.push_back({opt_str(e.as_object(), "id"), opt_str(e.as_object(), "type"),
                                    opt_str(e.as_object(), "author"), e.at("time").to_number<std::int64_t>(),
                                    opt_str(e.as_object(), "text"), opt_str(e.as_object(), "old")});
        s.discussions.push_back(std::move(d));
    }
    return s;
}

// A repo from before grants has LFS files in its commits and no grants file. It is granted,
// once, every object any of its commits references: what it could always serve, nothing more.
void grant_committed_lfs(const fs::path& dir) {
    std::set<std::string> oids;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir / "commits", ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (!name.ends_with(".json")) continue;
        std::string id = name.substr(0, name.size() - 5);
        auto text = util::read_file(it->path());
        // Only a file named by its content's hash is a commit, as in load_commit.
        if (!text || !util::is_hex(id, 40) || util::sha1_hex(*text) != id) continue;
        try {
            auto c = parse_commit(id, *text);
            for (auto& [_, e] : c->files)
                if (e.is_lfs()) oids.insert(e.lfs_sha256);
        } catch (const std::exception&) {
            continue;  // unreadable: it can't be served either
        }
    }
    std::string lines;
    for (auto& oid : oids) lines += oid + "\n";
    util::write_file_atomic(lfs_grants_path(dir), lines);
}

// Removes temp files a killed process left beside their targets.
void remove_stale_temps(const fs::path& dir) {
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
        if (it->path().filename().string().find(".tmp.") != std::string::npos) fs::remove(it->path(), ec);
}

}  // namespace

std::string_view type_name(repo_type t) {
    switch (t) {
        case repo_type::dataset: return "dataset";
        case repo_type::space: return "space";
        default: return "model";
    }
}
std::string_view type_plural(repo_type t) {
    switch (t) {
        case repo_type::dataset: return "datasets";
        case repo_type::space: return "spaces";
        default: return "models";
    }
}
std::string_view url_prefix(repo_type t) {
    switch (t) {
        case repo_type::dataset: return "datasets/";
        case repo_type::space: return "spaces/";
        default: return "";
    }
}
std::optional<repo_type> parse_type(std::string_view s) {
    if (s == "model") return repo_type::model;
    if (s == "dataset") return repo_type::dataset;
    if (s == "space") return repo_type::space;
    return std::nullopt;
}
std::optional<repo_type> parse_type_plural(std::string_view s) {
    if (s == "models") return repo_type::model;
    if (s == "datasets") return repo_type::dataset;
    if (s == "spaces") return repo_type::space;
    return std::nullopt;
}

const discussion* repo_state::find_discussion(int num) const {
    for (auto& d : discussions)
        if (d.num == num) return &d;
    return nullptr;
}

std::shared_ptr<const repo_state> repo::state() const {
    std::lock_guard lk(state_mu_);
    return state_;
}

// ---- download counts -----------------------------------------------------------------------

namespace {

// Appends past this many lines over one per day rewrite the file.
constexpr std::size_t downloads_slack = 4096;

// The file's lines, summed per day; lines that don't read as "<day> <n>" are skipped.
std::size_t parse_downloads(std::string_view text, std::map<std::int64_t, std::uint64_t>& days) {
    std::size_t lines = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++lines;
        auto sp = line.find(' ');
        if (sp == std::string_view::npos) continue;
        std::string_view d = line.substr(0, sp), n = line.substr(sp + 1);
        auto digits = [](std::string_view x) {
            return !x.empty() && x.size() < 19 && x.find_first_not_of("0123456789") == std::string_view::npos;
        };
        if (!digits(d) || !digits(n)) continue;
        days[std::stoll(std::string(d))] += std::stoull(std::string(n));
    }
    return lines;
}

}  // namespace

fs::path downloads_path(const fs::path& repo_dir) { return repo_dir / "downloads"; }

void download_log::open(const fs::path& file) {
    std::lock_guard lk(mu_);
    file_ = file;
    closed_ = false;
    days_.clear();
    total_ = 0;
    lines_ = 0;
    if (auto text = util::read_file(file_)) lines_ = parse_downloads(*text, days_);
    for (auto& [_, n] : days_) total_ += n;
    if (lines_ > days_.size()) compact_locked();
}

void download_log::compact_locked() {
    std::string text;
    for (auto& [d, n] : days_) text += std::to_string(d) + " " + std::to_string(n) + "\n";
    util::write_file_atomic(file_, text);
    lines_ = days_.size();
}

void download_log::add(std::int64_t day) {
    std::lock_guard lk(mu_);
    if (closed_) return;
    std::string line = std::to_string(day) + " 1\n";
    util::unique_fd fd(::open(file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) util::throw_errno("open", file_);
    util::write_all(fd.get(), line.data(), line.size(), file_);
    ++days_[day];
    ++total_;
    if (++lines_ > days_.size() + downloads_slack) compact_locked();
}

download_counts download_log::counts(std::int64_t today) const {
    std::lock_guard lk(mu_);
    download_counts c;
    c.all_time = total_;
    for (auto it = days_.lower_bound(today - 29); it != days_.end() && it->first <= today; ++it)
        c.last_30_days += it->second;
    return c;
}

void download_log::close() {
    std::lock_guard lk(mu_);
    closed_ = true;
}

// ---- store ---------------------------------------------------------------------------------

repo_store::repo_store(fs::path root, lfs_storage& lfs, blob_store& blobs)
    : root_(std::move(root)), tmp_(root_ / "tmp"), lfs_(lfs), blobs_(blobs) {
    fs::create_directories(root_ / "repos");
    fs::create_directories(tmp_);
    index_existing();
}

fs::path repo_store::repo_dir(repo_type t, std::string_view id) const {
    return root_ / "repos" / std::string(type_plural(t)) / std::string(id);
}

std::string repo_store::key_of(repo_type t, std::string_view id) {
    // Repo ids are case-insensitive on the Hub: "Alice/Model" is "alice/model".
    std::string key = std::string(type_plural(t)) + "/" + std::string(id);
    for (char& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return key;
}

void repo_store::for_each_repo_dir(
    const std::function<bool(repo_type, const std::string&, const fs::path&)>& fn) const {
    for (repo_type t : {repo_type::model, repo_type::dataset, repo_type::space}) {
        std::error_code ec;
        fs::path top = root_ / "repos" / std::string(type_plural(t));
        for (auto ns = fs::directory_iterator(top, ec); !ec && ns != fs::directory_iterator(); ns.increment(ec)) {
            std::error_code ec2;
            for (auto n = fs::directory_iterator(ns->path(), ec2); !ec2 && n != fs::directory_iterator();
                 n.increment(ec2))
                if (!fn(t, ns->path().filename().string() + "/" + n->path().filename().string(), n->path())) return;
        }
    }
}

void repo_store::index_existing() {
    for_each_repo_dir([&](repo_type t, const std::string& id, const fs::path& dir) {
        if (fs::exists(dir / "repo.json")) names_[key_of(t, id)] = id;
        return true;
    });
    if (auto text = util::read_file(root_ / "repos" / "moved.json")) {
        boost::system::error_code jec;
        json::value v = json::parse(*text, jec);
        if (!jec && v.is_object())
            for (auto& [k, to] : v.as_object())
                if (to.is_string()) moved_[std::string(k)] = std::string(to.as_string());
    }
}

std::shared_ptr<repo> repo_store::load(repo_type t, std::string_view id) {
    fs::path dir = repo_dir(t, id);
    auto meta = util::read_file(dir / "repo.json");
    auto state = util::read_file(dir / "state.json");
    if (!meta || !state) return nullptr;
    remove_stale_temps(dir);
    remove_stale_temps(dir / "commits");
    // Once per repo (new repos start with an empty file), before any request can grant.
    if (!fs::exists(lfs_grants_path(dir))) grant_committed_lfs(dir);
    auto r = std::make_shared<repo>();
    json::object m = json::parse(*meta).as_object();
    r->type = t;
    r->id = std::string(id);
    r->object_id = json::value_to<std::string>(m.at("_id"));
    r->created = m.at("createdAt").to_number<std::int64_t>();
    r->dir = dir;
    r->state_ = std::make_shared<const repo_state>(parse_state(*state));
    r->downloads.open(downloads_path(dir));
    return r;
}

std::shared_ptr<repo> repo_store::find(repo_type t, std::string_view id) {
    auto slash = id.find('/');
    if (slash == std::string_view::npos || !util::valid_repo_name_part(id.substr(0, slash)) ||
        !util::valid_repo_name_part(id.substr(slash + 1)))
        return nullptr;
    std::string key = key_of(t, id);
    {
        std::shared_lock lk(map_mu_);
        auto it = repos_.find(key);
        if (it != repos_.end()) return it->second;
    }
    std::unique_lock lk(map_mu_);
    auto it = repos_.find(key);
    if (it != repos_.end()) return it->second;
    // Known spellings first; else a folder placed under the root since the index was built.
    auto name = names_.find(key);
    auto r = load(t, name == names_.end() ? id : std::string_view(name->second));
    if (r) {
        repos_.emplace(key, r);
        names_.emplace(key, r->id);
    }
    return r;
}

std::string repo_store::write_commit(repo& r, const commit& c) {
    std::string text = commit_json(c);
    std::string id = util::sha1_hex(text);
    fs::path p = r.dir / "commits" / (id + ".json");
    if (!fs::exists(p)) util::write_file_atomic(p, text);
    return id;
}

void repo_store::write_state(repo& r, const repo_state& s) {
    util::write_file_atomic(r.dir / "state.json", state_json(s));
}

std::shared_ptr<repo> repo_store::create(repo_type t, const std::string& id, bool is_private,
                                         const std::string& author,
                                         const std::vector<initial_file>& files, bool xet_enabled) {
    std::lock_guard create_lk(create_mu_);
    if (find(t, id)) throw http_error(409, "", "You already created this " + std::string(type_name(t)) + " repo");
    fs::path final_dir = repo_dir(t, id);
    fs::path dir = tmp_ / ("newrepo." + util::unique_suffix());
    fs::create_directories(dir / "commits");
    try {
        auto r = std::make_shared<repo>();
        r->type = t;
        r->id = id;
        r->object_id = util::random_hex(12);
        r->created = now_seconds();
        r->dir = dir;

        commit c;
        c.title = "initial commit";
        c.author = author;
        c.time = r->created;
        std::string ga(default_gitattributes);
        c.files[".gitattributes"] = {blobs_.put(ga), ga.size(), {}};
        for (auto& f : files) {
            std::string why;
            auto path = util::normalize_repo_path(f.path, why);
            if (!path) throw http_error(422, "", "Invalid path '" + f.path + "': " + why);
            if (f.content.size() > max_regular_file)
                throw http_error(400, "", "Your push was rejected because it contains files larger than 10 MiB");
            c.files[*path] = {blobs_.put(f.content), f.content.size(), {}};
        }
        std::string head = write_commit(*r, c);

        repo_state s;
        s.is_private = is_private;
        s.xet_enabled = xet_enabled;
        s.branches["main"] = head;
        write_state(*r, s);
        util::write_file_atomic(lfs_grants_path(dir), "");  // present: nothing to migrate at load
        util::write_file_atomic(dir / "repo.json",
                                json::serialize(json::object{{"type", type_name(t)},
                                                             {"id", id},
                                                             {"_id", r->object_id},
                                                             {"createdAt", r->created}}));
        fs::create_directories(final_dir.parent_path());
        util::rename_durable(dir, final_dir);
        r->dir = final_dir;
        r->state_ = std::make_shared<const repo_state>(std::move(s));
        r->downloads.open(downloads_path(final_dir));
        std::unique_lock lk(map_mu_);
        repos_[key_of(t, id)] = r;
        names_[key_of(t, id)] = id;
        return r;
    } catch (...) {
        std::error_code ec;
        fs::remove_all(dir, ec);
        throw;
    }
}

bool repo_store::remove(repo_type t, std::string_view id) {
    std::unordered_set<std::string> held;
    {
        std::lock_guard create_lk(create_mu_);
        auto r = find(t, id);
        if (!r) return false;
        std::lock_guard wl(r->write_mu_);
        r->downloads.close();  // its counts go with it
        held = lfs_grants(*r);
        fs::path grave = tmp_ / ("deleted." + util::unique_suffix());
        util::rename_durable(r->dir, grave);
        r->deleted_ = true;
        {
            std::unique_lock lk(map_mu_);
            repos_.erase(key_of(t, id));
            names_.erase(key_of(t, id));
        }
        std::error_code ec;
        fs::remove_all(grave, ec);
    }
    // Its objects (LFS bytes, Xet files and their xorbs) go unless another repo holds them.
    try {
        drop_unheld(std::move(held));
    } catch (const std::exception&) {
        // The repo is gone; bytes left behind are reclaimed by a later deletion or sweep.
    }
    return true;
}

std::shared_ptr<repo> repo_store::move(repo& r, const std::string& to) {
    std::lock_guard create_lk(create_mu_);
    if (key_of(r.type, to) != key_of(r.type, r.id) && find(r.type, to))
        throw http_error(409, "", "Repository " + to + " already exists");
    {
        std::lock_guard wl(r.write_mu_);
        if (r.deleted_) throw http_error(404, "RepoNotFound", "Repository not found");
        fs::path dest = repo_dir(r.type, to);
        fs::create_directories(dest.parent_path());
        // Through a temp name: "Alice/m" -> "alice/m" must also work on a case-folding disk.
        fs::path via = tmp_ / ("moving." + util::unique_suffix());
        // The counts move with the folder; the repo found under `to` reads them from there.
        r.downloads.close();
        try {
            util::rename_durable(r.dir, via);
        } catch (...) {
            r.downloads.open(downloads_path(r.dir));
            throw;
        }
        auto meta = json::parse(util::read_file(via / "repo.json").value_or("{}")).as_object();
        meta["id"] = to;
        util::write_file_atomic(via / "repo.json", json::serialize(meta));
        util::rename_durable(via, dest);
        r.deleted_ = true;  // writers holding the old object fail instead of writing nowhere
    }
    std::unique_lock lk(map_mu_);
    repos_.erase(key_of(r.type, r.id));
    names_.erase(key_of(r.type, r.id));
    names_[key_of(r.type, to)] = to;
    moved_.erase(key_of(r.type, to));
    if (key_of(r.type, to) != key_of(r.type, r.id)) moved_[key_of(r.type, r.id)] = to;
    json::object all;
    for (auto& [k, v] : moved_) all[k] = v;
    util::write_file_atomic(root_ / "repos" / "moved.json", json::serialize(all));
    lk.unlock();
    return find(r.type, to);
}

std::optional<std::string> repo_store::moved_to(repo_type t, std::string_view id) {
    std::shared_lock lk(map_mu_);
    std::string key = key_of(t, id);
    for (int hops = 0; hops < 16; ++hops) {
        auto it = moved_.find(key);
        if (it == moved_.end()) return std::nullopt;
        key = key_of(t, it->second);
        if (names_.count(key)) return it->second;
    }
    return std::nullopt;
}


void repo_store::update_state(repo& r, const std::function<void(repo_state&)>& edit) {
    std::lock_guard wl(r.write_mu_);
    if (r.deleted_) throw http_error(404, "RepoNotFound", "Repository not found");
    repo_state next = *r.state();
    edit(next);
    write_state(r, next);
    std::lock_guard lk(r.state_mu_);
    r.state_ = std::make_shared<const repo_state>(std::move(next));
}

}  // namespace hfhub::server
