// The LFS batch API's answer, read without I/O: what lfs.cpp uploads, and what the fuzzer feeds.
#include "upload/payload.hpp"
#include "upload/pipeline.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <strings.h>
#include <map>
#include <set>

namespace hfhub::upload {

namespace json = boost::json;

void protocol_fail(const http_request& req, const http_response& resp, const std::string& why) {
    diagnostics d;
    d.status = resp.status;
    d.method = req.method;
    d.url = resp.url.empty() ? req.url : resp.url;
    if (auto id = resp.header("X-Request-Id")) d.request_id = std::string(*id);
    d.client_message = why;
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

std::string fix_endpoint(std::string href, std::string_view endpoint) {
    constexpr std::string_view hub = "https://huggingface.co";
    if (endpoint.empty() || endpoint == hub || !href.starts_with(hub)) return href;
    if (href.size() > hub.size() && href[hub.size()] != '/' && href[hub.size()] != '?') return href;
    return std::string(endpoint) + href.substr(hub.size());
}

namespace {

std::string str_field(const http_request& rq, const http_response& rs, const json::object& o, std::string_view k,
                      const std::string& where) {
    auto* v = o.if_contains(k);
    if (!v || !v->is_string()) protocol_fail(rq, rs, "'" + where + "." + std::string(k) + "' is not a string");
    return std::string(v->as_string());
}

// The batch refused one object: the Hub's code and message, typed (422 is unprocessable).
[[noreturn]] void object_error(const http_request& rq, const json::value& err, const lfs_object& obj, const std::string& oid) {
    diagnostics d;
    d.method = rq.method;
    d.url = rq.url;
    std::string msg;
    if (auto* eo = err.if_object()) {
        if (auto* m = eo->if_contains("message"); m && m->is_string()) msg = std::string(m->as_string());
        // to_number throws Boost's own error for 1.5 or 1e30; such a code is just dropped.
        boost::system::error_code code_ec;
        std::int64_t n = 0;
        if (auto* code = eo->if_contains("code"); code && code->is_number()) n = code->to_number<std::int64_t>(code_ec);
        if (!code_ec && n >= 100 && n <= 599) d.status = static_cast<unsigned>(n);
    }
    d.client_message = "LFS object " + obj.path_in_repo + " (" + oid + ")";
    d.server_message = msg;
    throw error(d.status == 422 ? hub_errc::unprocessable : hub_errc::http_error, std::move(d));
}

// String-valued entries of an action's "header" object; the rest (multipart's chunk_size and
// part URLs) is read by read_multipart.
header_fields action_headers(const json::value* h) {
    header_fields out;
    if (!h || !h->is_object()) return out;
    for (auto& [k, v] : h->as_object())
        if (v.is_string() && k != "chunk_size" && !k.empty() &&
            !std::all_of(k.begin(), k.end(), [](char ch) { return ch >= '0' && ch <= '9'; }) &&
            // framing is the client's own to set
            ::strcasecmp(std::string(k).c_str(), "Content-Length") != 0 &&
            ::strcasecmp(std::string(k).c_str(), "Transfer-Encoding") != 0 &&
            ::strcasecmp(std::string(k).c_str(), "Host") != 0)
            out.emplace_back(std::string(k), std::string(v.as_string()));
    return out;
}

// A multipart action: chunk_size, and one part URL per chunk under the keys "00001"...
void read_multipart(const http_request& rq, const http_response& rs, const json::object& h, const std::string& oid,
                    const std::string& endpoint, lfs_transfer* t) {
    if (auto* cs = h.if_contains("chunk_size")) {
        boost::system::error_code cs_ec;
        std::string s = cs->is_string() ? std::string(cs->as_string())
                        : cs->is_number() ? std::to_string(cs->to_number<std::uint64_t>(cs_ec))
                                          : std::string();
        if (cs_ec) s = json::serialize(*cs);  // -5 or 1.5: refused below, by its text
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
            t->parts.push_back({n, fix_endpoint(std::string(v.as_string()), endpoint)});
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

}  // namespace

void parse_lfs_batch(const std::string& endpoint, const http_request& rq, const http_response& rs,
                     const std::vector<lfs_object>& objs, std::size_t begin, std::size_t end,
                     std::vector<std::unique_ptr<lfs_transfer>>& out, bool xet_offered) {
    json::object body = parse_object(rq, rs);
    bool xet = false;
    if (auto* tr = body.if_contains("transfer"); tr && !tr->is_null()) {
        if (!tr->is_string()) protocol_fail(rq, rs, "'transfer' is not a string");
        const auto& name = tr->as_string();
        if (name == "xet") {
            if (!xet_offered) protocol_fail(rq, rs, "the batch chose the xet transfer, which was not offered");
            xet = true;
        }
    }
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
        if (auto* err = ov->if_contains("error"); err && !err->is_null()) object_error(rq, *err, *it->second, oid);
        auto* actions = ov->if_contains("actions");
        if (!actions || actions->is_null()) continue;  // already stored
        if (!actions->is_object()) protocol_fail(rq, rs, "'" + where + ".actions' is not an object");
        auto* up = actions->as_object().if_contains("upload");
        if (!up || !up->is_object()) continue;
        auto t = std::make_unique<lfs_transfer>();
        t->obj = it->second;
        t->xet = xet;
        t->upload_href = fix_endpoint(str_field(rq, rs, up->as_object(), "href", where + ".actions.upload"),
                                      endpoint);
        if (auto* vf = actions->as_object().if_contains("verify"); vf && vf->is_object()) {
            t->verify_href = fix_endpoint(str_field(rq, rs, vf->as_object(), "href", where + ".actions.verify"),
                                          endpoint);
            t->verify_headers = action_headers(vf->as_object().if_contains("header"));
        }
        auto* hdr = up->as_object().if_contains("header");
        if (xet) {  // the header carries the CAS token: no parts
            t->upload_headers = action_headers(hdr);
            out.push_back(std::move(t));
            continue;
        }
        if (!(hdr && hdr->is_object() && hdr->as_object().contains("chunk_size"))) t->upload_headers = action_headers(hdr);
        if (hdr && hdr->is_object()) read_multipart(rq, rs, hdr->as_object(), oid, endpoint, t.get());
        out.push_back(std::move(t));
    }
    if (answered.size() < wanted.size()) protocol_fail(rq, rs, "the batch answer leaves objects out");
}

}  // namespace hfhub::upload
