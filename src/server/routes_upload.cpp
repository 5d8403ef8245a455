// Writing: validate-yaml, preupload, the LFS batch API and its storage side, and the NDJSON
// commit.
#include "server/hub.hpp"
#include "server/lfs_batch_object.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <unordered_set>
#include <vector>

namespace hfhub::server {

namespace json = boost::json;

namespace {

constexpr std::uint64_t lfs_size_threshold = 10ull * 1024 * 1024;

// Patterns of .gitattributes lines that send files to LFS.
std::vector<std::string> lfs_patterns(std::string_view attrs) {
    std::vector<std::string> out;
    while (!attrs.empty()) {
        auto nl = attrs.find('\n');
        std::string_view line = attrs.substr(0, nl);
        attrs = nl == std::string_view::npos ? std::string_view{} : attrs.substr(nl + 1);
        if (line.empty() || line.front() == '#') continue;
        auto sp = line.find_first_of(" \t");
        if (sp == std::string_view::npos) continue;
        if (line.find("filter=lfs", sp) != std::string_view::npos) out.emplace_back(line.substr(0, sp));
    }
    return out;
}

bool matches_attr(const std::vector<std::string>& patterns, const std::string& path) {
    std::string_view base = path;
    if (auto slash = base.rfind('/'); slash != std::string_view::npos) base.remove_prefix(slash + 1);
    for (auto& p : patterns) {
        std::string_view pat = p;
        if (pat.starts_with('/')) pat.remove_prefix(1);
        bool anchored = pat.find('/') != std::string_view::npos;
        if (util::fnmatch(pat, anchored ? std::string_view(path) : base)) return true;
    }
    return false;
}

// A gitignore glob: '*' and '?' stay within a segment, "**" spans segments.
bool glob(std::string_view p, std::string_view s) {
    if (p.empty()) return s.empty();
    if (p.starts_with("**")) {
        p.remove_prefix(p.starts_with("**/") ? 3 : 2);
        for (std::size_t i = 0; i <= s.size(); ++i)
            if ((i == 0 || s[i - 1] == '/') && glob(p, s.substr(i))) return true;
        return false;
    }
    if (p.front() == '*') {
        for (std::size_t i = 0; i <= s.size(); ++i) {
            if (glob(p.substr(1), s.substr(i))) return true;
            if (i < s.size() && s[i] == '/') break;
        }
        return false;
    }
    if (s.empty() || (s.front() == '/' && p.front() != '/')) return false;
    if (p.front() != '?' && p.front() != s.front()) return false;
    return glob(p.substr(1), s.substr(1));
}

// Whether .gitignore text ignores `path` (a file): the last matching line wins, '!' re-includes,
// a trailing '/' matches folders only, a '/' before the end anchors the pattern at the root.
bool git_ignored(std::string_view rules, const std::string& path) {
    bool ignored = false;
    while (!rules.empty()) {
        auto nl = rules.find('\n');
        std::string_view line = rules.substr(0, nl);
        rules = nl == std::string_view::npos ? std::string_view{} : rules.substr(nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        bool negate = line.front() == '!';
        if (negate) line.remove_prefix(1);
        bool dir_only = line.ends_with('/');
        if (dir_only) line.remove_suffix(1);
        bool anchored = line.find('/') != std::string_view::npos;
        if (line.starts_with('/')) line.remove_prefix(1);
        // The path itself, and each folder above it.
        for (std::size_t end = path.find('/'); ; end = path.find('/', end + 1)) {
            bool is_file = end == std::string::npos;
            std::string_view prefix = std::string_view(path).substr(0, is_file ? path.size() : end);
            std::string_view base = prefix.substr(prefix.rfind('/') == std::string_view::npos ? 0 : prefix.rfind('/') + 1);
            if (!(dir_only && is_file) && glob(line, anchored ? prefix : base)) {
                ignored = !negate;
                break;
            }
            if (is_file) break;
        }
    }
    return ignored;
}

json::object parse_body(const std::string& body) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) throw http_error(400, "", "Expected a JSON object body");
    return std::move(v.as_object());
}

// The schema checks the Hub makes beyond YAML syntax: model-index is a list of
// {name, results: [...]} entries.
json::array metadata_errors(const YAML::Node& meta) {
    json::array errors;
    auto err = [&](const std::string& m) { errors.push_back(json::object{{"message", m}}); };
    YAML::Node mi = meta["model-index"];
    if (!mi) return errors;
    if (!mi.IsSequence()) {
        err("\"model-index\" must be an array");
        return errors;
    }
    for (std::size_t i = 0; i < mi.size(); ++i) {
        std::string at = "\"model-index[" + std::to_string(i) + "]\"";
        if (!mi[i].IsMap()) {
            err(at + " must be an object");
            continue;
        }
        if (!mi[i]["name"] || !mi[i]["name"].IsScalar()) err(at + ".name is required");
        if (!mi[i]["results"] || !mi[i]["results"].IsSequence()) err(at + ".results must be an array");
    }
    return errors;
}

std::uint64_t query_size(const request& req) {
    auto s = req.query_param("size");
    if (!s || s->empty() || s->size() > 19 || s->find_first_not_of("0123456789") != std::string::npos)
        throw http_error(400, "", "Missing size");
    return std::stoull(*s);
}

// The repo a signed upload URL was issued for, as "<type>~<ns>~<name>": '~' is in no repo
// name and needs no percent-encoding, so no client rewrites it and breaks the signature.
std::string upload_repo_param(repo_type t, const std::string& id) {
    std::string v = std::string(type_name(t)) + "~" + id;
    v[v.find('/')] = '~';
    return "&repo=" + v;
}

std::shared_ptr<repo> upload_target(repo_store& store, const request& req) {
    auto v = req.query_param("repo");  // covered by the URL's signature
    if (!v) return nullptr;
    auto a = v->find('~'), b = v->rfind('~');
    if (a == std::string::npos || a == b) return nullptr;
    auto t = parse_type(v->substr(0, a));
    return t ? store.find(*t, v->substr(a + 1, b - a - 1) + "/" + v->substr(b + 1)) : nullptr;
}

void discard(const request& req) {
    if (req.upload) {
        std::error_code ec;
        fs::remove(req.upload->file, ec);
    }
}

}  // namespace

