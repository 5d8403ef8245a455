// Repo management endpoints (protocol section 4): bodies, exist_ok / missing_ok, and the few
// JSON answers they give.
#include <hfhub/hub_api.hpp>
#include <hfhub/repo_api.hpp>

#include "blocking_call.hpp"
#include "hub/errors.hpp"
#include "util/paths.hpp"
#include "boundary.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/json.hpp>

#include <exception>

namespace hfhub {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string api_base(const client& c, repo_type t, const std::string& repo_id) {
    return c.settings().endpoint + "/api/" + std::string(plural(t)) + "/" + repo_id;
}

// q(x) of the protocol: no safe characters, so a branch "a/b" becomes a%2Fb.
std::string enc_ref(const std::string& ref) { return util::percent_encode(ref.empty() ? "main" : ref, false); }

void check_ref(std::string_view kind, const std::string& name) {
    if (util::valid_ref_name(name)) return;
    throw error(client_errc::invalid_argument,
                diagnostics{.client_message = "invalid " + std::string(kind) + " name '" + name +
                                              "': git's ref rules, without a 'refs/' prefix"});
}

// Never retried, DELETE and PUT included: Python sends these once, and a lost answer to a
// delete or a settings change is better reported than replayed over someone else's change.
http_request mutation(std::string method, std::string url, const std::optional<json::object>& body,
                      const std::optional<std::string>& token) {
    http_request r;
    r.method = std::move(method);
    r.url = std::move(url);
    r.token = token;
    r.idempotent = false;
    if (body) {
        r.headers.emplace_back("Content-Type", "application/json");
        r.body = json::serialize(*body);
    }
    return r;
}

// "ns/name" and "name" both go as {"name", "organization"}; a null organization is the token's user.
void put_name(json::object& body, const std::string& repo_id) {
    auto slash = repo_id.find('/');
    if (slash == std::string::npos) {
        body["name"] = repo_id;
        body["organization"] = nullptr;
    } else {
        body["name"] = repo_id.substr(slash + 1);
        body["organization"] = repo_id.substr(0, slash);
    }
}

diagnostics diag_of(const http_request& req, const http_response& resp) {
    diagnostics d;
    d.status = resp.status;
    d.method = req.method;
    d.url = resp.url.empty() ? req.url : resp.url;
    if (auto id = resp.header("X-Request-Id"))
        d.request_id = std::string(*id);
    else if (auto tid = resp.header("X-Amzn-Trace-Id"))
        d.request_id = std::string(*tid);
    return d;
}

// The error the client would have thrown for this answer (for calls that read error bodies).
[[noreturn]] void raise(const http_request& req, const http_response& resp) {
    throw hub::status_error(req.method, resp.url.empty() ? req.url : resp.url, resp);
}

[[noreturn]] void bad_answer(const http_request& req, const http_response& resp, std::string why) {
    diagnostics d = diag_of(req, resp);
    d.client_message = std::move(why);
    throw error(client_errc::protocol_error, std::move(d));
}

// The body as a JSON object, or nullopt when it is not one.
std::optional<json::object> object_of(const std::string& body) {
    boost::system::error_code ec;
    json::value v;
    try {
        v = json::parse(body, ec);
    } catch (const std::exception&) {  // only allocation failures throw with an error_code
        return std::nullopt;
    }
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::optional<std::string> string_at(const json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || !v->is_string()) return std::nullopt;
    return std::string(v->as_string().data(), v->as_string().size());
}

bool is_full_id(std::string_view id) {
    auto slash = id.find('/');
    return slash != std::string_view::npos && util::valid_repo_name_part(id.substr(0, slash)) &&
           util::valid_repo_name_part(id.substr(slash + 1));
}

// "…/datasets/alice/x" → "alice/x"; nullopt when the URL doesn't end in a repo id.
std::optional<std::string> id_from_url(std::string_view url) {
    url = url.substr(0, url.find_first_of("?#"));
    while (url.ends_with('/')) url.remove_suffix(1);
    auto last = url.rfind('/');
    if (last == std::string_view::npos || last == 0) return std::nullopt;
    auto prev = url.rfind('/', last - 1);
    if (prev == std::string_view::npos) return std::nullopt;
    std::string id(url.substr(prev + 1));
    if (!is_full_id(id)) return std::nullopt;
    return id;
}

// The namespace a bare name is created under: the token's user.
asio::awaitable<std::string> co_full_id(client& c, const std::string& repo_id, const std::optional<std::string>& token) {
    if (repo_id.find('/') != std::string::npos) co_return repo_id;
    whoami_info me = co_await co_whoami(c, token);
    co_return me.name + "/" + repo_id;
}

std::string repo_url(const client& c, repo_type t, const std::string& full_id) {
    return c.settings().endpoint + "/" + std::string(url_prefix(t)) + full_id;
}


}  // namespace

