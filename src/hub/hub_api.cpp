// The Hub's metadata endpoints: URLs, pagination, and defensive reading of their JSON.
#include <hfhub/hub_api.hpp>

#include "http/policy.hpp"
#include "hub/link_header.hpp"
#include "util/paths.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <cmath>
#include <functional>
#include <set>
#include <strings.h>

namespace hfhub {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::size_t paths_info_batch = 500;  // ~1000 paths get a 413 from the Hub

// Reads one response's JSON. Any deviation from the expected shape is a protocol_error that
// names the field, with the request's diagnostics; no Boost.JSON exception escapes.
class json_reader {
public:
    json_reader(const http_request& req, const http_response& resp) {
        d_.status = resp.status;
        d_.method = req.method;
        d_.url = resp.url.empty() ? req.url : resp.url;
        if (auto id = resp.header("X-Request-Id")) d_.request_id = std::string(*id);
    }

    [[noreturn]] void fail(std::string message) const {
        diagnostics d = d_;
        d.server_message = std::move(message);
        throw error(client_errc::protocol_error, std::move(d));
    }

    json::value parse(std::string_view body) const {
        boost::system::error_code ec;
        json::value v;
        try {
            v = json::parse(body, ec);
        } catch (const std::exception& e) {  // only allocation failures throw with an error_code
            fail(std::string("unreadable JSON body: ") + e.what());
        }
        if (ec) fail("malformed JSON body: " + ec.message());
        return v;
    }

    const json::object& object(const json::value& v, const std::string& name) const {
        if (auto* o = v.if_object()) return *o;
        fail("'" + name + "' is not a JSON object");
    }
    const json::array& array(const json::value& v, const std::string& name) const {
        if (auto* a = v.if_array()) return *a;
        fail("'" + name + "' is not a JSON array");
    }

    // nullptr when absent or null.
    static const json::value* find(const json::object& o, std::string_view key) {
        auto* v = o.if_contains(key);
        return v && !v->is_null() ? v : nullptr;
    }
    static std::string name(const std::string& where, std::string_view key) {
        return where.empty() ? std::string(key) : where + "." + std::string(key);
    }

    const json::value& required(const json::object& o, std::string_view key, const std::string& where) const {
        if (auto* v = find(o, key)) return *v;
        fail("missing field '" + name(where, key) + "'");
    }

    std::string str(const json::value& v, const std::string& field) const {
        if (auto* s = v.if_string()) return std::string(s->data(), s->size());
        fail("field '" + field + "' is not a string");
    }
    std::string str(const json::object& o, std::string_view key, const std::string& where) const {
        return str(required(o, key, where), name(where, key));
    }
    std::optional<std::string> opt_str(const json::object& o, std::string_view key, const std::string& where) const {
        auto* v = find(o, key);
        if (!v) return std::nullopt;
        return str(*v, name(where, key));
    }

    std::uint64_t u64(const json::value& v, const std::string& field) const {
        if (auto* u = v.if_uint64()) return *u;
        if (auto* i = v.if_int64(); i && *i >= 0) return static_cast<std::uint64_t>(*i);
        if (auto* d = v.if_double(); d && *d >= 0 && *d < 18446744073709551616.0 && std::floor(*d) == *d)
            return static_cast<std::uint64_t>(*d);
        fail("field '" + field + "' is not a non-negative integer");
    }
    std::uint64_t u64(const json::object& o, std::string_view key, const std::string& where) const {
        return u64(required(o, key, where), name(where, key));
    }
    std::optional<std::uint64_t> opt_u64(const json::object& o, std::string_view key, const std::string& where) const {
        auto* v = find(o, key);
        if (!v) return std::nullopt;
        return u64(*v, name(where, key));
    }

