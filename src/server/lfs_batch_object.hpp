// One object of an LFS batch request, read the same way by the basic/multipart answer and the
// Xet one.
#pragma once

#include "util/hash.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace hfhub::server {

struct lfs_batch_object {
    std::string oid;  // sha256 hex
    std::uint64_t size = 0;
};

// Echoes the object's oid and size into its answer `o`; nullopt, with `o` carrying a 422
// error, unless it has a sha256 oid and a size.
inline std::optional<lfs_batch_object> read_batch_object(const boost::json::value& ov, boost::json::object& o) {
    std::string oid;
    std::int64_t size = -1;
    if (const auto* obj = ov.if_object()) {
        if (auto* v = obj->if_contains("oid"); v && v->is_string()) oid = boost::json::value_to<std::string>(*v);
        if (auto* v = obj->if_contains("size"); v && v->is_number()) size = v->to_number<std::int64_t>();
    }
    o["oid"] = oid;
    o["size"] = size;
    if (!util::is_hex(oid, 64) || size < 0) {
        o["error"] = boost::json::object{{"code", 422}, {"message", "Invalid object: needs a sha256 oid and a size"}};
        return std::nullopt;
    }
    return lfs_batch_object{std::move(oid), static_cast<std::uint64_t>(size)};
}

}  // namespace hfhub::server