static asio::awaitable<repo_url_info> co_create_repo_impl(client& c, std::string repo_id, create_repo_options o);

asio::awaitable<repo_url_info> co_create_repo(client& c, std::string repo_id, create_repo_options o) {
    return detail::co_public(co_create_repo_impl(c, std::move(repo_id), std::move(o)));
}

static asio::awaitable<repo_url_info> co_create_repo_impl(client& c, std::string repo_id, create_repo_options o) {
    validate_repo_id(repo_id);
    json::object body;
    put_name(body, repo_id);
    if (o.type != repo_type::model) body["type"] = to_string(o.type);
    body["visibility"] = o.is_private ? "private" : "public";
    if (o.type == repo_type::space) body["sdk"] = o.space_sdk.empty() ? "gradio" : o.space_sdk;
    http_request req = mutation("POST", c.settings().endpoint + "/api/repos/create", body, o.token);
    // The 409 body carries the URL exist_ok returns, so errors are read here.
    http_response resp = co_await c.co_request(req, false);

    if (resp.status >= 200 && resp.status < 300) {
        auto answer = object_of(resp.body);
        if (!answer) bad_answer(req, resp, "create answer is not a JSON object");
        auto url = string_at(*answer, "url");
        if (!url) bad_answer(req, resp, "create answer has no 'url' string");
        auto name = string_at(*answer, "name");
        std::optional<std::string> id = name && is_full_id(*name) ? name : id_from_url(*url);
        if (!id) id = co_await co_full_id(c, repo_id, o.token);
        co_return repo_url_info{std::move(*url), std::move(*id)};
    }
    if (resp.status < 400) bad_answer(req, resp, "unexpected status " + std::to_string(resp.status));
    if (!o.exist_ok) raise(req, resp);

    if (resp.status == 409) {
        std::optional<std::string> url;
        if (auto answer = object_of(resp.body)) url = string_at(*answer, "url");
        std::optional<std::string> id = url ? id_from_url(*url) : std::nullopt;
        if (!id) id = co_await co_full_id(c, repo_id, o.token);
        if (!url) url = repo_url(c, o.type, *id);
        co_return repo_url_info{std::move(*url), std::move(*id)};
    }
    if (resp.status != 401 && resp.status != 402 && resp.status != 403) raise(req, resp);

    // Not allowed to create in that namespace; the repo may still exist and be readable.
    bool readable = false;
    std::string id;
    try {
        repo_query q;
        q.type = o.type;
        q.revision.clear();  // the default branch
        q.token = o.token;
        repo_metadata m = co_await co_repo_info(c, repo_id, q);
        id = is_full_id(m.id) ? m.id : repo_id;
        readable = true;
    } catch (const error&) {
    }
    if (!readable) raise(req, resp);
    co_return repo_url_info{repo_url(c, o.type, id), id};
}

static asio::awaitable<void> co_delete_repo_impl(client& c, std::string repo_id, delete_repo_options o);

asio::awaitable<void> co_delete_repo(client& c, std::string repo_id, delete_repo_options o) {
    return detail::co_public(co_delete_repo_impl(c, std::move(repo_id), std::move(o)));
}

