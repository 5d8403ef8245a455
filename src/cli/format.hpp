// --format json: one JSON object on stdout per result, so scripts need not scrape text.
// Failures become {"error": {...}} on stdout too, with the exit code unchanged.
#pragma once

#include <hfhub/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <exception>
#include <iostream>
#include <optional>
#include <string_view>

namespace hfhub::cli {

enum class output_format { text, json };

inline std::optional<output_format> parse_format(std::string_view s) {
    if (s == "text") return output_format::text;
    if (s == "json") return output_format::json;
    return std::nullopt;
}

inline void print_json(const boost::json::object& o) { std::cout << boost::json::serialize(o) << std::endl; }

// {"error": {"code": "repo_not_found", "category": "hfhub.hub", "status": 404, "message": "..."}}
inline boost::json::object error_json(const std::exception& e) {
    boost::json::object err;
    if (auto* se = dynamic_cast<const std::system_error*>(&e)) {
        err["code"] = error_name(se->code());
        err["category"] = se->code().category().name();
    } else {
        err["code"] = "error";
    }
    if (auto* he = dynamic_cast<const hfhub::error*>(&e); he && he->diag().status)
        err["status"] = he->diag().status;
    err["message"] = e.what();
    boost::json::object o;
    o["error"] = std::move(err);
    return o;
}

}  // namespace hfhub::cli
