// Defensive reading of the Hub's JSON answers, without I/O: the typed calls in hub_api.cpp
// read through these, and so does the fuzzer.
#pragma once

#include <hfhub/hub_api.hpp>

#include <boost/json.hpp>

#include <cmath>
#include <optional>
#include <string>
#include <string_view>

namespace hfhub::hub {

namespace json = boost::json;

// Reads one response's JSON. Any deviation from the expected shape is a protocol_error that
// names the field, with the request's diagnostics; no Boost.JSON exception escapes.
class json_reader {
public:
    json_reader(const http_request& req, const http_response& resp) {
        d_.status = resp.status;
        d_.method = req.method;
        d_.url = resp.url.empty() ? req.url : resp.url;
        if (auto id = resp.header("X-Request-Id")) d_.request_id = std::string(*id);
    }

    [[noreturn]] void fail(std::string message) const {
        diagnostics d = d_;
        d.client_message = std::move(message);
        throw error(client_errc::protocol_error, std::move(d));
    }

    json::value parse(std::string_view body) const {
        boost::system::error_code ec;
        json::value v;
        try {
            v = json::parse(body, ec);
        } catch (const std::exception& e) {  // only allocation failures throw with an error_code
            fail(std::string("unreadable JSON body: ") + e.what());
        }
        if (ec) fail("malformed JSON body: " + ec.message());
        return v;
    }

    const json::object& object(const json::value& v, const std::string& name) const {
        if (auto* o = v.if_object()) return *o;
        fail("'" + name + "' is not a JSON object");
    }
    const json::array& array(const json::value& v, const std::string& name) const {
        if (auto* a = v.if_array()) return *a;
        fail("'" + name + "' is not a JSON array");
    }

    // nullptr when absent or null.
    static const json::value* find(const json::object& o, std::string_view key) {
        auto* v = o.if_contains(key);
        return v && !v->is_null() ? v : nullptr;
    }
    static std::string name(const std::string& where, std::string_view key) {
        return where.empty() ? std::string(key) : where + "." + std::string(key);
    }

    const json::value& required(const json::object& o, std::string_view key, const std::string& where) const {
        if (auto* v = find(o, key)) return *v;
        fail("missing field '" + name(where, key) + "'");
    }

    std::string str(const json::value& v, const std::string& field) const {
        if (auto* s = v.if_string()) return std::string(s->data(), s->size());
        fail("field '" + field + "' is not a string");
    }
    std::string str(const json::object& o, std::string_view key, const std::string& where) const {
        return str(required(o, key, where), name(where, key));
    }
    std::optional<std::string> opt_str(const json::object& o, std::string_view key, const std::string& where) const {
        auto* v = find(o, key);
        if (!v) return std::nullopt;
        return str(*v, name(where, key));
    }

    std::uint64_t u64(const json::value& v, const std::string& field) const {
        if (auto* u = v.if_uint64()) return *u;
        if (auto* i = v.if_int64(); i && *i >= 0) return static_cast<std::uint64_t>(*i);
        if (auto* d = v.if_double(); d && *d >= 0 && *d < 18446744073709551616.0 && std::floor(*d) == *d)
            return static_cast<std::uint64_t>(*d);
        fail("field '" + field + "' is not a non-negative integer");
    }
    std::uint64_t u64(const json::object& o, std::string_view key, const std::string& where) const {
        return u64(required(o, key, where), name(where, key));
    }
    std::optional<std::uint64_t> opt_u64(const json::object& o, std::string_view key, const std::string& where) const {
        auto* v = find(o, key);
        if (!v) return std::nullopt;
        return u64(*v, name(where, key));
    }

    bool opt_bool(const json::object& o, std::string_view key, const std::string& where) const {
        auto* v = find(o, key);
        if (!v) return false;
        if (auto* b = v->if_bool()) return *b;
        fail("field '" + name(where, key) + "' is not a boolean");
    }

private:
    diagnostics d_;
};

inline std::string indexed(std::string_view base, std::size_t i) {
    return std::string(base) + "[" + std::to_string(i) + "]";
}

// Siblings spell the LFS hash "sha256", tree entries "oid".
lfs_info read_lfs(const json_reader& r, const json::value& v, const std::string& where);
// nullopt for an entry type this client does not know (forward compatible).
std::optional<tree_entry> read_entry(const json_reader& r, const json::value& v, const std::string& where);
std::vector<git_ref> read_refs(const json_reader& r, const json::object& o, std::string_view key, bool required);
// The answer of GET /api/{type}s/{id}[/revision/{rev}]; `expanded`: of an ?expand= request,
// which carries only the properties named (no `sha` unless asked for).
repo_metadata read_repo_info(const json_reader& r, const json::value& v, bool expanded = false);

}  // namespace hfhub::hub
