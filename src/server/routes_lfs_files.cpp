// The LFS files API, the tools a team uses to reclaim space: list a repo's LFS objects, and
// delete some permanently. Writers only, as on the Hub.
#include "server/hub.hpp"

#include "util/hash.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace hfhub::server {

namespace json = boost::json;

response hub::lfs_files(ctx& c, repo_type t, const std::string& id) {
    auto r = writable(c, t, id);
    std::size_t limit = 1000;
    if (auto l = c.req.query_param("limit"); l && !l->empty() && l->size() < 7 &&
                                             l->find_first_not_of("0123456789") == std::string::npos)
        limit = std::clamp<std::size_t>(std::stoul(*l), 1, 1000);
    auto all = store_.lfs_files(*r);
    // The cursor is the last item's sort key, "<pushed>_<oid>": objects granted or deleted
    // between pages neither repeat nor skip the others.
    auto from = all.begin();
    if (auto cur = c.req.query_param("cursor"); cur && !cur->empty()) {
        auto us = cur->find('_');
        std::string when = cur->substr(0, us == std::string::npos ? 0 : us);
        if (us == std::string::npos || when.empty() || when.size() > 18 ||
            when.find_first_not_of("0123456789") != std::string::npos || !util::is_hex(cur->substr(us + 1), 64))
            throw http_error(400, "", "Invalid cursor");
        std::int64_t pushed = std::stoll(when);
        std::string oid = cur->substr(us + 1);
        from = std::find_if(all.begin(), all.end(), [&](const lfs_file& f) {
            return f.pushed < pushed || (f.pushed == pushed && f.oid > oid);
        });
    }
    json::array out;
    auto it = from;
    for (; it != all.end() && out.size() < limit; ++it) {
        json::object o{{"oid", it->oid},
                       {"fileOid", it->oid},
                       {"size", it->size},
                       {"pushedAt", iso_time(it->pushed)},
                       {"filename", it->filename}};
        o["ref"] = it->ref.empty() ? json::value(nullptr) : json::value(it->ref);
        out.push_back(std::move(o));
    }
    response resp = json_response(200, json::serialize(out));
    if (it != all.end()) {
        auto& last = *std::prev(it);
        resp.headers.add("Link", "<" + cfg_.base_url + c.req.path + "?limit=" + std::to_string(limit) + "&cursor=" +
                                     std::to_string(last.pushed) + "_" + last.oid + ">; rel=\"next\"");
    }
    return resp;
}

response hub::lfs_files_batch(ctx& c, repo_type t, const std::string& id) {
    auto r = writable(c, t, id);
    boost::system::error_code ec;
    json::value body = json::parse(c.req.body, ec);
    const json::object* del = nullptr;
    if (!ec && body.is_object())
        if (auto* d = body.as_object().if_contains("deletions"); d && d->is_object()) del = &d->as_object();
    const json::value* shas = del ? del->if_contains("sha") : nullptr;
    if (!shas || !shas->is_array()) throw http_error(400, "", "Expected {\"deletions\": {\"sha\": [...]}}");
    if (shas->as_array().size() > 1000) throw http_error(413, "", "Too many objects in one batch (at most 1000)");
    std::vector<std::string> oids;
    for (auto& v : shas->as_array()) {
        if (!v.is_string() || !util::is_hex(v.as_string(), 64))
            throw http_error(400, "", "deletions.sha[] entries are sha256 oids");
        oids.emplace_back(v.as_string());
    }
    std::sort(oids.begin(), oids.end());
    oids.erase(std::unique(oids.begin(), oids.end()), oids.end());
    // The Python client always says; absent, it is the client's default.
    bool rewrite = true;
    if (auto* rw = del->if_contains("rewriteHistory"); rw && rw->is_bool()) rewrite = rw->as_bool();
    std::size_t freed = store_.purge_lfs(*r, oids, rewrite);
    return json_response(200, json::serialize(json::object{{"deleted", oids.size()}, {"freed", freed}}));
}

}  // namespace hfhub::server
