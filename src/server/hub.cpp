// Routing, access checks, and the helpers every route shares.
#include "server/hub.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

#include <ctime>
#include <sys/stat.h>

namespace hfhub::server {

namespace json = boost::json;

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> segs;
    if (path.starts_with('/')) path.remove_prefix(1);
    while (true) {
        auto slash = path.find('/');
        segs.emplace_back(path.substr(0, slash));
        if (slash == std::string_view::npos) break;
        path.remove_prefix(slash + 1);
    }
    return segs;
}

std::string decode(std::string_view seg) {
    auto d = util::percent_decode(seg);
    if (!d) throw http_error(400, "", "Malformed percent-encoding in the URL");
    return *d;
}

// Joins decoded segments [from, end).
std::string join_decoded(const std::vector<std::string>& segs, std::size_t from) {
    std::string out;
    for (std::size_t i = from; i < segs.size(); ++i) {
        if (i > from) out.push_back('/');
        out += decode(segs[i]);
    }
    return out;
}

// A revision at segs[i], possibly spelled unencoded as refs/pr/N; returns how many
// segments it took.
std::size_t take_revision(const std::vector<std::string>& segs, std::size_t i, std::string& rev) {
    rev = decode(segs.at(i));
    if (rev == "refs" && i + 2 < segs.size() && (segs[i + 1] == "pr" || segs[i + 1] == "heads" ||
                                                 segs[i + 1] == "tags")) {
        rev = "refs/" + segs[i + 1] + "/" + decode(segs[i + 2]);
        return 3;
    }
    return 1;
}

// What may follow /api/{type}s/{id}: tells "gpt2/revision/main" from a repo "ns/name".
bool is_repo_route(std::string_view seg) {
    for (std::string_view r : {"revision", "tree", "paths-info", "refs", "commits", "settings", "branch", "tag",
                               "discussions", "preupload", "commit", "auth-check", "super-squash", "lfs-files",
                               "user-access-request", "xet-read-token", "xet-write-token"})
        if (seg == r) return true;
    return false;
}

}  // namespace

std::string checked_path(std::string_view raw) {
    std::string why;
    auto n = util::normalize_repo_path(raw, why);
    if (!n) throw http_error(400, "", "Invalid path '" + std::string(raw) + "': " + why);
    return *n;
}

std::string iso_time(std::int64_t t) {
    std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return buf;
}

std::optional<byte_range> parse_range(std::string_view h, std::uint64_t size) {
    if (!h.starts_with("bytes=")) return std::nullopt;
    h.remove_prefix(6);
    if (h.find(',') != std::string_view::npos) return std::nullopt;  // multi-range: send it all
    auto dash = h.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    auto num = [](std::string_view s, std::uint64_t& out) {
        if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos)
            return false;
        out = std::stoull(std::string(s));
        return true;
    };
    std::uint64_t a = 0, b = 0;
    std::string_view first = h.substr(0, dash), last = h.substr(dash + 1);
    if (first.empty()) {  // suffix: the last N bytes
        if (!num(last, b)) return std::nullopt;
        if (b == 0 || size == 0) return byte_range{false};
        return byte_range{true, b >= size ? 0 : size - b, size - 1};
    }
    if (!num(first, a)) return std::nullopt;
    if (last.empty()) b = size ? size - 1 : 0;
    else if (!num(last, b) || b < a) return std::nullopt;
    if (a >= size) return byte_range{false};
    return byte_range{true, a, std::min(b, size - 1)};
}

response file_answer(const request& req, const fs::path& file, std::uint64_t size, header_list headers) {
    response r;
    r.headers = std::move(headers);
    r.headers.add("Accept-Ranges", "bytes");
    r.headers.add("Content-Type", "application/octet-stream");
    r.head = req.method == "HEAD";
    auto range = req.headers.get("Range") ? parse_range(*req.headers.get("Range"), size) : std::nullopt;
    if (range && !range->satisfiable) {
        if (size == 0) {
            // An empty file still tells a "bytes=0-0" prober its size.
            r.headers.add("Content-Range", "bytes */0");
            return r;
        }
        r.status = 416;
        r.headers.add("Content-Range", "bytes */" + std::to_string(size));
        return r;
    }
    if (range) {
        r.status = 206;
        r.headers.add("Content-Range", "bytes " + std::to_string(range->first) + "-" +
                                           std::to_string(range->last) + "/" + std::to_string(size));
        r.file = file_slice{file, range->first, range->last - range->first + 1};
    } else {
        r.file = file_slice{file, 0, size};
    }
    return r;
}