static asio::awaitable<void> co_delete_repo_impl(client& c, std::string repo_id, delete_repo_options o) {
    validate_repo_id(repo_id);
    json::object body;
    put_name(body, repo_id);
    if (o.type != repo_type::model) body["type"] = to_string(o.type);
    try {
        co_await c.co_request(mutation("DELETE", c.settings().endpoint + "/api/repos/delete", body, o.token));
    } catch (const error& e) {
        if (!o.missing_ok || e.code() != hub_errc::repo_not_found) throw;
    }
}

static asio::awaitable<void> co_create_branch_impl(client& c, std::string repo_id, std::string branch, branch_options o);

asio::awaitable<void> co_create_branch(client& c, std::string repo_id, std::string branch, branch_options o) {
    return detail::co_public(co_create_branch_impl(c, std::move(repo_id), std::move(branch), std::move(o)));
}

static asio::awaitable<void> co_create_branch_impl(client& c, std::string repo_id, std::string branch, branch_options o) {
    validate_repo_id(repo_id);
    check_ref("branch", branch);
    json::object body;
    if (o.revision) body["startingPoint"] = *o.revision;
    std::exception_ptr refused;
    try {
        co_await c.co_request(
            mutation("POST", api_base(c, o.type, repo_id) + "/branch/" + enc_ref(branch), body, o.token));
        co_return;
    } catch (const error& e) {
        if (!o.exist_ok || (e.code() != hub_errc::conflict && e.code() != hub_errc::forbidden)) throw;
        if (e.code() == hub_errc::conflict) co_return;
        refused = std::current_exception();
    }
    // 403: no write access, but the branch may already be there (Python checks the refs too).
    bool exists = false;
    try {
        repo_query q;
        q.type = o.type;
        q.token = o.token;
        repo_refs refs = co_await co_list_repo_refs(c, repo_id, q);
        for (auto& b : refs.branches) exists |= b.name == branch;
    } catch (const error&) {
    }
    if (!exists) std::rethrow_exception(refused);
}

static asio::awaitable<void> co_delete_branch_impl(client& c, std::string repo_id, std::string branch, ref_options o);

asio::awaitable<void> co_delete_branch(client& c, std::string repo_id, std::string branch, ref_options o) {
    return detail::co_public(co_delete_branch_impl(c, std::move(repo_id), std::move(branch), std::move(o)));
}

static asio::awaitable<void> co_delete_branch_impl(client& c, std::string repo_id, std::string branch, ref_options o) {
    validate_repo_id(repo_id);
    check_ref("branch", branch);
    co_await c.co_request(
        mutation("DELETE", api_base(c, o.type, repo_id) + "/branch/" + enc_ref(branch), std::nullopt, o.token));
}

static asio::awaitable<void> co_create_tag_impl(client& c, std::string repo_id, std::string tag, tag_options o);

asio::awaitable<void> co_create_tag(client& c, std::string repo_id, std::string tag, tag_options o) {
    return detail::co_public(co_create_tag_impl(c, std::move(repo_id), std::move(tag), std::move(o)));
}

static asio::awaitable<void> co_create_tag_impl(client& c, std::string repo_id, std::string tag, tag_options o) {
    validate_repo_id(repo_id);
    check_ref("tag", tag);
    json::object body{{"tag", tag}};
    if (o.message) body["message"] = *o.message;
    try {
        co_await c.co_request(
            mutation("POST", api_base(c, o.type, repo_id) + "/tag/" + enc_ref(o.revision), body, o.token));
    } catch (const error& e) {
        if (!o.exist_ok || e.code() != hub_errc::conflict) throw;
    }
}

static asio::awaitable<void> co_delete_tag_impl(client& c, std::string repo_id, std::string tag, ref_options o);

asio::awaitable<void> co_delete_tag(client& c, std::string repo_id, std::string tag, ref_options o) {
    return detail::co_public(co_delete_tag_impl(c, std::move(repo_id), std::move(tag), std::move(o)));
}

static asio::awaitable<void> co_delete_tag_impl(client& c, std::string repo_id, std::string tag, ref_options o) {
    validate_repo_id(repo_id);
    check_ref("tag", tag);
    co_await c.co_request(
        mutation("DELETE", api_base(c, o.type, repo_id) + "/tag/" + enc_ref(tag), std::nullopt, o.token));
}

