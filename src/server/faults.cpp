#include "server/faults.hpp"

#include <boost/json.hpp>

#include <limits>
#include <stdexcept>

namespace hfhub::server {

namespace json = boost::json;

namespace {
std::uint64_t as_count(const json::value& v, const char* name,
                       std::uint64_t max = std::numeric_limits<std::int64_t>::max()) {
    if (!v.is_number()) throw std::invalid_argument(std::string("fault rule: '") + name + "' must be a number");
    boost::system::error_code ec;
    auto n = v.to_number<std::int64_t>(ec);
    if (ec) throw std::invalid_argument(std::string("fault rule: '") + name + "' must be a whole number");
    if (n < 0) throw std::invalid_argument(std::string("fault rule: '") + name + "' must not be negative");
    if (static_cast<std::uint64_t>(n) > max)
        throw std::invalid_argument(std::string("fault rule: '") + name + "' is too large");
    return static_cast<std::uint64_t>(n);
}

// Narrowed without wrapping: a huge "times" must not turn into 0 ("forever").
unsigned as_unsigned(const json::value& v, const char* name) {
    return static_cast<unsigned>(as_count(v, name, std::numeric_limits<unsigned>::max()));
}

std::vector<fault_rule> parse_rules(std::string_view text);
}  // namespace

std::vector<fault_rule> fault_injector::parse(std::string_view text) {
    try {
        return parse_rules(text);
    } catch (const boost::system::system_error& e) {  // a JSON value of the wrong type
        throw std::invalid_argument(std::string("faults: a value has the wrong type (") + e.what() + ")");
    }
}

namespace {
std::vector<fault_rule> parse_rules(std::string_view text) {
    boost::system::error_code ec;
    json::value doc = json::parse(text, ec);
    if (ec || !doc.is_object()) throw std::invalid_argument("faults: expected a JSON object");
    auto* rules = doc.as_object().if_contains("rules");
    if (!rules || !rules->is_array()) throw std::invalid_argument("faults: expected \"rules\": [...]");
    std::vector<fault_rule> out;
    for (auto& rv : rules->as_array()) {
        if (!rv.is_object()) throw std::invalid_argument("faults: each rule is an object");
        fault_rule r;
        for (auto& [k, v] : rv.as_object()) {
            if (k == "listener") {
                if (v == "api") r.listener = listener_kind::api;
                else if (v == "storage") r.listener = listener_kind::storage;
                else throw std::invalid_argument("fault rule: listener is \"api\" or \"storage\"");
            } else if (k == "method") {
                r.method = json::value_to<std::string>(v);
            } else if (k == "match") {
                r.match = json::value_to<std::string>(v);
            } else if (k == "nth") {
                r.nth = as_unsigned(v, "nth");
                if (r.nth == 0) throw std::invalid_argument("fault rule: nth counts from 1");
            } else if (k == "times") {
                r.times = as_unsigned(v, "times");
            } else if (k == "status") {
                r.action.status = as_unsigned(v, "status");
                if (r.action.status < 100 || r.action.status > 599)
                    throw std::invalid_argument("fault rule: status must be 100..599");
            } else if (k == "headers") {
                for (auto& [hk, hv] : v.as_object())
                    r.action.headers.add(std::string(hk), json::value_to<std::string>(hv));
            } else if (k == "retry_after") {
                if (!r.action.status) r.action.status = 429;
                r.action.headers.add("Retry-After", std::to_string(as_count(v, "retry_after")));
            } else if (k == "ratelimit_reset") {
                if (!r.action.status) r.action.status = 429;
                auto t = as_count(v, "ratelimit_reset");
                r.action.headers.add("RateLimit", "\"api\";r=0;t=" + std::to_string(t));
                r.action.headers.add("RateLimit-Policy", "\"fixed window\";\"api\";q=500;w=300");
            } else if (k == "stall_ms") {
                r.action.stall_ms = as_unsigned(v, "stall_ms");
            } else if (k == "stall_after_bytes") {
                r.action.stall_after_bytes = as_count(v, "stall_after_bytes");
            } else if (k == "drop_after_bytes") {
                r.action.drop_after_bytes = as_count(v, "drop_after_bytes");
            } else if (k == "drop") {
                r.action.drop = v.as_bool();
            } else if (k == "corrupt_at_byte") {
                r.action.corrupt_at_byte = as_count(v, "corrupt_at_byte");
            } else if (k == "corrupt") {
                r.action.corrupt_middle = v.as_bool();
            } else {
                throw std::invalid_argument("fault rule: unknown key '" + std::string(k) + "'");
            }
        }
        out.push_back(std::move(r));
    }
    return out;
}
}  // namespace

void fault_injector::replace(std::vector<fault_rule> rules) {
    std::lock_guard lk(mu_);
    rules_ = std::move(rules);
}

std::optional<fault_action> fault_injector::on_request(listener_kind l, std::string_view method,
                                                       std::string_view target) {
    std::lock_guard lk(mu_);
    std::optional<fault_action> hit;
    for (auto& r : rules_) {
        if (r.listener && *r.listener != l) continue;
        if (!r.method.empty() && r.method != method) continue;
        if (!r.match.empty() && target.find(r.match) == std::string_view::npos) continue;
        ++r.seen;
        bool due = r.seen >= r.nth && (r.times == 0 || r.seen - r.nth < r.times);  // no overflow
        if (due && !hit) {
            ++r.fired;
            hit = r.action;
        }
    }
    return hit;
}

std::string fault_injector::describe() const {
    std::lock_guard lk(mu_);
    json::array arr;
    for (auto& r : rules_) {
        json::object o{{"method", r.method}, {"match", r.match}, {"nth", r.nth}, {"times", r.times},
                       {"status", r.action.status}, {"seen", r.seen}, {"fired", r.fired}};
        if (r.listener) o["listener"] = *r.listener == listener_kind::api ? "api" : "storage";
        arr.push_back(std::move(o));
    }
    return json::serialize(json::object{{"rules", std::move(arr)}});
}

}  // namespace hfhub::server