response hub::validate_yaml(ctx& c) {
    // JSON, or a form with the same fields, as the Hub takes both.
    std::optional<std::string> content;
    auto ct = c.req.headers.get("Content-Type").value_or("");
    if (ct.starts_with("application/x-www-form-urlencoded") || (!ct.starts_with("application/json") &&
                                                                 !c.req.body.starts_with("{"))) {
        for (auto& [k, v] : parse_query(c.req.body))
            if (k == "content") content = v;
    } else {
        json::object body = parse_body(c.req.body);
        if (auto* cv = body.if_contains("content"); cv && cv->is_string()) content = std::string(cv->as_string());
    }
    if (!content) throw http_error(400, "", "'content' is required");
    std::string_view text = *content;
    json::array warnings;
    auto no_metadata = [&] { warnings.push_back(json::object{{"message", "empty or missing yaml metadata in repo card"}}); };
    if (!text.starts_with("---")) no_metadata();
    if (text.starts_with("---")) {
        auto end = text.find("\n---", 3);
        if (end == std::string_view::npos) {
            json::array errors{json::object{{"message", "Unterminated YAML front matter"}}};
            return json_response(400, json::serialize(json::object{{"errors", std::move(errors)}}));
        }
        try {
            YAML::Node n = YAML::Load(std::string(text.substr(3, end - 3)));
            if (n && !n.IsNull() && !n.IsMap()) throw YAML::Exception(YAML::Mark(), "metadata must be a mapping");
            if (!n || n.IsNull() || n.size() == 0) no_metadata();
            else if (auto errors = metadata_errors(n); !errors.empty())
                return json_response(400, json::serialize(json::object{{"errors", std::move(errors)}}));
        } catch (const YAML::Exception& e) {
            json::array errors{json::object{{"message", std::string("Invalid YAML in the model card: ") + e.what()}}};
            return json_response(400, json::serialize(json::object{{"errors", std::move(errors)}}));
        }
    }
    return json_response(200, json::serialize(json::object{{"warnings", std::move(warnings)}}));
}

