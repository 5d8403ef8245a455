// JSON text exactly as other tools write it, where byte-for-byte equality matters.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace hfhub::mixin_detail {

// Python's json.dumps(v, sort_keys=sort_keys, indent=indent, ensure_ascii=True): keys sorted by
// code point, ", " / ": " separators, non-ASCII as \uXXXX (surrogate pairs above U+FFFF),
// floats as repr(). indent < 0 means Python's compact default (", " and ": " on one line).
// Throws client_errc::invalid_argument for NaN/infinity or a string that is not UTF-8.
std::string python_json_dumps(const boost::json::value& v, bool sort_keys = true, int indent = 2);

// Python's repr(float): shortest round-trip digits, "1.0", "1e-05", "1e+16".
std::string python_float_repr(double d);

// A JSON string literal as serde_json writes it (the safetensors header): only '"', '\\' and
// control characters escaped, UTF-8 kept.
void append_compact_string(std::string& out, std::string_view s);

}  // namespace hfhub::mixin_detail