    bool opt_bool(const json::object& o, std::string_view key, const std::string& where) const {
        auto* v = find(o, key);
        if (!v) return false;
        if (auto* b = v->if_bool()) return *b;
        fail("field '" + name(where, key) + "' is not a boolean");
    }

private:
    diagnostics d_;
};

std::string indexed(std::string_view base, std::size_t i) { return std::string(base) + "[" + std::to_string(i) + "]"; }

// q(x) of the protocol: no safe characters, so refs/pr/1 becomes refs%2Fpr%2F1.
std::string enc_rev(const std::string& rev) { return util::percent_encode(rev.empty() ? "main" : rev, false); }
std::string enc_path(const std::string& path) { return util::percent_encode(path, true); }

std::string api_base(const client& c, repo_type t, const std::string& repo_id) {
    return c.settings().endpoint + "/api/" + std::string(plural(t)) + "/" + repo_id;
}

// Folders are often written "data/"; the Hub accepts that, so only the trailing '/' goes.
std::string checked_folder(std::string path) {
    while (!path.empty() && path.back() == '/') path.pop_back();
    if (!path.empty()) validate_repo_path(path);
    return path;
}

http_request get(std::string url, const std::optional<std::string>& token) {
    http_request r;
    r.url = std::move(url);
    r.token = token;
    return r;
}

// A GET carrying the query's per-call token, proxies and User-Agent suffix.
http_request get(std::string url, const repo_query& q) {
    http_request r = get(std::move(url), q.token);
    r.proxies = q.proxies;
    r.user_agent_suffix = q.user_agent_suffix;
    return r;
}

struct json_reply {
    json_reader reader;
    json::value value;
    http_response response;
};

asio::awaitable<json_reply> co_json(client& c, http_request req) {
    http_response resp = co_await c.co_request(req);
    json_reader r(req, resp);
    // A 3xx that was not followed is no answer for an API call.
    if (resp.status < 200 || resp.status >= 300) r.fail("unexpected status " + std::to_string(resp.status));
    json::value v = r.parse(resp.body);
    co_return json_reply{std::move(r), std::move(v), std::move(resp)};
}

std::optional<std::string> next_page(const json_reply& reply) {
    for (auto& [k, v] : reply.response.headers) {
        if (::strcasecmp(k.c_str(), "Link") != 0) continue;
        bool malformed = false;
        auto next = hub::next_link(v, malformed);
        if (malformed) reply.reader.fail("malformed Link header: " + v.substr(0, 200));
        if (next) return next;
    }
    return std::nullopt;
}

// Feeds every page's array to `page`, following `Link: <url>; rel="next"`. A next page on
// another origin is refused: following it would hand the token to that origin.
asio::awaitable<void> co_paginate(client& c, http_request req,
                                  const std::function<void(const json_reader&, const json::array&)>& page) {
    std::set<std::string> seen{req.url};
    while (true) {
        json_reply reply = co_await co_json(c, req);
        page(reply.reader, reply.reader.array(reply.value, "response"));
        auto next = next_page(reply);
        if (!next) co_return;
        const std::string& current = reply.response.url.empty() ? req.url : reply.response.url;
        auto d = http::decide_redirect(current, *next, 0, 1, http::redirect_mode::follow);
        if (d.what != http::redirect_decision::action::follow)
            reply.reader.fail("invalid next-page link '" + next->substr(0, 200) + "'");
        if (!d.keep_auth) reply.reader.fail("next-page link to another origin refused: " + d.url.substr(0, 200));
        if (!seen.insert(d.url).second) reply.reader.fail("next-page links loop back to " + d.url.substr(0, 200));
        req.url = std::move(d.url);
    }
}

// Siblings spell the LFS hash "sha256", tree entries "oid".
lfs_info read_lfs(const json_reader& r, const json::value& v, const std::string& where) {
    const auto& o = r.object(v, where);
    lfs_info l;
    if (auto sha = r.opt_str(o, "sha256", where))
        l.sha256 = std::move(*sha);
    else
        l.sha256 = r.str(o, "oid", where);
    l.size = r.u64(o, "size", where);
    l.pointer_size = r.opt_u64(o, "pointerSize", where).value_or(0);
    return l;
}

// nullopt for an entry type this client does not know (forward compatible).
std::optional<tree_entry> read_entry(const json_reader& r, const json::value& v, const std::string& where) {
    const auto& o = r.object(v, where);
    std::string type = r.str(o, "type", where);
    if (type == "directory") {
        repo_folder f;
        f.path = r.str(o, "path", where);
        f.tree_id = r.opt_str(o, "oid", where).value_or("");
        return f;
    }
    if (type != "file") return std::nullopt;
    repo_file f;
    f.path = r.str(o, "path", where);
    f.size = r.u64(o, "size", where);
    f.blob_id = r.str(o, "oid", where);
    if (auto* l = json_reader::find(o, "lfs")) f.lfs = read_lfs(r, *l, where + ".lfs");
    if (auto* lc = json_reader::find(o, "lastCommit")) {
        std::string at = where + ".lastCommit";
        const auto& co = r.object(*lc, at);
        f.last_commit = last_commit_info{r.str(co, "id", at), r.str(co, "title", at), r.str(co, "date", at)};
    }
    return f;
}

std::vector<git_ref> read_refs(const json_reader& r, const json::object& o, std::string_view key, bool required) {
    std::vector<git_ref> out;
    const json::value* v = required ? &r.required(o, key, "") : json_reader::find(o, key);
    if (!v) return out;
    const auto& arr = r.array(*v, std::string(key));
    for (std::size_t i = 0; i < arr.size(); ++i) {
        std::string at = indexed(key, i);
        const auto& e = r.object(arr[i], at);
        out.push_back({r.str(e, "name", at), r.str(e, "ref", at), r.str(e, "targetCommit", at)});
    }
    return out;
}

template <class T>
T wait_for(client& c, asio::awaitable<T> op) {
    return asio::co_spawn(c.get_executor(), std::move(op), asio::use_future).get();
}

}  // namespace