response hub::preupload(ctx& c, repo_type t, const std::string& id, const std::string& rev) {
    auto r = contributable(c, t, id, c.req.query_flag("create_pr") || own_pr(c, t, id, rev));
    auto res = must_resolve(*r, rev);
    auto cm = must_load(*r, res.commit);
    json::object body = parse_body(c.req.body);
    auto* files = body.if_contains("files");
    if (!files || !files->is_array()) throw http_error(400, "", "'files' is required");
    if (files->as_array().size() > 1000) throw http_error(413, "", "Too many files in one preupload (at most 1000)");

    std::string attrs;
    if (auto* ga = body.if_contains("gitAttributes"); ga && ga->is_string()) attrs = json::value_to<std::string>(*ga);
    else if (auto it = cm->files.find(".gitattributes"); it != cm->files.end())
        attrs = util::read_file(blobs_.path_of(it->second.oid)).value_or("");
    auto patterns = lfs_patterns(attrs);
    std::string ignore;
    if (auto* gi = body.if_contains("gitIgnore"); gi && gi->is_string()) ignore = json::value_to<std::string>(*gi);
    else if (auto it = cm->files.find(".gitignore"); it != cm->files.end())
        ignore = util::read_file(blobs_.path_of(it->second.oid)).value_or("");

    json::array out;
    for (auto& fv : files->as_array()) {
        if (!fv.is_object()) throw http_error(400, "", "files[] entries are objects");
        auto& f = fv.as_object();
        auto* pv = f.if_contains("path");
        if (!pv || !pv->is_string()) throw http_error(400, "", "files[].path is required");
        std::string raw = json::value_to<std::string>(*pv);
        std::string why;
        auto path = util::normalize_repo_path(raw, why);
        if (!path) throw http_error(422, "", "Invalid path '" + raw + "': " + why);
        std::uint64_t size = 0;
        if (auto* sv = f.if_contains("size"); sv && sv->is_number()) size = sv->to_number<std::uint64_t>();
        std::string sample;
        if (auto* sv = f.if_contains("sample"); sv && sv->is_string())
            util::base64_decode(sv->as_string(), sample);
        bool lfs = size > 0 && (size >= lfs_size_threshold || sample.find('\0') != std::string::npos ||
                                matches_attr(patterns, *path));
        json::object o{{"path", raw}, {"uploadMode", lfs ? "lfs" : "regular"}, {"shouldIgnore", git_ignored(ignore, *path)}};
        if (auto it = cm->files.find(*path); it != cm->files.end())
            o["oid"] = it->second.is_lfs() ? it->second.lfs_sha256 : it->second.oid;
        out.push_back(std::move(o));
    }
    return json_response(200, json::serialize(json::object{{"files", std::move(out)}, {"commitOid", cm->id}}));
}