hub::hub(fs::path root, authenticator auth, hub_config cfg)
    : root_(std::move(root)),
      auth_(std::move(auth)),
      cfg_(std::move(cfg)),
      xet_(root_ / "xet", root_ / "tmp"),
      lfs_(root_ / "lfs", xet_),
      blobs_(root_ / "objects", root_ / "tmp"),
      store_(root_, lfs_, blobs_) {
    // Leftovers of a killed process: uploads in flight, half-built repos.
    std::error_code ec;
    for (auto& e : fs::directory_iterator(root_ / "tmp", ec)) fs::remove_all(e.path(), ec);
    // Signed URLs stay valid across restarts: the key lives with the data.
    fs::path key = root_ / "signing.key";
    auto k = util::read_file(key);
    if (!k || k->size() < 32) {
        util::write_file_atomic(key, util::random_hex(32));
        ::chmod(key.c_str(), 0600);
        k = util::read_file(key);
    }
    secret_ = *k;
}

std::string hub::sign_storage_url(const std::string& pq) const {
    auto exp = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch() + cfg_.url_ttl)
                   .count();
    std::string msg = pq + (pq.find('?') == std::string::npos ? "?" : "&") + "exp=" + std::to_string(exp);
    return cfg_.storage_url + msg + "&sig=" + util::hmac_sha256_hex(secret_, msg);
}

bool hub::verify_signature(const request& req) const {
    std::string_view t = req.target;
    auto pos = t.rfind("&sig=");
    if (pos == std::string_view::npos) return false;
    std::string_view msg = t.substr(0, pos), sig = t.substr(pos + 5);
    if (!util::constant_time_equal(util::hmac_sha256_hex(secret_, msg), sig)) return false;
    auto exp = req.query_param("exp");
    if (!exp || exp->empty() || exp->find_first_not_of("0123456789") != std::string::npos) return false;
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return std::stoll(*exp) >= now;
}

std::string hub::repo_url(repo_type t, const std::string& id) const {
    return cfg_.base_url + "/" + std::string(url_prefix(t)) + id;
}

void hub::redirect_if_moved(ctx& c, repo_type t, const std::string& id) {
    auto to = store_.moved_to(t, id);
    if (!to) return;
    auto r = store_.find(t, *to);
    if (!r || (r->state()->is_private && !auth_.may_read_private(c.who, r->ns()))) return;
    // The same URL with the old id's two segments replaced, relative, as the Hub answers.
    auto slash = id.find('/');
    std::string ns = id.substr(0, slash), name = id.substr(slash + 1);
    auto ieq = [](std::string_view a, std::string_view b) {
        return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
                   return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
               });
    };
    auto segs = c.segs;
    for (std::size_t j = 0; j + 1 < segs.size(); ++j) {
        if (!ieq(decode(segs[j]), ns)) continue;
        std::string next = decode(segs[j + 1]);
        bool git = next.size() > 4 && next.ends_with(".git") && ieq(next.substr(0, next.size() - 4), name);
        if (!git && !ieq(next, name)) continue;
        segs[j] = r->ns();
        segs[j + 1] = r->name() + (git ? ".git" : "");
        std::string loc;
        for (auto& seg : segs) loc += "/" + seg;
        if (!c.req.query.empty()) loc += "?" + c.req.query;
        http_error moved(307, "", "Repository moved to " + r->id);
        moved.headers.add("Location", loc);
        throw moved;
    }
}

std::shared_ptr<repo> hub::readable(ctx& c, repo_type t, const std::string& id) {
    auto r = store_.find(t, id);
    bool visible = r && (!r->state()->is_private || auth_.may_read_private(c.who, r->ns()));
    if (!visible) {
        if (!r) redirect_if_moved(c, t, id);
        // Private and missing look the same: 401 to anonymous callers, 404 to others.
        unsigned status = c.who.what == identity::kind::anonymous ? 401 : 404;
        throw http_error(status, "RepoNotFound", "Repository not found");
    }
    return r;
}

std::shared_ptr<repo> hub::writable(ctx& c, repo_type t, const std::string& id) {
    auto r = readable(c, t, id);
    if (c.who.what != identity::kind::user)
        throw http_error(401, "", "You must be authenticated to write to " + id);
    if (!auth_.may_write(c.who, r->ns()))
        throw http_error(403, "", "You don't have the rights to write to " + id);
    return r;
}

