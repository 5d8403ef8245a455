// Reading files: resolve, tree listings, paths-info, and the storage origin's downloads.
#include "server/hub.hpp"

#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

#include <set>

namespace hfhub::server {

namespace json = boost::json;

namespace {

// The files a model's downloads are counted from when its library names none, as on the Hub
// (at the root only). Library-specific query files are not known here.
bool is_query_file(std::string_view path) {
    for (std::string_view q : {"config.json", "config.yaml", "hyperparams.yaml", "params.json", "meta.yaml"})
        if (path == q) return true;
    return false;
}

// The Hub counts a dataset's downloads per client and repo within 5 minutes as one.
constexpr std::int64_t dataset_download_window = 300;

}  // namespace

std::int64_t download_day(std::int64_t unix_seconds) {
    return unix_seconds >= 0 ? unix_seconds / 86400 : -((-unix_seconds + 86399) / 86400);
}

void hub::count_download(const ctx& c, repo& r, const std::string& path) {
    std::int64_t t = now();
    if (r.type == repo_type::model) {
        if (!is_query_file(path)) return;
    } else if (r.type == repo_type::dataset) {
        std::lock_guard lk(dataset_dl_mu_);
        auto key = std::make_pair(r.object_id, c.req.remote);
        auto it = dataset_dl_.find(key);
        if (it != dataset_dl_.end() && t >= it->second && t - it->second < dataset_download_window) return;
        dataset_dl_[key] = t;
        if (dataset_dl_.size() > 4096)
            std::erase_if(dataset_dl_, [&](auto& e) { return t - e.second >= dataset_download_window; });
    } else {
        return;  // the Hub reports no downloads for Spaces
    }
    try {
        r.downloads.add(download_day(t));
    } catch (const std::exception&) {
        // A count that can't be written is not worth failing the download over.
    }
}


response hub::resolve_file(ctx& c, repo_type t, const std::string& id, const std::string& rev,
                           const std::string& raw_path, bool raw) {
    auto r = downloadable(c, t, id);
    auto res = must_resolve(*r, rev);
    auto cm = must_load(*r, res.commit);
    auto it = cm->files.find(checked_path(raw_path));
    if (it == cm->files.end()) {
        response e = error_response(404, "EntryNotFound", "Entry not found");
        e.headers.add("X-Repo-Commit", cm->id);
        e.head = c.req.method == "HEAD";
        return e;
    }
    const file_entry& f = it->second;
    header_list h;
    h.add("X-Repo-Commit", cm->id);
    // Its object was permanently deleted from this repo (lfs-files/batch): the pointer stays
    // in the commits it was not rewritten out of, the bytes are gone for this repo.
    if (f.is_lfs() && !raw && !store_.lfs_grants(*r).contains(f.lfs_sha256)) {
        response e = error_response(404, "EntryNotFound", "The LFS object of " + it->first + " was permanently deleted");
        e.headers.add("X-Repo-Commit", cm->id);
        e.head = c.req.method == "HEAD";
        return e;
    }
    if (f.is_lfs() && raw) {
        response ptr;
        ptr.headers = std::move(h);
        ptr.headers.add("ETag", quote_etag(f.oid));
        ptr.headers.add("Content-Type", "text/plain; charset=utf-8");
        ptr.body = util::lfs_pointer(f.lfs_sha256, f.size);
        ptr.head = c.req.method == "HEAD";
        return ptr;
    }
    auto xet = f.is_lfs() ? xet_backing(f.lfs_sha256) : std::nullopt;
    if (xet) add_xet_headers(h, t, r->id, cm->id, xet->hash);
    // The JS client asks for the file's Xet info instead of its bytes, as the Hub answers it.
    if (xet && c.req.headers.get("Accept").value_or("").find("application/vnd.xet-fileinfo+json") != std::string_view::npos) {
        response info = json_response(200, json::serialize(json::object{
                                               {"hash", xet->hash},
                                               {"size", f.size},
                                               {"refreshUrl", cfg_.base_url + "/api/" + std::string(type_plural(t)) + "/" +
                                                                  r->id + "/xet-read-token/" + cm->id},
                                               {"reconstructionUrl", cfg_.storage_url + "/v1/reconstructions/" + xet->hash},
                                               {"etag", f.lfs_sha256}}));
        info.headers.items.insert(info.headers.items.begin(), h.items.begin(), h.items.end());
        info.headers.set("Content-Type", "application/vnd.xet-fileinfo+json");
        info.headers.add("X-Linked-Etag", quote_etag(f.lfs_sha256));
        info.headers.add("X-Linked-Size", std::to_string(f.size));
        info.headers.add("ETag", quote_etag(f.lfs_sha256));
        info.head = c.req.method == "HEAD";
        count_download(c, *r, it->first);
        return info;
    }
    if (f.is_lfs()) {
        // The bytes live on another origin, behind a signed, expiring URL.
        response red;
        red.status = 302;
        red.headers = std::move(h);
        red.headers.add("X-Linked-Etag", quote_etag(f.lfs_sha256));
        red.headers.add("X-Linked-Size", std::to_string(f.size));
        red.headers.add("ETag", quote_etag(f.lfs_sha256));
        red.headers.add("Location", sign_storage_url("/lfs/" + f.lfs_sha256 + "?commit=" + cm->id));
        red.head = c.req.method == "HEAD";
        count_download(c, *r, it->first);
        return red;
    }
    h.add("ETag", quote_etag(f.oid));
    response ans = file_answer(c.req, blobs_.path_of(f.oid), f.size, std::move(h));
    // Each served request counts, ranges and HEAD included; /raw/ is not a download.
    if (!raw && ans.status < 400) count_download(c, *r, it->first);
    return ans;
}

response hub::storage_get(ctx& c, const std::string& sha) {
    auto path = lfs_.local_path(sha);
    auto size = lfs_.stat(sha);
    std::optional<xet_file> xet;
    if (!path && size) xet = xet_backing(sha);
    if (!size || (!path && !xet)) throw http_error(404, "", "Object not found");
    header_list h;
    h.add("ETag", quote_etag(sha));
    if (auto commit = c.req.query_param("commit"); commit && util::is_hex(*commit, 40))
        h.add("X-Repo-Commit", *commit);
    // Stored through Xet: the bytes are rebuilt from the xorbs as they are sent.
    if (xet) return xet_object_answer(c.req, *xet, std::move(h));
    return file_answer(c.req, *path, *size, std::move(h));
}

json::object hub::file_json(repo& r, const std::shared_ptr<const commit>& cm, const std::string& path,
                            const file_entry& e, bool expand) {
    json::object o{{"type", "file"}, {"oid", e.oid}, {"size", e.size}, {"path", path}};
    if (e.is_lfs())
        o["lfs"] = json::object{{"oid", e.lfs_sha256},
                                {"size", e.size},
                                {"pointerSize", util::lfs_pointer(e.lfs_sha256, e.size).size()}};
    if (expand) {
        auto last = store_.last_change(r, cm, path);
        o["lastCommit"] = json::object{{"id", last->id}, {"title", last->title}, {"date", iso_time(last->time)}};
        // The shape the clients parse; nothing is scanned here, and the answer says so.
        o["securityFileStatus"] = json::object{
            {"status", "unscanned"},
            {"avScan", json::object{{"status", "unscanned"}, {"virusNames", nullptr}}},
            {"pickleImportScan", json::object{{"status", "unscanned"}, {"pickleImports", nullptr}}}};
    }
    return o;
}

json::object hub::folder_json(const commit& cm, const std::string& path) {
    auto& oids = cm.folder_oids();
    auto it = oids.find(path);
    return {{"type", "directory"}, {"oid", it == oids.end() ? std::string() : it->second}, {"size", 0}, {"path", path}};
}

response hub::tree(ctx& c, repo_type t, const std::string& id, const std::string& rev, const std::string& raw_path) {
    auto r = readable(c, t, id);
    auto res = must_resolve(*r, rev);
    auto cm = must_load(*r, res.commit);
    std::string path;
    // A trailing "/" names the same folder; strip it before the empty-segment check.
    std::string_view trimmed = raw_path;
    while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
    if (!trimmed.empty()) {
        path = checked_path(trimmed);
    }
    bool recursive = c.req.query_flag("recursive"), expand = c.req.query_flag("expand");
    std::size_t limit = expand ? 100 : 1000;
    if (auto l = c.req.query_param("limit"); l && !l->empty() && l->size() < 7 &&
                                             l->find_first_not_of("0123456789") == std::string::npos)
        limit = std::clamp<std::size_t>(std::stoul(*l), 1, 10000);
    // The cursor is "<offset>:<commit>": later pages list the commit the first page listed,
    // even if the branch moved meanwhile.
    std::size_t offset = 0;
    if (auto cur = c.req.query_param("cursor"); cur && !cur->empty()) {
        std::string dec;
        if (!util::base64_decode(*cur, dec)) throw http_error(400, "", "Invalid cursor");
        auto colon = dec.find(':');
        std::string num = dec.substr(0, colon);
        if (num.empty() || num.find_first_not_of("0123456789") != std::string::npos || num.size() > 12)
            throw http_error(400, "", "Invalid cursor");
        offset = std::stoull(num);
        if (colon != std::string::npos) {
            auto pinned = store_.load_commit(*r, dec.substr(colon + 1));
            if (!pinned) throw http_error(400, "", "Invalid cursor");
            cm = std::move(pinned);
        }
    }

    std::string prefix = path.empty() ? "" : path + "/";
    auto first = cm->files.lower_bound(prefix);
    if (!path.empty() && (first == cm->files.end() || !first->first.starts_with(prefix)))
        throw http_error(404, "EntryNotFound", "Entry not found: " + path);

    // Walk in path order, emitting each folder once, before its first file.
    std::vector<std::pair<bool, std::string>> entries;  // (is_folder, path)
    std::set<std::string, std::less<>> seen;
    for (auto it = first; it != cm->files.end() && it->first.starts_with(prefix); ++it) {
        std::string_view rel = std::string_view(it->first).substr(prefix.size());
        for (auto slash = rel.find('/'); slash != std::string_view::npos; slash = rel.find('/', slash + 1)) {
            std::string folder = prefix + std::string(rel.substr(0, slash));
            if (seen.insert(folder).second) entries.emplace_back(true, folder);
            if (!recursive) break;
        }
        if (recursive || rel.find('/') == std::string_view::npos) entries.emplace_back(false, it->first);
    }

    json::array out;
    std::size_t end = std::min(entries.size(), offset + limit);
    for (std::size_t i = offset; i < end; ++i) {
        auto& [is_folder, p] = entries[i];
        out.push_back(is_folder ? folder_json(*cm, p) : file_json(*r, cm, p, cm->files.at(p), expand));
    }
    response resp = json_response(200, json::serialize(out));
    if (end < entries.size()) {
        std::string next = cfg_.base_url + c.req.path + "?recursive=" + (recursive ? "true" : "false") +
                           "&expand=" + (expand ? "true" : "false") + "&limit=" + std::to_string(limit) +
                           "&cursor=" +
                           util::percent_encode(util::base64_encode(std::to_string(end) + ":" + cm->id), false);
        resp.headers.add("Link", "<" + next + ">; rel=\"next\"");
    }
    return resp;
}

response hub::paths_info(ctx& c, repo_type t, const std::string& id, const std::string& rev) {
    auto r = readable(c, t, id);
    auto res = must_resolve(*r, rev);
    auto cm = must_load(*r, res.commit);
    std::vector<std::string> paths;
    bool expand = false;
    auto ct = c.req.headers.get("Content-Type").value_or("");
    std::string_view body = c.req.body;
    bool is_json = ct.starts_with("application/json") ||
                   (!ct.starts_with("application/x-www-form-urlencoded") && body.starts_with("{"));
    if (is_json) {
        boost::system::error_code ec;
        json::value v = json::parse(body, ec);
        if (ec || !v.is_object() || !v.as_object().contains("paths") || !v.at("paths").is_array())
            throw http_error(400, "", "Expected a JSON body {\"paths\": [...]}");
        for (auto& p : v.at("paths").as_array()) {
            if (!p.is_string()) throw http_error(400, "", "paths must be strings");
            paths.push_back(json::value_to<std::string>(p));
        }
        if (auto* e = v.as_object().if_contains("expand")) expand = e->is_bool() ? e->as_bool() : false;
    } else {
        for (auto& [k, v] : parse_query(body)) {
            if (k == "paths") paths.push_back(v);
            if (k == "expand") expand = v == "true" || v == "1" || v == "True";
        }
    }
    if (paths.size() > 1000) throw http_error(413, "", "Too many paths (at most 1000)");
    json::array out;
    auto& folders = cm->folder_oids();
    for (auto& raw : paths) {
        std::string why;
        std::string_view trimmed = raw;
        while (!trimmed.empty() && trimmed.back() == '/') trimmed.remove_suffix(1);
        auto p = util::normalize_repo_path(trimmed, why);
        if (!p) continue;
        if (auto it = cm->files.find(*p); it != cm->files.end())
            out.push_back(file_json(*r, cm, *p, it->second, expand));
        else if (folders.count(*p))
            out.push_back(folder_json(*cm, *p));
    }
    return json_response(200, json::serialize(out));
}

}  // namespace hfhub::server