response hub::lfs_batch(ctx& c, repo_type t, const std::string& id) {
    json::object body = parse_body(c.req.body);
    std::string op = body.contains("operation") && body.at("operation").is_string()
                         ? json::value_to<std::string>(body.at("operation"))
                         : "";
    if (op != "upload" && op != "download") throw http_error(422, "", "operation must be upload or download");
    // An upload for a pull request names no ref (Python) or a refs/pr/ one: any signed-in
    // reader may send those, as anyone may open a PR on a public repo.
    std::string ref;
    if (auto* rv = body.if_contains("ref"); rv && rv->is_object())
        if (auto* n = rv->as_object().if_contains("name"); n && n->is_string()) ref = std::string(n->as_string());
    bool for_pr = ref.empty() || ref.starts_with("refs/pr/") || ref.starts_with("refs%2Fpr%2F");
    auto target = op == "upload" ? contributable(c, t, id, for_pr) : downloadable(c, t, id);
    const bool writer = auth_.may_write(c.who, target->ns());
    if (auto* algo = body.if_contains("hash_algo"); algo && !(*algo == "sha256" || *algo == "sha_256"))
        throw http_error(422, "", "Unsupported hash_algo");
    bool multipart_ok = false, xet_ok = false;
    if (auto* tr = body.if_contains("transfers"); tr && tr->is_array())
        for (auto& x : tr->as_array()) {
            multipart_ok |= x == "multipart";
            xet_ok |= x == "xet";
        }
    auto* objects = body.if_contains("objects");
    if (!objects || !objects->is_array()) throw http_error(422, "", "'objects' is required");
    if (objects->as_array().size() > 1000) throw http_error(413, "", "Too many objects (at most 1000)");
    // A Xet-enabled repo sends uploads to the CAS when the client speaks Xet; the others keep
    // basic/multipart.
    if (op == "upload" && xet_ok && target->state()->xet_enabled)
        return xet_batch(c, t, id, *target, ref, for_pr, objects->as_array());

    bool any_multipart = false;
    json::array out;
    const auto granted = store_.lfs_grants(*target);
    for (auto& ov : objects->as_array()) {
        json::object o;
        auto obj = read_batch_object(ov, o);
        if (!obj) {
            out.push_back(std::move(o));
            continue;
        }
        const std::string& oid = obj->oid;
        const std::uint64_t usize = obj->size;
        auto have = lfs_.stat(oid);
        if (op == "download") {
            if (!have || !granted.contains(oid)) o["error"] = json::object{{"code", 404}, {"message", "Object does not exist"}};
            else o["actions"] = json::object{{"download", json::object{{"href", sign_storage_url("/lfs/" + oid)}}}};
            out.push_back(std::move(o));
            continue;
        }
        // Stored but not granted: this repo must still show the bytes, so it gets the actions.
        if (have && *have == usize && granted.contains(oid)) {
            out.push_back(std::move(o));
            continue;
        }
        std::string sz = std::to_string(usize);
        // On the API origin, as on the Hub: clients send their token with verify. Only writers
        // may verify (it tells what the repo holds): a PR author's batch has no verify action,
        // so the clients skip the call.
        json::object verify{{"href", repo_url(t, id) + ".git/info/lfs/objects/verify"}};
        auto with_verify = [&](json::object actions) {
            if (writer) actions["verify"] = verify;
            return actions;
        };
        if (multipart_ok && usize >= cfg_.multipart_threshold) {
            any_multipart = true;
            std::string upload = util::random_hex(8);
            std::uint64_t chunk = cfg_.multipart_chunk;
            std::uint64_t parts = (usize + chunk - 1) / chunk;
            json::object header{{"chunk_size", std::to_string(chunk)}};
            for (std::uint64_t i = 1; i <= parts; ++i) {
                char key[16];
                std::snprintf(key, sizeof key, "%05llu", static_cast<unsigned long long>(i));
                header[key] = sign_storage_url("/multipart/" + oid + "/" + upload + "/" + std::to_string(i) +
                                               "?size=" + sz + "&chunk=" + std::to_string(chunk));
            }
            std::string done = sign_storage_url("/multipart/" + oid + "/" + upload + "/complete?size=" + sz +
                                                "&chunk=" + std::to_string(chunk) + upload_repo_param(t, id));
            o["actions"] = with_verify({{"upload", json::object{{"href", done}, {"header", std::move(header)}}}});
        } else {
            o["actions"] = with_verify({{"upload", json::object{{"href", sign_storage_url(
                                                                    "/upload/" + oid + "?size=" + sz + upload_repo_param(t, id))}}}});
        }
        out.push_back(std::move(o));
    }
    response resp;
    resp.headers.add("Content-Type", "application/vnd.git-lfs+json");
    resp.body = json::serialize(json::object{
        {"transfer", any_multipart ? "multipart" : "basic"}, {"objects", std::move(out)}, {"hash_algo", "sha256"}});
    return resp;
}

response hub::storage_put(ctx& c, const std::string& sha) {
    std::uint64_t size = query_size(c.req);
    if (!c.req.upload) throw http_error(400, "", "Missing body");
    const auto& up = *c.req.upload;
    if (up.size != size || up.sha256 != sha) {
        discard(c.req);
        throw http_error(400, "", "Uploaded content does not match its oid and size (got sha256 " + up.sha256 +
                                      ", " + std::to_string(up.size) + " bytes)");
    }
    // The bytes are the object's: a stored object is granted just the same.
    auto target = upload_target(store_, c.req);
    if (!store_.put_lfs(target.get(), sha, up.file)) discard(c.req);
    return json_response(200, "{}");
}