bool hub::past_gate(const ctx& c, const repo& r) const {
    auto st = r.state();
    if (st->gated.empty() || auth_.may_write(c.who, r.ns())) return true;
    return c.who.what == identity::kind::user && c.who.who &&
           std::find(st->gate_access.begin(), st->gate_access.end(), c.who.who->name) != st->gate_access.end();
}

std::shared_ptr<repo> hub::downloadable(ctx& c, repo_type t, const std::string& id) {
    auto r = readable(c, t, id);
    if (past_gate(c, *r)) return r;
    std::string what = std::string(type_name(t)) + " " + r->id;
    if (c.who.what != identity::kind::user)
        throw http_error(401, "GatedRepo", "Access to " + what + " is restricted. You must have access to it and be "
                                          "authenticated to access it. Please log in.");
    throw http_error(403, "GatedRepo", "Access to " + what + " is restricted and you are not in the authorized "
                                       "list. Ask its owner to grant you access.");
}

std::shared_ptr<repo> hub::contributable(ctx& c, repo_type t, const std::string& id, bool for_pr) {
    if (!for_pr) return writable(c, t, id);
    auto r = readable(c, t, id);
    if (c.who.what != identity::kind::user)
        throw http_error(401, "", "You must be authenticated to open a pull request on " + id);
    return r;
}

bool hub::own_pr(ctx& c, repo_type t, const std::string& id, const std::string& rev) {
    if (!rev.starts_with("refs/pr/") || c.who.what != identity::kind::user || !c.who.who) return false;
    auto r = store_.find(t, id);
    auto num = rev.substr(8);
    if (!r || num.empty() || num.size() > 9 || num.find_first_not_of("0123456789") != std::string::npos) return false;
    auto st = r->state();
    auto* d = st->find_discussion(std::stoi(num));
    return d && d->is_pr && d->author == c.who.who->name;
}

resolved_rev hub::must_resolve(repo& r, const std::string& rev) {
    auto res = store_.resolve(r, rev);
    if (!res) throw http_error(404, "RevisionNotFound", "Invalid rev id: " + rev);
    return *res;
}

std::shared_ptr<const commit> hub::must_load(repo& r, const std::string& id) {
    auto c = store_.load_commit(r, id);
    if (!c) throw http_error(500, "", "Commit " + id + " is unreadable");
    return c;
}

response hub::handle(request& req) {
    ctx c{req, {}, split_path(req.path)};
    response r = [&]() -> response {
        try {
            if (req.listener == listener_kind::storage) return dispatch_storage(c);
            c.who = auth_.identify(req.headers.get("Authorization"));
            if (c.who.what == identity::kind::invalid)
                return error_response(401, "", "Invalid credentials in Authorization header");
            return dispatch(c);
        } catch (const http_error& e) {
            response er = error_response(e.status, e.code, e.what());
            for (auto& [k, v] : e.headers.items) er.headers.add(k, v);
            return er;
        } catch (const std::system_error& e) {
            return error_response(500, "", std::string("Storage error: ") + e.what());
        } catch (const std::exception& e) {
            return error_response(400, "", std::string("Bad request: ") + e.what());
        }
    }();
    // No HEAD answer carries a body, errors included: keep-alive clients would read it as
    // the start of the next response.
    if (req.method == "HEAD") r.head = true;
    // Messages quote request paths; a control byte there would make the header invalid HTTP.
    for (auto& [k, v] : r.headers.items)
        if (k == "X-Error-Message")
            for (char& ch : v)
                if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7f) ch = ' ';
    return r;
}