static asio::awaitable<void> co_update_repo_settings_impl(client& c, std::string repo_id, repo_settings s);

asio::awaitable<void> co_update_repo_settings(client& c, std::string repo_id, repo_settings s) {
    return detail::co_public(co_update_repo_settings_impl(c, std::move(repo_id), std::move(s)));
}

static asio::awaitable<void> co_update_repo_settings_impl(client& c, std::string repo_id, repo_settings s) {
    validate_repo_id(repo_id);
    json::object body;
    if (s.is_private) body["visibility"] = *s.is_private ? "private" : "public";
    if (s.gated) {
        if (*s.gated == "false")
            body["gated"] = false;  // the Hub takes false, not "false", to turn gating off
        else
            body["gated"] = *s.gated;
    }
    co_await c.co_request(mutation("PUT", api_base(c, s.type, repo_id) + "/settings", body, s.token));
}

static asio::awaitable<discussion_info> co_create_pull_request_impl(client& c, std::string repo_id, pull_request_options o);

asio::awaitable<discussion_info> co_create_pull_request(client& c, std::string repo_id, pull_request_options o) {
    return detail::co_public(co_create_pull_request_impl(c, std::move(repo_id), std::move(o)));
}

static asio::awaitable<discussion_info> co_create_pull_request_impl(client& c, std::string repo_id, pull_request_options o) {
    validate_repo_id(repo_id);
    json::object body{{"title", o.title}, {"description", o.description}, {"pullRequest", true}};
    http_request req = mutation("POST", api_base(c, o.type, repo_id) + "/discussions", body, o.token);
    http_response resp = co_await c.co_request(req);
    auto answer = object_of(resp.body);
    if (!answer) bad_answer(req, resp, "discussion answer is not a JSON object");
    auto* n = answer->if_contains("num");
    std::optional<unsigned> num;
    if (n && n->is_uint64() && n->as_uint64() > 0 && n->as_uint64() <= 0xffffffffu)
        num = static_cast<unsigned>(n->as_uint64());
    else if (n && n->is_int64() && n->as_int64() > 0 && n->as_int64() <= 0xffffffff)
        num = static_cast<unsigned>(n->as_int64());
    if (!num) bad_answer(req, resp, "field 'num' is not a positive integer");
    discussion_info d;
    d.num = *num;
    d.git_ref = "refs/pr/" + std::to_string(d.num);
    d.url = string_at(*answer, "url")
                .value_or(repo_url(c, o.type, repo_id) + "/discussions/" + std::to_string(d.num));
    co_return d;
}

repo_url_info create_repo(client& c, std::string repo_id, create_repo_options o) {
    return detail::run_blocking(c, co_create_repo(c, std::move(repo_id), std::move(o)));
}
void delete_repo(client& c, std::string repo_id, delete_repo_options o) {
    detail::run_blocking(c, co_delete_repo(c, std::move(repo_id), std::move(o)));
}
void create_branch(client& c, std::string repo_id, std::string branch, branch_options o) {
    detail::run_blocking(c, co_create_branch(c, std::move(repo_id), std::move(branch), std::move(o)));
}
void delete_branch(client& c, std::string repo_id, std::string branch, ref_options o) {
    detail::run_blocking(c, co_delete_branch(c, std::move(repo_id), std::move(branch), std::move(o)));
}
void create_tag(client& c, std::string repo_id, std::string tag, tag_options o) {
    detail::run_blocking(c, co_create_tag(c, std::move(repo_id), std::move(tag), std::move(o)));
}
void delete_tag(client& c, std::string repo_id, std::string tag, ref_options o) {
    detail::run_blocking(c, co_delete_tag(c, std::move(repo_id), std::move(tag), std::move(o)));
}
void update_repo_settings(client& c, std::string repo_id, repo_settings s) {
    detail::run_blocking(c, co_update_repo_settings(c, std::move(repo_id), std::move(s)));
}
discussion_info create_pull_request(client& c, std::string repo_id, pull_request_options o) {
    return detail::run_blocking(c, co_create_pull_request(c, std::move(repo_id), std::move(o)));
}

}  // namespace hfhub