hub::part_ref hub::part_of(const request& req, const std::string& sha, const std::string& upload,
                           const std::string& part) const {
    std::uint64_t size = query_size(req);
    auto chunk_s = req.query_param("chunk");
    if (!chunk_s || chunk_s->empty() || chunk_s->size() > 15 ||
        chunk_s->find_first_not_of("0123456789") != std::string::npos)
        throw http_error(400, "", "Missing or invalid chunk size");
    std::uint64_t chunk = std::stoull(*chunk_s);
    if (chunk == 0) throw http_error(400, "", "Missing or invalid chunk size");
    part_ref p;
    p.parts = (size + chunk - 1) / chunk;
    if (part.empty() || part.size() > 6 || part.find_first_not_of("0123456789") != std::string::npos)
        throw http_error(400, "", "Invalid part number");
    p.n = std::stoull(part);
    if (p.n == 0 || p.n > p.parts) throw http_error(400, "", "Invalid part number");
    p.offset = (p.n - 1) * chunk;
    p.length = p.n == p.parts ? size - p.offset : chunk;
    p.dir = temp_dir() / ("mp-" + sha + "-" + upload);
    return p;
}

response hub::storage_part(ctx& c, const std::string& sha, const std::string& upload, const std::string& part) {
    if (!c.req.upload) throw http_error(400, "", "Missing body");
    part_ref p;
    try {
        p = part_of(c.req, sha, upload, part);
    } catch (...) {
        discard(c.req);
        throw;
    }
    if (c.req.upload->size != p.length) {
        discard(c.req);
        throw http_error(400, "", "Part " + part + " must have " + std::to_string(p.length) + " bytes");
    }
    std::string etag;
    if (auto id = c.req.upload->in_place_claim) {
        try {
            etag = assembly_.accept(p.dir, p.n, id);
        } catch (const std::runtime_error& e) {
            throw http_error(500, "", std::string("Part not stored: ") + e.what());
        }
    } else {
        fs::create_directories(p.dir);
        auto e = assembly_.accept_file(p.dir, p.parts, p.n, p.offset, p.length, c.req.upload->file);
        if (!e) {
            response r = error_response(503, "", "Part " + part + " is being uploaded by another request");
            r.headers.add("Retry-After", "1");
            return r;
        }
        etag = *e;
    }
    response r = json_response(200, "{}");
    r.headers.add("ETag", quote_etag(etag));
    return r;
}

response hub::storage_complete(ctx& c, const std::string& sha, const std::string& upload) {
    std::uint64_t size = query_size(c.req);
    auto chunk_s = c.req.query_param("chunk");
    if (!chunk_s) throw http_error(400, "", "Missing chunk size");
    std::uint64_t chunk = std::stoull(*chunk_s);
    std::uint64_t parts = chunk ? (size + chunk - 1) / chunk : 0;
    json::object body = parse_body(c.req.body);
    auto* pv = body.if_contains("parts");
    if (!pv || !pv->is_array()) throw http_error(400, "", "'parts' is required");
    fs::path dir = temp_dir() / ("mp-" + sha + "-" + upload);
    std::error_code ec;

    std::map<std::uint64_t, std::string> etags;
    for (auto& p : pv->as_array()) {
        if (!p.is_object() || !p.as_object().contains("partNumber") || !p.as_object().contains("etag"))
            throw http_error(400, "", "parts[] need partNumber and etag");
        std::string e = json::value_to<std::string>(p.at("etag"));
        if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
        etags[p.at("partNumber").to_number<std::uint64_t>()] = std::move(e);
    }
    if (etags.size() != parts || (parts && (etags.begin()->first != 1 || etags.rbegin()->first != parts)))
        throw http_error(400, "", "Expected parts 1.." + std::to_string(parts));

    // Even when the object is stored already (another repo's upload, or a concurrent one), the
    // parts are joined and hashed: only bytes that are the object grant this repo the object.
    auto target = upload_target(store_, c.req);
    auto taken = assembly_.take(dir, parts, etags);
    if (auto* why = std::get_if<std::string>(&taken)) {
        // A retried completion whose first try succeeded: the grant is there, any parts are of no use.
        if (lfs_.stat(sha) == size && target && store_.lfs_grants(*target).contains(sha)) {
            assembly_.forget(dir);
            fs::remove_all(dir, ec);
            return json_response(200, "{}");
        }
        throw http_error(400, "", *why);
    }
    auto& j = std::get<multipart_assembly::joined>(taken);
    if (j.sha256 != sha || j.size != size) {
        fs::remove_all(dir, ec);  // the parts can never form this object
        throw http_error(400, "", "Assembled object does not match its oid and size (got sha256 " + j.sha256 + ")");
    }
    try {
        store_.put_lfs(target.get(), sha, j.file);
    } catch (...) {
        fs::remove_all(dir, ec);
        throw;
    }
    fs::remove_all(dir, ec);  // the parts, and the joined copy if the store had the object
    return json_response(200, "{}");
}

