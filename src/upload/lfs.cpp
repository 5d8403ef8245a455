// LFS uploads: the batch API, basic and multipart transfers, completion and verify.
#include "upload/payload.hpp"
#include "upload/pipeline.hpp"
#include "upload/xet_upload.hpp"

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
    std::lock_guard lk(mu_);
    files_total += reserved_files_, bytes_total += reserved_bytes_;
    reserved_files_ = reserved_bytes_ = 0;
    if (!h_) return;
    p_ = {};
    p_.what = s;
    p_.files_total = files_total;
    p_.bytes_total = bytes_total;
    p_.files_skipped = files_skipped;
    p_.bytes_skipped = bytes_skipped;
    h_(p_);
}

void progress_reporter::reserve(std::uint64_t files, std::uint64_t bytes) {
    std::lock_guard lk(mu_);
    reserved_files_ += files, reserved_bytes_ += bytes;
}

void progress_reporter::step(const std::string& file, std::uint64_t bytes) {
    if (!h_) return;
    std::lock_guard lk(mu_);
    p_.file = file;
    ++p_.files_done;
    p_.bytes_done += bytes;
    h_(p_);
}

void progress_reporter::advance(std::uint64_t bytes) {
    if (!h_) return;
    std::lock_guard lk(mu_);
    p_.file.clear();
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

body_source source_of(const lfs_object& obj) {
    if (obj.source) return *obj.source;
    if (obj.file) return body_source::file(*obj.file);
    return body_source::bytes_view(*obj.bytes);
}

namespace {

// One PUT: a whole object, or one part of one.
struct unit {
    lfs_transfer* t = nullptr;
    std::size_t part_index = 0;  // multipart only
};

http_request put_request(std::string url) {
    http_request r;
    r.method = "PUT";
    r.url = std::move(url);
    r.send_token = false;  // storage URLs are signed; the Hub token stays home
    r.idempotent = true;
    r.redirects = follow_redirects::none;
    return r;
}

// Asks the batch API about objects[b, e) and appends a transfer for each object to send.
asio::awaitable<void> co_ask_batch(client& c, const std::string& url, const commit_options& o,
                                   const std::vector<lfs_object>& objects, std::size_t b, std::size_t e,
                                   std::vector<std::unique_ptr<lfs_transfer>>& transfers) {
    json::array objs;
    for (std::size_t i = b; i < e; ++i) objs.push_back(json::object{{"oid", objects[i].oid}, {"size", objects[i].size}});
    const bool xet = xet_offered(c);
    json::array offered{"basic", "multipart"};
    if (xet) offered.push_back("xet");
    json::object body{{"operation", "upload"},
                      {"transfers", std::move(offered)},
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
    parse_lfs_batch(c.settings().endpoint, r, resp, objects, b, e, transfers, xet);
}

// One PUT of `u`, and the completion once its object is whole. Bytes a remote source streams
// are reported as they go; the rest when the object is done.
asio::awaitable<void> co_send_unit(client& c, const commit_options& o, const unit& u, progress_reporter& progress) {
    lfs_transfer& t = *u.t;
    const lfs_object& obj = *t.obj;
    auto sent = [&t, &progress](std::uint64_t n) {
        t.streamed += n;
        progress.advance(n);
    };
    const std::uint64_t off = t.chunk ? u.part_index * t.chunk : 0;
    const std::uint64_t len = t.chunk ? std::min(t.chunk, obj.size - off) : obj.size;
    http_request put = put_request(t.chunk ? t.parts[u.part_index].href : t.upload_href);
    source_of(obj).attach(put, off, len, sent);
    if (!t.chunk) {
        for (auto& h : t.upload_headers) put.headers.push_back(h);
        co_await c.co_request(std::move(put));
    } else {
        const std::string href = put.url;
        http_response resp = co_await c.co_request(std::move(put));
        auto etag = resp.header("ETag");
        if (!etag) protocol_fail(put_request(href), resp, "a part upload answered no ETag");
        t.etags[u.part_index] = std::string(*etag);
        if (--t.remaining != 0) co_return;
    }
    co_await co_finish_lfs(c, t.upload_href, t.verify_href, obj.oid, obj.size, t.etags, o.token, t.verify_headers);
    progress.step(obj.path_in_repo, obj.size - std::min<std::uint64_t>(obj.size, t.streamed));
}

}  // namespace

asio::awaitable<lfs_totals> co_upload_lfs(client& c, const std::string& repo_id, const commit_options& o,
                                          const std::vector<lfs_object>& objects, progress_reporter& progress) {
    lfs_totals totals;
    if (objects.empty()) co_return totals;
    std::vector<std::unique_ptr<lfs_transfer>> transfers;
    std::string url = c.settings().endpoint + "/" + std::string(url_prefix(o.type)) + repo_id + ".git/info/lfs/objects/batch";
    for (auto [b, e] : batches(objects.size(), o.batch_size)) co_await co_ask_batch(c, url, o, objects, b, e, transfers);

    std::vector<unit> units;
    std::vector<const lfs_transfer*> through_xet;
    std::uint64_t bytes_total = 0;
    for (auto& t : transfers) {
        bytes_total += t->obj->size;
        if (t->xet)
            through_xet.push_back(t.get());
        else if (t->chunk)
            for (std::size_t p = 0; p < t->parts.size(); ++p) units.push_back({t.get(), p});
        else
            units.push_back({t.get(), 0});
    }
    std::uint64_t bytes_all = 0;
    for (auto& obj : objects) bytes_all += obj.size;
    progress.begin(commit_progress::stage::uploading, transfers.size(), bytes_total, objects.size() - transfers.size(),
                   bytes_all - bytes_total);
    // Xet objects first: a refused xorb or shard then fails the call before any LFS PUT.
    if (!through_xet.empty()) co_await co_upload_xet(c, repo_id, o, through_xet, progress, totals);
    if (!units.empty())
        co_await util::co_for_each(units.size(), o.max_workers, [&](std::size_t i) -> asio::awaitable<void> {
            co_await co_send_unit(c, o, units[i], progress);
        });
    totals.objects = transfers.size();
    totals.bytes = bytes_total;
    // Through Xet only new chunks went up: count what was sent.
    if (!through_xet.empty()) {
        for (auto* t : through_xet) totals.bytes -= t->obj->size;
        totals.bytes += totals.xorb_bytes_sent;
    }
    for (auto& t : transfers) totals.sent_oids.push_back(t->obj->oid);
    co_return totals;
}

}  // namespace hfhub::upload