response hub::dispatch(ctx& c) {
    auto s = c.segs;  // a copy: a legacy id gets an empty namespace segment below
    const std::string& m = c.req.method;
    auto is = [&](std::size_t i, std::string_view v) { return i < s.size() && s[i] == v; };

    if (is(0, "admin")) return admin(c);
    if (is(0, "api")) {
        if (is(1, "whoami-v2") && s.size() == 2 && m == "GET") return whoami(c);
        if (is(1, "validate-yaml") && s.size() == 2 && m == "POST") return validate_yaml(c);
        if (is(1, "repos") && is(2, "create") && s.size() == 3 && m == "POST") return create_repo(c);
        if (is(1, "repos") && is(2, "delete") && s.size() == 3 && m == "DELETE") return delete_repo(c);
        if (is(1, "repos") && is(2, "move") && s.size() == 3 && m == "POST") return move_repo(c);
        if (s.size() >= 3) {
            if (auto t = parse_type_plural(s[1])) {
                // A legacy id without a namespace ("gpt2"), unless ns/name names a repo here.
                std::string first = decode(s[2]);
                bool one = s.size() == 3 || (is_repo_route(s[3]) && !store_.find(*t, first + "/" + decode(s[3])));
                std::string id = one ? first : first + "/" + decode(s[3]);
                if (std::count(id.begin(), id.end(), '/') > 1) throw http_error(400, "", "Invalid repo id");
                return dispatch_api(c, *t, id, one ? 3 : 4);
            }
        }
        throw http_error(404, "", "Not found: " + c.req.path);
    }

    // Git-style URLs: [datasets/|spaces/]ns/name/resolve/rev/path and ns/name.git/info/lfs/...
    repo_type t = repo_type::model;
    std::size_t i = 0;
    if ((is(0, "datasets") || is(0, "spaces")) && s.size() >= 2) {
        bool git_style = is(3, "resolve") || is(3, "raw") || is(2, "resolve") || is(2, "raw") ||
                         (s.size() >= 3 && s[2].ends_with(".git")) || s[1].ends_with(".git");
        if (git_style) {
            t = *parse_type_plural(s[0]);
            i = 1;
        }
    }
    // "name.git/..." and "name/resolve/...": a legacy id without a namespace.
    bool one = s.size() > i && (s[i].ends_with(".git") || ((is(i + 1, "resolve") || is(i + 1, "raw")) &&
                                                               !(is(i + 2, "resolve") || is(i + 2, "raw"))));
    if (one) s.insert(s.begin() + static_cast<std::ptrdiff_t>(i), "");
    auto id_at = [&](std::size_t j, std::string name) {
        return s[j].empty() ? decode(name) : decode(s[j]) + "/" + decode(name);
    };
    if (s.size() >= i + 2 && s[i + 1].ends_with(".git")) {
        std::string name = s[i + 1].substr(0, s[i + 1].size() - 4);
        std::string id = id_at(i, name);
        if (s.size() == i + 6 && s[i + 2] == "info" && s[i + 3] == "lfs" && s[i + 4] == "objects" && m == "POST") {
            if (s[i + 5] == "batch") return lfs_batch(c, t, id);
            if (s[i + 5] == "verify") return lfs_verify(c, t, id);
        }
        throw http_error(404, "", "Not found: " + c.req.path);
    }
    if (s.size() >= i + 5 && (s[i + 2] == "resolve" || s[i + 2] == "raw") && (m == "GET" || m == "HEAD")) {
        std::string id = id_at(i, s[i + 1]);
        std::string rev;
        std::size_t used = take_revision(s, i + 3, rev);
        if (i + 3 + used >= s.size()) throw http_error(404, "EntryNotFound", "No file path in the URL");
        return resolve_file(c, t, id, rev, join_decoded(s, i + 3 + used), s[i + 2] == "raw");
    }
    throw http_error(404, "", "Not found: " + c.req.path);
}

response hub::dispatch_api(ctx& c, repo_type t, const std::string& id, std::size_t k) {
    auto& s = c.segs;
    const std::string& m = c.req.method;
    if (s.size() == k) {
        if (m == "GET") return repo_info(c, t, id, std::nullopt);
        throw http_error(405, "", "Method not allowed");
    }
    const std::string& what = s[k];
    auto rest = [&] { return k + 1 < s.size() ? join_decoded(s, k + 1) : std::string(); };
    if (what == "revision" && m == "GET" && s.size() > k + 1) return repo_info(c, t, id, rest());
    if (what == "tree" && m == "GET" && s.size() > k + 1) {
        std::string rev;
        std::size_t used = take_revision(s, k + 1, rev);
        return tree(c, t, id, rev, join_decoded(s, k + 1 + used));
    }
    if (what == "paths-info" && m == "POST" && s.size() > k + 1) return paths_info(c, t, id, rest());
    if (what == "refs" && m == "GET" && s.size() == k + 1) return refs(c, t, id);
    if (what == "commits" && m == "GET" && s.size() > k + 1) return commits(c, t, id, rest());
    if (what == "settings" && m == "PUT" && s.size() == k + 1) return settings(c, t, id);
    if (what == "branch" && (m == "POST" || m == "DELETE") && s.size() > k + 1) return branch(c, t, id, rest());
    if (what == "tag" && (m == "POST" || m == "DELETE") && s.size() > k + 1) return tag(c, t, id, rest());
    if (what == "discussions") {
        if (s.size() == k + 1 && (m == "GET" || m == "POST")) return discussions(c, t, id, std::nullopt);
        if (s.size() == k + 2 || s.size() == k + 3) {
            std::string n = decode(s[k + 1]);
            if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos)
                throw http_error(404, "", "Discussion not found");
            if (s.size() == k + 2 && m == "GET") return discussions(c, t, id, std::stoi(n));
            if (s.size() == k + 3 && m == "POST") return discussion_action(c, t, id, std::stoi(n), s[k + 2]);
        }
    }
    if (what == "auth-check" && m == "GET" && s.size() == k + 1) return auth_check(c, t, id, false);
    if (what == "auth-check" && m == "GET" && s.size() == k + 2 && s[k + 1] == "write") return auth_check(c, t, id, true);
    if (what == "user-access-request" && m == "POST" && s.size() == k + 2 && s[k + 1] == "grant")
        return access_grant(c, t, id);
    if (what == "super-squash" && m == "POST" && s.size() > k + 1) return super_squash(c, t, id, rest());
    if (what == "lfs-files" && m == "GET" && s.size() == k + 1) return lfs_files(c, t, id);
    if (what == "lfs-files" && m == "POST" && s.size() == k + 2 && s[k + 1] == "batch") return lfs_files_batch(c, t, id);
    if (what == "preupload" && m == "POST" && s.size() > k + 1) return preupload(c, t, id, rest());
    if (what == "commit" && m == "POST" && s.size() > k + 1) return commit_ndjson(c, t, id, rest());
    if ((what == "xet-read-token" || what == "xet-write-token") && m == "GET" && s.size() > k + 1)
        return xet_token(c, t, id, rest(), what == "xet-write-token");
    throw http_error(404, "", "Not found: " + c.req.path);
}