response hub::lfs_verify(ctx& c, repo_type t, const std::string& id) {
    auto r = writable(c, t, id);
    json::object body = parse_body(c.req.body);
    std::string oid;
    std::int64_t size = -1;
    if (auto* v = body.if_contains("oid"); v && v->is_string()) oid = json::value_to<std::string>(*v);
    if (auto* v = body.if_contains("size"); v && v->is_number()) size = v->to_number<std::int64_t>();
    if (!util::is_hex(oid, 64) || size < 0) throw http_error(422, "", "Invalid object: needs a sha256 oid and a size");
    // Stored but not granted answers as missing: verify must not tell what other repos hold.
    auto have = lfs_.stat(oid);
    if (!have || !store_.lfs_grants(*r).contains(oid)) throw http_error(404, "", "Object " + oid + " not found");
    if (*have != static_cast<std::uint64_t>(size)) throw http_error(422, "", "Object " + oid + " has another size");
    return json_response(200, "{}");
}

response hub::commit_ndjson(ctx& c, repo_type t, const std::string& id, const std::string& rev) {
    commit_request req;
    req.revision = rev;
    req.author = c.who.who ? c.who.who->name : "local";
    req.create_pr = c.req.query_flag("create_pr");
    auto r = contributable(c, t, id, req.create_pr || own_pr(c, t, id, rev));

    parse_commit_payload(c.req.body, req);

    // An LFS object must have been uploaded through this repo, or be in the revision already
    // (a copy) and not deleted from the repo since; the same message either way, so this can't
    // probe for objects elsewhere.
    std::shared_ptr<const commit> head;
    bool head_loaded = false;
    auto log = store_.lfs_grant_history(*r);
    std::unordered_set<std::string> granted;
    for (auto& [oid, _] : log.granted) granted.insert(oid);
    for (auto& op : req.ops) {
        if (op.what != commit_op::kind::add_lfs || granted.contains(op.sha256)) continue;
        if (log.revoked.contains(op.sha256))
            throw http_error(422, "", "LFS object " + op.sha256 + " for " + op.path + " has not been uploaded");
        if (!head_loaded) {
            head_loaded = true;
            if (auto res = store_.resolve(*r, rev)) head = store_.load_commit(*r, res->commit);
        }
        bool in_head = head && std::any_of(head->files.begin(), head->files.end(),
                                           [&](auto& f) { return f.second.lfs_sha256 == op.sha256; });
        if (!in_head)
            throw http_error(422, "", "LFS object " + op.sha256 + " for " + op.path + " has not been uploaded");
    }
    auto result = store_.apply_commit(*r, req);
    std::vector<std::string> taken_in;
    for (auto& op : req.ops)
        if (op.what == commit_op::kind::add_lfs) taken_in.push_back(op.sha256);
    store_.grant_lfs(*r, taken_in, granted);
    json::object o{{"success", true},
                   {"commitOid", result.commit},
                   {"commitUrl", repo_url(t, id) + "/commit/" + result.commit},
                   {"hookOutput", ""}};
    if (result.pr_num) o["pullRequestUrl"] = repo_url(t, id) + "/discussions/" + std::to_string(*result.pr_num);
    return json_response(200, json::serialize(o));
}

}  // namespace hfhub::server
