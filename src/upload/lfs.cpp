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

void progress_reporter::begin(commit_progress::stage s, std::uint64_t files_total, std::uint64_t bytes_total,
                              std::uint64_t files_skipped, std::uint64_t bytes_skipped) {
    if (!h_) return;
    std::lock_guard lk(mu_);
    p_ = {};
    p_.what = s;
    p_.files_total = files_total;
    p_.bytes_total = bytes_total;
    p_.files_skipped = files_skipped;
    p_.bytes_skipped = bytes_skipped;
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
                                    const std::optional<std::string>& token, const header_fields& verify_headers) {
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
        for (auto& h : verify_headers) r.headers.push_back(h);
        // The client adds the token only when verify is on the Hub's own origin.
        r.token = token;
        r.idempotent = true;
        r.redirects = follow_redirects::none;
        co_await c.co_request(std::move(r));
    }
}

namespace {


// One PUT: a whole object, or one part of one.
struct unit {
    lfs_transfer* t = nullptr;
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

}  // namespace

asio::awaitable<lfs_totals> co_upload_lfs(client& c, const std::string& repo_id, const commit_options& o,
                                          const std::vector<lfs_object>& objects, progress_reporter& progress) {
    lfs_totals totals;
    if (objects.empty()) co_return totals;
    std::vector<std::unique_ptr<lfs_transfer>> transfers;
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
        parse_lfs_batch(c.settings().endpoint, r, resp, objects, b, e, transfers);
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
    std::uint64_t bytes_all = 0;
    for (auto& obj : objects) bytes_all += obj.size;
    progress.begin(commit_progress::stage::uploading, transfers.size(), bytes_total, objects.size() - transfers.size(),
                   bytes_all - bytes_total);
    if (units.empty()) co_return totals;

    co_await util::co_for_each(units.size(), o.max_workers, [&](std::size_t i) -> asio::awaitable<void> {
        lfs_transfer& t = *units[i].t;
        if (!t.chunk) {
            http_request put = put_body(*t.obj, t.upload_href, 0, t.obj->size);
            for (auto& h : t.upload_headers) put.headers.push_back(h);
            co_await c.co_request(std::move(put));
            co_await co_finish_lfs(c, t.upload_href, t.verify_href, t.obj->oid, t.obj->size, t.etags, o.token,
                                   t.verify_headers);
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
            co_await co_finish_lfs(c, t.upload_href, t.verify_href, t.obj->oid, t.obj->size, t.etags, o.token,
                                   t.verify_headers);
            progress.step(t.obj->path_in_repo, t.obj->size);
        }
    });
    totals.objects = transfers.size();
    totals.bytes = bytes_total;
    for (auto& t : transfers) totals.sent_oids.push_back(t->obj->oid);
    co_return totals;
}

}  // namespace hfhub::upload