asio::awaitable<repo_metadata> co_repo_info(client& c, std::string repo_id, repo_query q, bool files_metadata) {
    validate_repo_id(repo_id);
    std::string url = api_base(c, q.type, repo_id);
    // An empty revision asks for the repo's default branch, as the Python client's None does.
    if (!q.revision.empty()) url += "/revision/" + enc_rev(q.revision);
    if (files_metadata) url += "?blobs=true";
    json_reply reply = co_await co_json(c, get(std::move(url), q));
    const json_reader& r = reply.reader;
    const auto& o = r.object(reply.value, "response");

    repo_metadata m;
    m.id = r.str(o, "id", "");
    m.sha = r.str(o, "sha", "");
    m.author = r.opt_str(o, "author", "").value_or("");
    m.last_modified = r.opt_str(o, "lastModified", "").value_or("");
    m.created_at = r.opt_str(o, "createdAt", "").value_or("");
    m.is_private = r.opt_bool(o, "private", "");
    m.disabled = r.opt_bool(o, "disabled", "");
    m.gated = "false";
    if (auto* g = json_reader::find(o, "gated")) {
        if (auto* b = g->if_bool())
            m.gated = *b ? "true" : "false";
        else
            m.gated = r.str(*g, "gated");
    }
    if (auto* s = json_reader::find(o, "siblings")) {
        const auto& arr = r.array(*s, "siblings");
        m.siblings.reserve(arr.size());
        for (std::size_t i = 0; i < arr.size(); ++i) {
            std::string at = indexed("siblings", i);
            const auto& e = r.object(arr[i], at);
            repo_file f;
            f.path = r.str(e, "rfilename", at);
            f.size = r.opt_u64(e, "size", at).value_or(0);
            f.blob_id = r.opt_str(e, "blobId", at).value_or("");
            if (auto* l = json_reader::find(e, "lfs")) f.lfs = read_lfs(r, *l, at + ".lfs");
            m.siblings.push_back(std::move(f));
        }
    }
    co_return m;
}

asio::awaitable<std::vector<tree_entry>> co_list_repo_tree(client& c, std::string repo_id, tree_query q) {
    validate_repo_id(repo_id);
    std::string path = checked_folder(q.path);
    std::string url = api_base(c, q.type, repo_id) + "/tree/" + enc_rev(q.revision);
    if (!path.empty()) url += "/" + enc_path(path);
    url += std::string("?recursive=") + (q.recursive ? "true" : "false") + "&expand=" + (q.expand ? "true" : "false");
    std::vector<tree_entry> out;
    co_await co_paginate(c, get(std::move(url), q), [&](const json_reader& r, const json::array& page) {
        for (auto& v : page)
            if (auto e = read_entry(r, v, indexed("tree", out.size()))) out.push_back(std::move(*e));
    });
    co_return out;
}

asio::awaitable<std::vector<tree_entry>> co_get_paths_info(client& c, std::string repo_id,
                                                           std::vector<std::string> paths, repo_query q,
                                                           bool expand) {
    validate_repo_id(repo_id);
    for (auto& p : paths) {
        p = checked_folder(std::move(p));
        if (p.empty()) validate_repo_path(p);  // "" or "/" names no entry
    }
    std::vector<tree_entry> out;
    const std::string url = api_base(c, q.type, repo_id) + "/paths-info/" + enc_rev(q.revision);
    for (std::size_t first = 0; first < paths.size(); first += paths_info_batch) {
        std::size_t last = std::min(paths.size(), first + paths_info_batch);
        http_request req = get(url, q);
        req.method = "POST";
        req.idempotent = true;  // a read: safe to retry
        req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        for (std::size_t i = first; i < last; ++i) req.body += "paths=" + util::percent_encode(paths[i], false) + "&";
        req.body += expand ? "expand=true" : "expand=false";
        json_reply reply = co_await co_json(c, std::move(req));
        const auto& arr = reply.reader.array(reply.value, "response");
        for (std::size_t i = 0; i < arr.size(); ++i)
            if (auto e = read_entry(reply.reader, arr[i], indexed("response", i))) out.push_back(std::move(*e));
    }
    co_return out;
}

