// Small readers of JSON request bodies the routes share.
#pragma once

#include "server/message.hpp"

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace hfhub::server {

// The body as a JSON object; an empty body is an empty object unless `allow_empty` is false.
inline boost::json::object parse_object(const std::string& body, bool allow_empty = true) {
    if (body.empty() && allow_empty) return {};
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(body, ec);
    if (ec || !v.is_object()) throw http_error(400, "", "Expected a JSON object body");
    return std::move(v.as_object());
}

// A string member, absent when missing or null; a 400 when it is something else.
inline std::optional<std::string> opt_string(const boost::json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) throw http_error(400, "", "'" + std::string(key) + "' must be a string");
    return boost::json::value_to<std::string>(*v);
}

// A boolean member that is present and true.
inline bool opt_bool(const boost::json::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v && v->is_bool() && v->as_bool();
}

inline response empty_ok() { return json_response(200, "{}"); }

}  // namespace hfhub::server
