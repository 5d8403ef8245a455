// LFS uploads: the batch API, basic and multipart transfers, completion and verify.
#include "upload/payload.hpp"
#include "upload/pipeline.hpp"

#include "util/for_each.hpp"
#include "util/paths.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>

namespace hfhub::upload {

namespace asio = boost::asio;
namespace json = boost::json;

void protocol_fail(const http_request& req, const http_response& resp, const std::string& why) {
    diagnostics d;
    d.status = resp.status;
    d.method = req.method;
    d.url = resp.url.empty() ? req.url : resp.url;
    if (auto id = resp.header("X-Request-Id")) d.request_id = std::string(*id);
    d.server_message = why;
    throw error(client_errc::protocol_error, std::move(d));
}

json::object parse_object(const http_request& req, const http_response& resp) {
    boost::system::error_code ec;
    json::value v;
    try {
        v = json::parse(resp.body, ec);
    } catch (const std::exception& e) {
        protocol_fail(req, resp, std::string("unreadable JSON body: ") + e.what());
    }
    if (ec || !v.is_object()) protocol_fail(req, resp, "the answer is not a JSON object");
    return std::move(v.as_object());
}

void progress_reporter::begin(commit_progress::stage s, std::uint64_t files_total, std::uint64_t bytes_total) {
    if (!h_) return;
    std::lock_guard lk(mu_);
    p_ = {};
    p_.what = s;
    p_.files_total = files_total;
    p_.bytes_total = bytes_total;
    h_(p_);
}

void progress_reporter::step(const std::string& file, std::uint64_t bytes) {
    if (!h_) return;
    std::lock_guard lk(mu_);
    p_.file = file;
    ++p_.files_done;
    p_.bytes_done += bytes;
    h_(p_);
}

void progress_reporter::stage_only(commit_progress::stage s) {
    if (!h_) return;
    std::lock_guard lk(mu_);
    p_ = {};
    p_.what = s;
    h_(p_);
}

std::string api_repo_url(const client& c, repo_type t, const std::string& repo_id) {
    return c.settings().endpoint + "/api/" + std::string(plural(t)) + "/" + repo_id;
}

std::string enc_rev(const std::string& rev) { return util::percent_encode(rev.empty() ? "main" : rev, false); }

const std::string lfs_json = "application/vnd.git-lfs+json";

asio::awaitable<void> co_finish_lfs(client& c, const std::string& upload_href,
                                    const std::optional<std::string>& verify_href, const std::string& oid,
                                    std::uint64_t size, const std::vector<std::string>& etags,
                                    const std::optional<std::string>& token) {
    if (!etags.empty()) {
        json::array parts;
        for (std::size_t i = 0; i < etags.size(); ++i)
            parts.push_back(json::object{{"partNumber", i + 1}, {"etag", etags[i]}});
        http_request r;
        r.method = "POST";
        r.url = upload_href;
        r.headers = {{"Accept", lfs_json}, {"Content-Type", lfs_json}};
        r.body = json::serialize(json::object{{"oid", oid}, {"parts", std::move(parts)}});
        r.send_token = false;
        r.idempotent = true;
        r.redirects = follow_redirects::none;
        // The storage side joins and checks every part before it answers: for a big object that
        // takes far longer than a read normally may (a 4 GiB object failed at the 10 s default).
        r.read_timeout = std::max(c.settings().timeouts.read, std::chrono::milliseconds(std::chrono::minutes(10)));
        co_await c.co_request(std::move(r));
    }
    if (verify_href) {
        http_request r;
        r.method = "POST";
        r.url = *verify_href;
        r.headers = {{"Accept", lfs_json}, {"Content-Type", lfs_json}};
        r.body = json::serialize(json::object{{"oid", oid}, {"size", size}});
        r.token = token;
        r.idempotent = true;
        r.redirects = follow_redirects::none;
        co_await c.co_request(std::move(r));
    }
}

namespace {


std::string str_field(const http_request& rq, const http_response& rs, const json::object& o, std::string_view k,
                      const std::string& where) {
    auto* v = o.if_contains(k);
    if (!v || !v->is_string()) protocol_fail(rq, rs, "'" + where + "." + std::string(k) + "' is not a string");
    return std::string(v->as_string());
}

struct part {
    unsigned number = 0;
    std::string href;
};

// One object to send, and what its transfer needs.
struct transfer {
    const lfs_object* obj = nullptr;
    std::string upload_href;
    std::optional<std::string> verify_href;
    std::uint64_t chunk = 0;  // multipart when non-zero
    std::vector<part> parts;
    std::vector<std::string> etags;
    std::atomic<std::size_t> remaining{0};
};

// One PUT: a whole object, or one part of one.
struct unit {
    transfer* t = nullptr;
    std::size_t part_index = 0;  // multipart only
};

http_request put_body(const lfs_object& obj, std::string url, std::uint64_t offset, std::uint64_t length) {
    http_request r;
    r.method = "PUT";
    r.url = std::move(url);
    r.send_token = false;  // storage URLs are signed; the Hub token stays home
    r.idempotent = true;
    r.redirects = follow_redirects::none;
    if (obj.file)
        r.body_file = file_range{*obj.file, offset, length};
    else
        r.body = obj.bytes->substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
    return r;
}

void parse_batch(client& c, const http_request& rq, const http_response& rs, const std::vector<lfs_object>& objs,
                 std::size_t begin, std::size_t end, std::vector<std::unique_ptr<transfer>>& out) {
    json::object body = parse_object(rq, rs);
    auto* arr = body.if_contains("objects");
    if (!arr || !arr->is_array()) protocol_fail(rq, rs, "'objects' is not an array");
    std::map<std::string, const lfs_object*> wanted;
    for (std::size_t i = begin; i < end; ++i) wanted.emplace(objs[i].oid, &objs[i]);
    // Counting answers is not enough: one object named twice would hide another left out.
    std::set<std::string> answered;
    for (std::size_t i = 0; i < arr->as_array().size(); ++i) {
        std::string where = "objects[" + std::to_string(i) + "]";
        auto* ov = arr->as_array()[i].if_object();
        if (!ov) protocol_fail(rq, rs, "'" + where + "' is not an object");
        std::string oid = str_field(rq, rs, *ov, "oid", where);
        auto it = wanted.find(oid);
        if (it == wanted.end()) protocol_fail(rq, rs, "'" + where + "' names an object not asked for");
        if (!answered.insert(oid).second) protocol_fail(rq, rs, "'" + where + "' names an object a second time");
        if (auto* err = ov->if_contains("error"); err && !err->is_null()) {
            diagnostics d;
            d.method = rq.method;
            d.url = rq.url;
            std::string msg;
            if (auto* eo = err->if_object()) {
                if (auto* m = eo->if_contains("message"); m && m->is_string()) msg = std::string(m->as_string());
                if (auto* code = eo->if_contains("code"); code && code->is_number())
                    d.status = static_cast<unsigned>(code->to_number<std::int64_t>());
            }
            d.server_message = "LFS object " + it->second->path_in_repo + " (" + oid + "): " + msg;
            throw error(d.status == 422 ? hub_errc::unprocessable : hub_errc::http_error, std::move(d));
        }
        auto* actions = ov->if_contains("actions");
        if (!actions || actions->is_null()) continue;  // already stored
        if (!actions->is_object()) protocol_fail(rq, rs, "'" + where + ".actions' is not an object");
        auto* up = actions->as_object().if_contains("upload");
        if (!up || !up->is_object()) continue;
        auto t = std::make_unique<transfer>();
        t->obj = it->second;
        t->upload_href = fix_endpoint(str_field(rq, rs, up->as_object(), "href", where + ".actions.upload"),
                                      c.settings().endpoint);
        if (auto* vf = actions->as_object().if_contains("verify"); vf && vf->is_object())
            t->verify_href = fix_endpoint(str_field(rq, rs, vf->as_object(), "href", where + ".actions.verify"),
                                          c.settings().endpoint);
        auto* hdr = up->as_object().if_contains("header");
        if (hdr && hdr->is_object()) {
            auto& h = hdr->as_object();
            if (auto* cs = h.if_contains("chunk_size")) {
                std::string s = cs->is_string() ? std::string(cs->as_string())
                                : cs->is_number() ? std::to_string(cs->to_number<std::uint64_t>())
                                                  : std::string();
                std::uint64_t chunk = 0;
                for (char ch : s) {
                    if (ch < '0' || ch > '9' || chunk > (1ull << 50)) protocol_fail(rq, rs, "bad chunk_size '" + s + "'");
                    chunk = chunk * 10 + static_cast<std::uint64_t>(ch - '0');
                }
                if (chunk == 0) protocol_fail(rq, rs, "chunk_size is zero");
                t->chunk = chunk;
                for (auto& [k, v] : h) {
                    if (k == "chunk_size") continue;
                    // Part URLs sit under numeric keys ("00001"); other keys are headers.
                    if (k.empty() || k.size() > 9 || !std::all_of(k.begin(), k.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
                        continue;
                    if (!v.is_string()) protocol_fail(rq, rs, "part URL '" + std::string(k) + "' is not a string");
                    unsigned n = static_cast<unsigned>(std::stoul(std::string(k)));
                    t->parts.push_back({n, fix_endpoint(std::string(v.as_string()), c.settings().endpoint)});
                }
                std::sort(t->parts.begin(), t->parts.end(), [](auto& a, auto& b) { return a.number < b.number; });
                std::uint64_t want = (t->obj->size + chunk - 1) / chunk;
                if (t->parts.size() != want)
                    protocol_fail(rq, rs, "multipart upload of " + oid + " has " + std::to_string(t->parts.size()) +
                                              " part URLs, " + std::to_string(want) + " expected");
                for (std::size_t p = 0; p < t->parts.size(); ++p)
                    if (t->parts[p].number != p + 1) protocol_fail(rq, rs, "multipart part numbers are not 1..N");
                t->etags.resize(t->parts.size());
                t->remaining = t->parts.size();
            }
        }
        out.push_back(std::move(t));
    }
    if (answered.size() < wanted.size()) protocol_fail(rq, rs, "the batch answer leaves objects out");
}

}  // namespace

asio::awaitable<lfs_totals> co_upload_lfs(client& c, const std::string& repo_id, const commit_options& o,
                                          const std::vector<lfs_object>& objects, progress_reporter& progress) {
    lfs_totals totals;
    if (objects.empty()) co_return totals;
    std::vector<std::unique_ptr<transfer>> transfers;
    std::string url = c.settings().endpoint + "/" + std::string(url_prefix(o.type)) + repo_id + ".git/info/lfs/objects/batch";
    for (auto [b, e] : batches(objects.size(), o.batch_size)) {
        json::array objs;
        for (std::size_t i = b; i < e; ++i) objs.push_back(json::object{{"oid", objects[i].oid}, {"size", objects[i].size}});
        json::object body{{"operation", "upload"},
                          {"transfers", json::array{"basic", "multipart"}},
                          {"objects", std::move(objs)},
                          {"hash_algo", "sha256"}};
        if (!o.create_pr) body["ref"] = json::object{{"name", o.revision.empty() ? "main" : o.revision}};
        http_request r;
        r.method = "POST";
        r.url = url;
        r.headers = {{"Accept", lfs_json}, {"Content-Type", lfs_json}};
        r.body = json::serialize(body);
        r.token = o.token;
        r.idempotent = true;  // asking is safe to repeat
        http_response resp = co_await c.co_request(r);
        parse_batch(c, r, resp, objects, b, e, transfers);
    }

    std::vector<unit> units;
    std::uint64_t bytes_total = 0;
    for (auto& t : transfers) {
        bytes_total += t->obj->size;
        if (t->chunk)
            for (std::size_t p = 0; p < t->parts.size(); ++p) units.push_back({t.get(), p});
        else
            units.push_back({t.get(), 0});
    }
    progress.begin(commit_progress::stage::uploading, transfers.size(), bytes_total);
    if (units.empty()) co_return totals;

    co_await util::co_for_each(units.size(), o.max_workers, [&](std::size_t i) -> asio::awaitable<void> {
        transfer& t = *units[i].t;
        if (!t.chunk) {
            co_await c.co_request(put_body(*t.obj, t.upload_href, 0, t.obj->size));
            co_await co_finish_lfs(c, t.upload_href, t.verify_href, t.obj->oid, t.obj->size, t.etags, o.token);
            progress.step(t.obj->path_in_repo, t.obj->size);
            co_return;
        }
        std::size_t p = units[i].part_index;
        std::uint64_t off = p * t.chunk;
        std::uint64_t len = std::min(t.chunk, t.obj->size - off);
        http_response resp = co_await c.co_request(put_body(*t.obj, t.parts[p].href, off, len));
        auto etag = resp.header("ETag");
        if (!etag) protocol_fail(put_body(*t.obj, t.parts[p].href, 0, 0), resp, "a part upload answered no ETag");
        t.etags[p] = std::string(*etag);
        if (--t.remaining == 0) {
            co_await co_finish_lfs(c, t.upload_href, t.verify_href, t.obj->oid, t.obj->size, t.etags, o.token);
            progress.step(t.obj->path_in_repo, t.obj->size);
        }
    });
    totals.objects = transfers.size();
    totals.bytes = bytes_total;
    for (auto& t : transfers) totals.sent_oids.push_back(t->obj->oid);
    co_return totals;
}

}  // namespace hfhub::upload
