// The Hub's metadata endpoints: URLs, pagination, and defensive reading of their JSON.
#include <hfhub/hub_api.hpp>

#include "blocking_call.hpp"
#include "http/policy.hpp"
#include "hub/hub_json.hpp"
#include "hub/link_header.hpp"
#include "util/paths.hpp"
#include "boundary.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>

#include <cmath>
#include <functional>
#include <set>
#include <strings.h>

namespace hfhub {

namespace asio = boost::asio;
namespace json = boost::json;

using hub::indexed;
using hub::json_reader;
using hub::read_entry;
using hub::read_refs;

namespace {

constexpr std::size_t paths_info_batch = 500;  // ~1000 paths get a 413 from the Hub

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


}  // namespace

static asio::awaitable<repo_metadata> co_repo_info_impl(client& c, std::string repo_id, repo_query q, bool files_metadata,
                                                       std::vector<std::string> expand);

asio::awaitable<repo_metadata> co_repo_info(client& c, std::string repo_id, repo_query q, bool files_metadata) {
    return detail::co_public(co_repo_info_impl(c, std::move(repo_id), std::move(q), files_metadata, {}));
}

static asio::awaitable<repo_metadata> co_repo_info_impl(client& c, std::string repo_id, repo_query q, bool files_metadata,
                                                       std::vector<std::string> expand) {
    validate_repo_id(repo_id);
    std::string url = api_base(c, q.type, repo_id);
    // An empty revision asks for the repo's default branch, as the Python client's None does.
    if (!q.revision.empty()) url += "/revision/" + enc_rev(q.revision);
    if (files_metadata) url += "?blobs=true";
    // Repeated keys, as the Python client sends them.
    for (std::size_t i = 0; i < expand.size(); ++i)
        url += (i == 0 ? "?expand=" : "&expand=") + util::percent_encode(expand[i], false);
    json_reply reply = co_await co_json(c, get(std::move(url), q));
    co_return hub::read_repo_info(reply.reader, reply.value, !expand.empty());
}

asio::awaitable<repo_metadata> co_repo_info(client& c, std::string repo_id, repo_info_query q) {
    std::vector<std::string> expand = std::move(q.expand);
    return detail::co_public(co_repo_info_impl(c, std::move(repo_id), std::move(q), false, std::move(expand)));
}

static asio::awaitable<std::vector<tree_entry>> co_list_repo_tree_impl(client& c, std::string repo_id, tree_query q);

asio::awaitable<std::vector<tree_entry>> co_list_repo_tree(client& c, std::string repo_id, tree_query q) {
    return detail::co_public(co_list_repo_tree_impl(c, std::move(repo_id), std::move(q)));
}

static asio::awaitable<std::vector<tree_entry>> co_list_repo_tree_impl(client& c, std::string repo_id, tree_query q) {
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

static asio::awaitable<std::vector<tree_entry>> co_get_paths_info_impl(client& c, std::string repo_id,
                                                           std::vector<std::string> paths, repo_query q,
                                                           bool expand);

asio::awaitable<std::vector<tree_entry>> co_get_paths_info(client& c, std::string repo_id,
                                                           std::vector<std::string> paths, repo_query q,
                                                           bool expand) {
    return detail::co_public(co_get_paths_info_impl(c, std::move(repo_id), std::move(paths), std::move(q), expand));
}

static asio::awaitable<std::vector<tree_entry>> co_get_paths_info_impl(client& c, std::string repo_id,
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

static asio::awaitable<repo_refs> co_list_repo_refs_impl(client& c, std::string repo_id, repo_query q,
                                             bool include_pull_requests);

asio::awaitable<repo_refs> co_list_repo_refs(client& c, std::string repo_id, repo_query q,
                                             bool include_pull_requests) {
    return detail::co_public(co_list_repo_refs_impl(c, std::move(repo_id), std::move(q), include_pull_requests));
}

static asio::awaitable<repo_refs> co_list_repo_refs_impl(client& c, std::string repo_id, repo_query q,
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

static asio::awaitable<std::vector<commit_summary>> co_list_repo_commits_impl(client& c, std::string repo_id, repo_query q);

asio::awaitable<std::vector<commit_summary>> co_list_repo_commits(client& c, std::string repo_id, repo_query q) {
    return detail::co_public(co_list_repo_commits_impl(c, std::move(repo_id), std::move(q)));
}

static asio::awaitable<std::vector<commit_summary>> co_list_repo_commits_impl(client& c, std::string repo_id, repo_query q) {
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

static asio::awaitable<bool> co_file_exists_impl(client& c, std::string repo_id, std::string filename, repo_query q);

asio::awaitable<bool> co_file_exists(client& c, std::string repo_id, std::string filename, repo_query q) {
    return detail::co_public(co_file_exists_impl(c, std::move(repo_id), std::move(filename), std::move(q)));
}

static asio::awaitable<bool> co_file_exists_impl(client& c, std::string repo_id, std::string filename, repo_query q) {
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

static asio::awaitable<whoami_info> co_whoami_impl(client& c, std::optional<std::string> token);

asio::awaitable<whoami_info> co_whoami(client& c, std::optional<std::string> token) {
    return detail::co_public(co_whoami_impl(c, std::move(token)));
}

static asio::awaitable<whoami_info> co_whoami_impl(client& c, std::optional<std::string> token) {
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
    return detail::run_blocking(c, co_repo_info(c, std::move(repo_id), std::move(q), files_metadata));
}
repo_metadata repo_info(client& c, std::string repo_id, repo_info_query q) {
    return detail::run_blocking(c, co_repo_info(c, std::move(repo_id), std::move(q)));
}
std::vector<tree_entry> list_repo_tree(client& c, std::string repo_id, tree_query q) {
    return detail::run_blocking(c, co_list_repo_tree(c, std::move(repo_id), std::move(q)));
}
std::vector<tree_entry> get_paths_info(client& c, std::string repo_id, std::vector<std::string> paths, repo_query q,
                                       bool expand) {
    return detail::run_blocking(c, co_get_paths_info(c, std::move(repo_id), std::move(paths), std::move(q), expand));
}
repo_refs list_repo_refs(client& c, std::string repo_id, repo_query q, bool include_pull_requests) {
    return detail::run_blocking(c, co_list_repo_refs(c, std::move(repo_id), std::move(q), include_pull_requests));
}
std::vector<commit_summary> list_repo_commits(client& c, std::string repo_id, repo_query q) {
    return detail::run_blocking(c, co_list_repo_commits(c, std::move(repo_id), std::move(q)));
}
bool file_exists(client& c, std::string repo_id, std::string filename, repo_query q) {
    return detail::run_blocking(c, co_file_exists(c, std::move(repo_id), std::move(filename), std::move(q)));
}
whoami_info whoami(client& c, std::optional<std::string> token) {
    return detail::run_blocking(c, co_whoami(c, std::move(token)));
}

}  // namespace hfhub