response hub::dispatch_storage(ctx& c) {
    auto& s = c.segs;
    const std::string& m = c.req.method;
    // The CAS answers to Xet tokens; everything else here to signed URLs.
    if (!s.empty() && (s[0] == "v1" || s[0] == "v2")) return dispatch_cas(c);
    if (!verify_signature(c.req)) throw http_error(403, "", "Invalid or expired signature");
    if (s.size() == 3 && s[0] == "xorb" && s[1] == "default" && util::is_hex(s[2], 64) && (m == "GET" || m == "HEAD"))
        return xorb_range_get(c, s[2]);
    auto oid = [&](std::size_t i) {
        if (i >= s.size() || !util::is_hex(s[i], 64)) throw http_error(400, "", "Invalid object id");
        return s[i];
    };
    if (s.size() == 2 && s[0] == "lfs" && (m == "GET" || m == "HEAD")) return storage_get(c, oid(1));
    if (s.size() == 2 && s[0] == "upload" && m == "PUT") return storage_put(c, oid(1));
    if (s.size() == 4 && s[0] == "multipart" && util::is_hex(s[2], 16)) {
        if (s[3] == "complete" && m == "POST") return storage_complete(c, oid(1), s[2]);
        if (m == "PUT") return storage_part(c, oid(1), s[2], s[3]);
    }
    throw http_error(404, "", "Not found");
}

std::unique_ptr<multipart_assembly::claim> hub::claim_part(const request& req) {
    // Only a signed part PUT whose declared length is the part's: anything else takes the
    // ordinary path and is refused by the route.
    if (req.listener != listener_kind::storage || req.method != "PUT") return nullptr;
    auto s = split_path(req.path);
    if (s.size() != 4 || s[0] != "multipart" || !util::is_hex(s[1], 64) || !util::is_hex(s[2], 16)) return nullptr;
    auto cl = req.headers.get("Content-Length");
    if (!cl || !verify_signature(req)) return nullptr;
    try {
        part_ref p = part_of(req, s[1], s[2], s[3]);
        if (std::to_string(p.length) != *cl) return nullptr;
        fs::create_directories(p.dir);
        return assembly_.try_claim(p.dir, p.parts, p.n, p.offset, p.length);
    } catch (const std::exception&) {
        return nullptr;
    }
}

response hub::admin(ctx& c) {
    // Test-only controls: never reachable from another machine.
    if (!c.req.from_loopback) throw http_error(404, "", "Not found");
    if (c.segs.size() == 2 && c.segs[1] == "faults") {
        const std::string& m = c.req.method;
        if (m == "GET") return json_response(200, faults_.describe());
        if (m == "DELETE") {
            faults_.replace({});
            return json_response(200, "{}");
        }
        if (m == "POST" || m == "PUT") {
            try {
                faults_.replace(fault_injector::parse(c.req.body));
            } catch (const std::invalid_argument& e) {
                throw http_error(400, "", e.what());
            }
            return json_response(200, faults_.describe());
        }
    }
    throw http_error(404, "", "Not found");
}

}  // namespace hfhub::server
