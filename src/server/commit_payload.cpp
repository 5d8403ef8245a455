// The NDJSON commit payload, read without I/O: routes_upload.cpp applies it, the fuzzer feeds it.
#include "server/hub.hpp"

#include "util/hash.hpp"

#include <boost/json.hpp>

namespace hfhub::server {

namespace json = boost::json;

void parse_commit_payload(std::string_view body, commit_request& req) {
    bool saw_header = false;
    std::size_t line_no = 0;
    while (!body.empty()) {
        auto nl = body.find('\n');
        std::string_view line = body.substr(0, nl);
        body = nl == std::string_view::npos ? std::string_view{} : body.substr(nl + 1);
        ++line_no;
        if (line.empty() || line == "\r") continue;
        boost::system::error_code ec;
        json::value v = json::parse(line, ec);
        auto bad = [&](const std::string& why) {
            return http_error(400, "", "Invalid commit payload, line " + std::to_string(line_no) + ": " + why);
        };
        if (ec || !v.is_object()) throw bad("not a JSON object");
        auto* key = v.as_object().if_contains("key");
        auto* val = v.as_object().if_contains("value");
        if (!key || !key->is_string() || !val || !val->is_object()) throw bad("expected {\"key\",\"value\"}");
        auto& o = val->as_object();
        auto str = [&](std::string_view k, bool required) -> std::string {
            auto* x = o.if_contains(k);
            if (!x || x->is_null()) {
                if (required) throw bad("missing '" + std::string(k) + "'");
                return {};
            }
            if (!x->is_string()) throw bad("'" + std::string(k) + "' must be a string");
            return json::value_to<std::string>(*x);
        };
        std::string_view k = key->as_string();
        if (k == "header") {
            saw_header = true;
            req.summary = str("summary", false);
            req.description = str("description", false);
            std::string parent = str("parentCommit", false);
            if (!parent.empty()) req.parent = parent;
        } else if (k == "file") {
            commit_op op{commit_op::kind::add_regular, str("path", true)};
            std::string content = str("content", true);
            std::string enc = str("encoding", false);
            if (enc.empty() || enc == "base64") {
                if (!util::base64_decode(content, op.content)) throw bad("content is not valid base64");
            } else if (enc == "utf-8" || enc == "utf8") {
                op.content = std::move(content);
            } else {
                throw bad("unknown encoding '" + enc + "'");
            }
            req.ops.push_back(std::move(op));
        } else if (k == "lfsFile") {
            commit_op op{commit_op::kind::add_lfs, str("path", true)};
            std::string algo = str("algo", false);
            if (!algo.empty() && algo != "sha256") throw bad("unsupported algo '" + algo + "'");
            op.sha256 = str("oid", true);
            if (auto* s = o.if_contains("size"); s && !s->is_null()) {
                // to_number would throw Boost's own error for -1 or 1.5.
                boost::system::error_code size_ec;
                op.size = s->is_number() ? s->to_number<std::uint64_t>(size_ec) : 0;
                if (!s->is_number() || size_ec) throw bad("'size' must be a non-negative integer");
            }
            req.ops.push_back(std::move(op));
        } else if (k == "deletedFile") {
            req.ops.push_back({commit_op::kind::delete_file, str("path", true)});
        } else if (k == "deletedFolder") {
            req.ops.push_back({commit_op::kind::delete_folder, str("path", true)});
        } else {
            throw bad("unknown key '" + std::string(k) + "'");
        }
    }
    if (!saw_header) throw http_error(400, "", "Invalid commit payload: no header line");
}

}  // namespace hfhub::server
