#include "server/repo_store.hpp"

#include "server/message.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <limits>
#include <set>
#include <fcntl.h>

namespace hfhub::server {

namespace json = boost::json;

namespace {

constexpr std::uint64_t max_regular_file = 10ull * 1024 * 1024;

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

std::int64_t now_seconds() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string state_json(const repo_state& s) {
    json::object o;
    o["private"] = s.is_private;
    o["gated"] = s.gated;
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
                                         const std::vector<initial_file>& files) {
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
    std::lock_guard create_lk(create_mu_);
    auto r = find(t, id);
    if (!r) return false;
    std::lock_guard wl(r->write_mu_);
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
        util::rename_durable(r.dir, via);
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

void repo_store::update_state(repo& r, const std::function<void(repo_state&)>& edit) {
    std::lock_guard wl(r.write_mu_);
    if (r.deleted_) throw http_error(404, "RepoNotFound", "Repository not found");
    repo_state next = *r.state();
    edit(next);
    write_state(r, next);
    std::lock_guard lk(r.state_mu_);
    r.state_ = std::make_shared<const repo_state>(std::move(next));
}

commit_result repo_store::apply_commit(repo& r, const commit_request& req) {
    std::lock_guard wl(r.write_mu_);
    if (r.deleted_) throw http_error(404, "RepoNotFound", "Repository not found");
    auto st = r.state();

    // Where the commit goes.
    std::string base;
    int target_pr = 0;
    std::string branch;
    if (req.revision.starts_with("refs/pr/")) {
        auto res = resolve(r, req.revision);
        if (!res) throw http_error(404, "RevisionNotFound", "Invalid rev id: " + req.revision);
        if (req.create_pr) throw http_error(400, "", "Cannot open a pull request from a pull request ref");
        target_pr = std::stoi(req.revision.substr(8));
        base = res->commit;
    } else {
        branch = req.revision.starts_with("refs/heads/") ? req.revision.substr(11) : req.revision;
        auto it = st->branches.find(branch);
        if (it == st->branches.end()) throw http_error(404, "RevisionNotFound", "Invalid rev id: " + req.revision);
        base = it->second;
    }
    if (req.parent) {
        std::string p = *req.parent;
        for (char& ch : p) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        bool hex = p.size() >= 5 && p.size() <= 40 && p.find_first_not_of("0123456789abcdef") == std::string::npos;
        if (!hex) throw http_error(400, "", "Invalid parentCommit: " + *req.parent);
        if (!base.starts_with(p))
            throw http_error(412, "", "A commit has happened since. Please refresh and try again.");
    }
    auto parent = load_commit(r, base);
    if (!parent) throw http_error(500, "", "Head commit " + base + " is unreadable");

    tree_map files = parent->files;
    std::vector<const std::string*> contents;
    for (auto& op : req.ops) {
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
                if (!util::is_hex(op.sha256, 64))
                    throw http_error(422, "", "Invalid LFS oid for " + *path);
                auto size = lfs_.stat(op.sha256);
                if (!size)
                    throw http_error(422, "", "LFS object " + op.sha256 + " for " + *path +
                                                  " has not been uploaded");
                if (op.size && *op.size != *size)
                    throw http_error(422, "", "LFS object " + op.sha256 + " has size " + std::to_string(*size) +
                                                  ", not " + std::to_string(*op.size));
                files[*path] = {util::git_blob_sha1(util::lfs_pointer(op.sha256, *size)), *size, op.sha256};
                break;
            }
            case kind::delete_file:
                if (files.erase(*path) != 0) break;
                // The Hub deletes a folder named by a deletedFile, as git rm -r would.
                if (auto it = files.lower_bound(*path + "/"); it != files.end() && it->first.starts_with(*path + "/")) {
                    while (it != files.end() && it->first.starts_with(*path + "/")) it = files.erase(it);
                    break;
                }
                throw http_error(404, "EntryNotFound", "A file with this name doesn't exist: " + *path);
            case kind::delete_folder: {
                std::string prefix = *path + "/";
                auto it = files.lower_bound(prefix);
                if (it == files.end() || !it->first.starts_with(prefix))
                    throw http_error(404, "EntryNotFound", "A folder with this name doesn't exist: " + *path);
                while (it != files.end() && it->first.starts_with(prefix)) it = files.erase(it);
                break;
            }
        }
    }
    // A path can't be both a file and a folder.
    for (auto& [path, _] : files)
        for (auto slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1))
            if (files.count(path.substr(0, slash)))
                throw http_error(422, "", "'" + path.substr(0, slash) + "' is a file, so '" + path +
                                              "' can't be added under it");

    // Objects first, then the commit, then the one atomic ref update.
    blobs_.put_all(contents);
    commit c;
    c.parents = {base};
    c.title = req.summary.empty() ? "Upload files" : req.summary;
    c.message = req.description;
    c.author = req.author;
    c.time = now_seconds();
    c.files = std::move(files);
    std::string id = write_commit(r, c);

    repo_state next = *st;
    commit_result result{id, std::nullopt};
    discussion_event pushed{util::random_hex(12), "commit", req.author, c.time, c.title, id};
    if (target_pr) {
        for (auto& d : next.discussions)
            if (d.num == target_pr) {
                d.head = id;
                d.events.push_back(pushed);
            }
        result.pr_num = target_pr;
    } else if (req.create_pr) {
        int num = 1;
        for (auto& d : next.discussions) num = std::max(num, d.num + 1);
        discussion d{num, c.title, req.description, req.author, true, "open", c.time, id, base};
        d.events.push_back(pushed);
        next.discussions.push_back(std::move(d));
        result.pr_num = num;
    } else {
        next.branches[branch] = id;
    }
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