asio::awaitable<repo_refs> co_list_repo_refs(client& c, std::string repo_id, repo_query q,
                                             bool include_pull_requests) {
    validate_repo_id(repo_id);
    std::string url = api_base(c, q.type, repo_id) + "/refs";
    if (include_pull_requests) url += "?include_prs=1";
    json_reply reply = co_await co_json(c, get(std::move(url), q));
    const json_reader& r = reply.reader;
    const auto& o = r.object(reply.value, "response");
    repo_refs refs;
    refs.branches = read_refs(r, o, "branches", true);
    refs.tags = read_refs(r, o, "tags", true);
    refs.converts = read_refs(r, o, "converts", false);
    refs.pull_requests = read_refs(r, o, "pullRequests", include_pull_requests);
    co_return refs;
}

asio::awaitable<std::vector<commit_summary>> co_list_repo_commits(client& c, std::string repo_id, repo_query q) {
    validate_repo_id(repo_id);
    std::string url = api_base(c, q.type, repo_id) + "/commits/" + enc_rev(q.revision);
    std::vector<commit_summary> out;
    co_await co_paginate(c, get(std::move(url), q), [&](const json_reader& r, const json::array& page) {
        for (auto& v : page) {
            std::string at = indexed("commits", out.size());
            const auto& o = r.object(v, at);
            commit_summary s;
            s.id = r.str(o, "id", at);
            s.title = r.str(o, "title", at);
            s.message = r.opt_str(o, "message", at).value_or("");
            s.date = r.str(o, "date", at);
            if (auto* a = json_reader::find(o, "authors")) {
                const auto& arr = r.array(*a, at + ".authors");
                for (std::size_t i = 0; i < arr.size(); ++i) {
                    std::string who = indexed(at + ".authors", i);
                    s.authors.push_back(r.str(r.object(arr[i], who), "user", who));
                }
            }
            out.push_back(std::move(s));
        }
    });
    co_return out;
}

asio::awaitable<bool> co_file_exists(client& c, std::string repo_id, std::string filename, repo_query q) {
    validate_repo_id(repo_id);
    validate_repo_path(filename);
    http_request req = get(c.settings().endpoint + "/" + std::string(url_prefix(q.type)) + repo_id + "/resolve/" +
                               enc_rev(q.revision) + "/" + enc_path(filename),
                           q);
    req.method = "HEAD";
    // An LFS file answers 302 to the storage origin: that already says it exists.
    req.redirects = follow_redirects::relative_only;
    bool missing = false;
    try {
        co_await c.co_request(std::move(req));
    } catch (const error& e) {
        if (e.code() != hub_errc::entry_not_found) throw;
        missing = true;
    }
    co_return !missing;
}

asio::awaitable<whoami_info> co_whoami(client& c, std::optional<std::string> token) {
    json_reply reply = co_await co_json(c, get(c.settings().endpoint + "/api/whoami-v2", token));
    const json_reader& r = reply.reader;
    const auto& o = r.object(reply.value, "response");
    whoami_info w;
    w.name = r.str(o, "name", "");
    w.type = r.opt_str(o, "type", "").value_or("");
    w.fullname = r.opt_str(o, "fullname", "").value_or("");
    if (auto* orgs = json_reader::find(o, "orgs")) {
        const auto& arr = r.array(*orgs, "orgs");
        for (std::size_t i = 0; i < arr.size(); ++i) {
            std::string at = indexed("orgs", i);
            w.orgs.push_back(r.str(r.object(arr[i], at), "name", at));
        }
    }
    co_return w;
}

repo_metadata repo_info(client& c, std::string repo_id, repo_query q, bool files_metadata) {
    return wait_for(c, co_repo_info(c, std::move(repo_id), std::move(q), files_metadata));
}
std::vector<tree_entry> list_repo_tree(client& c, std::string repo_id, tree_query q) {
    return wait_for(c, co_list_repo_tree(c, std::move(repo_id), std::move(q)));
}
std::vector<tree_entry> get_paths_info(client& c, std::string repo_id, std::vector<std::string> paths, repo_query q,
                                       bool expand) {
    return wait_for(c, co_get_paths_info(c, std::move(repo_id), std::move(paths), std::move(q), expand));
}
repo_refs list_repo_refs(client& c, std::string repo_id, repo_query q, bool include_pull_requests) {
    return wait_for(c, co_list_repo_refs(c, std::move(repo_id), std::move(q), include_pull_requests));
}
std::vector<commit_summary> list_repo_commits(client& c, std::string repo_id, repo_query q) {
    return wait_for(c, co_list_repo_commits(c, std::move(repo_id), std::move(q)));
}
bool file_exists(client& c, std::string repo_id, std::string filename, repo_query q) {
    return wait_for(c, co_file_exists(c, std::move(repo_id), std::move(filename), std::move(q)));
}
whoami_info whoami(client& c, std::optional<std::string> token) {
    return wait_for(c, co_whoami(c, std::move(token)));
}

}  // namespace hfhub
