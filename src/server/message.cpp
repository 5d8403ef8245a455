#include "server/message.hpp"

#include "util/paths.hpp"

#include <boost/json.hpp>

#include <strings.h>

namespace hfhub::server {

std::optional<std::string_view> header_list::get(std::string_view name) const {
    for (auto& [k, v] : items)
        if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0)
            return std::string_view(v);
    return std::nullopt;
}

void header_list::add(std::string name, std::string value) { items.emplace_back(std::move(name), std::move(value)); }

void header_list::set(std::string name, std::string value) {
    for (auto& [k, v] : items)
        if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) {
            v = std::move(value);
            return;
        }
    add(std::move(name), std::move(value));
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view q) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!q.empty()) {
        auto amp = q.find('&');
        std::string_view part = q.substr(0, amp);
        q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
        if (part.empty()) continue;
        auto eq = part.find('=');
        auto k = util::percent_decode(part.substr(0, eq), true);
        auto v = eq == std::string_view::npos ? std::optional<std::string>("")
                                              : util::percent_decode(part.substr(eq + 1), true);
        if (k && v) out.emplace_back(std::move(*k), std::move(*v));
    }
    return out;
}

std::optional<std::string> request::query_param(std::string_view name) const {
    for (auto& [k, v] : parse_query(query))
        if (k == name) return v;
    return std::nullopt;
}

std::vector<std::string> request::query_params(std::string_view name) const {
    std::vector<std::string> out;
    for (auto& [k, v] : parse_query(query))
        if (k == name) out.push_back(v);
    return out;
}

bool request::query_flag(std::string_view name) const {
    auto v = query_param(name);
    return v && (*v == "true" || *v == "True" || *v == "TRUE" || *v == "1");
}

response json_response(unsigned status, std::string body) {
    response r;
    r.status = status;
    r.headers.add("Content-Type", "application/json; charset=utf-8");
    r.body = std::move(body);
    return r;
}

response error_response(unsigned status, std::string_view code, std::string_view message) {
    response r = json_response(status, boost::json::serialize(boost::json::object{{"error", message}}));
    if (!code.empty()) r.headers.add("X-Error-Code", std::string(code));
    // A header value can't carry line breaks.
    std::string msg(message);
    for (char& c : msg)
        if (c == '\r' || c == '\n') c = ' ';
    r.headers.add("X-Error-Message", std::move(msg));
    return r;
}

}  // namespace hfhub::server
