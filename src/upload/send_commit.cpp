// Sending a commit: the I/O that commit_fsm asks for, and nothing it decides.
#include "upload/commit_steps.hpp"

#include <hfhub/hub_api.hpp>

#include <boost/json.hpp>

#include <chrono>

namespace hfhub::upload {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr std::chrono::milliseconds commit_timeout = std::chrono::minutes(10);

// What a revision holds at the given paths (files and folders), for comparing two heads.
asio::awaitable<path_signature> co_signature(client& c, const std::string& repo_id, const commit_options& o,
                                             const std::string& rev, const std::vector<std::string>& paths) {
    path_signature sig;
    if (paths.empty()) co_return sig;
    repo_query q{o.type, rev, o.token};
    auto entries = co_await co_get_paths_info(c, repo_id, paths, q);
    for (auto& e : entries) {
        if (auto* f = std::get_if<repo_file>(&e))
            sig[f->path] = "f:" + f->blob_id + (f->lfs ? ":" + f->lfs->sha256 : "");
        else if (auto* d = std::get_if<repo_folder>(&e))
            sig[d->path] = "d:" + d->tree_id;
    }
    co_return sig;
}

commit_info read_commit_answer(const http_request& r, const http_response& resp) {
    json::object body = parse_object(r, resp);
    commit_info info;
    auto* oid = body.if_contains("commitOid");
    if (!oid || !oid->is_string()) protocol_fail(r, resp, "no 'commitOid' in the commit answer");
    info.oid = std::string(oid->as_string());
    if (auto* u = body.if_contains("commitUrl"); u && u->is_string()) info.url = std::string(u->as_string());
    if (auto* pr = body.if_contains("pullRequestUrl"); pr && pr->is_string()) {
        info.pr_url = std::string(pr->as_string());
        info.pr_num = pr_number(*info.pr_url);
    }
    return info;
}

// One POST of the commit, never retried by the client: a lost answer is commit_fsm's to resolve.
asio::awaitable<commit_input> co_post(client& c, const std::string& repo_id, const commit_options& o,
                                      const commit_request& cr) {
    http_request r;
    r.method = "POST";
    r.url = api_repo_url(c, o.type, repo_id) + "/commit/" + enc_rev(cr.revision);
    if (cr.create_pr) r.url += "?create_pr=1";
    r.headers = {{"Content-Type", "application/x-ndjson"}};
    r.body = commit_payload(cr.header, cr.ops);
    r.token = o.token;
    r.idempotent = false;
    r.read_timeout = commit_timeout;  // a big commit takes the server a while to apply
    std::optional<error> failure;
    try {
        http_response resp = co_await c.co_request(r);
        commit_info info = read_commit_answer(r, resp);
        if (info.url.empty()) info.url = commit_url(c, o.type, repo_id, info.oid);
        commit_input sent = commit_event::sent{std::move(info)};
        co_return sent;
    } catch (const error& e) {
        failure = e;
    }
    commit_input failed = commit_event::send_failed{std::move(*failure)};
    co_return failed;
}

}  // namespace

asio::awaitable<std::string> co_head(client& c, const std::string& repo_id, const commit_options& o,
                                     const std::string& rev) {
    repo_query q{o.type, rev, o.token};
    auto info = co_await co_repo_info(c, repo_id, q);
    co_return info.sha;
}

std::string commit_url(const client& c, repo_type t, const std::string& repo_id, const std::string& oid) {
    return c.settings().endpoint + "/" + std::string(url_prefix(t)) + repo_id + "/commit/" + oid;
}

asio::awaitable<commit_info> co_send_commit(client& c, const std::string& repo_id, const commit_options& o,
                                            commit_request cr) {
    commit_fsm fsm(std::move(cr), limits_of(o));
    commit_input ev = commit_event::start{};
    for (;;) {
        commit_action a = fsm.resume(std::move(ev));
        switch (a.what) {
        case commit_action::kind::send: {
            commit_input answer = co_await co_post(c, repo_id, o, *a.request);
            ev = std::move(answer);
            break;
        }
        case commit_action::kind::read_head: {
            std::string head = co_await co_head(c, repo_id, o, a.revision);
            ev = commit_event::head{std::move(head)};
            break;
        }
        case commit_action::kind::read_signature: {
            path_signature sig = co_await co_signature(c, repo_id, o, a.revision, a.paths);
            ev = commit_event::signature{std::move(sig)};
            break;
        }
        case commit_action::kind::list_commits: {
            repo_query q{o.type, a.revision, o.token};
            std::vector<commit_summary> log = co_await co_list_repo_commits(c, repo_id, q);
            ev = commit_event::log{std::move(log)};
            break;
        }
        case commit_action::kind::done:
            if (a.info.url.empty()) a.info.url = commit_url(c, o.type, repo_id, a.info.oid);
            co_return a.info;
        case commit_action::kind::fail:
            throw *a.failure;
        }
    }
}

}  // namespace hfhub::upload
