#include "hub/link_header.hpp"

namespace hfhub::hub {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

void skip_space(std::string_view s, std::size_t& i) {
    while (i < s.size() && is_space(s[i])) ++i;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// rel is a space-separated list of relation types.
bool has_next(std::string_view rel) {
    std::size_t i = 0;
    while (i < rel.size()) {
        while (i < rel.size() && is_space(rel[i])) ++i;
        std::size_t start = i;
        while (i < rel.size() && !is_space(rel[i])) ++i;
        if (iequals(rel.substr(start, i - start), "next")) return true;
    }
    return false;
}

}  // namespace

std::optional<std::string> next_link(std::string_view s, bool& malformed) {
    malformed = false;
    auto bad = [&] {
        malformed = true;
        return std::nullopt;
    };
    std::size_t i = 0;
    while (i < s.size()) {
        skip_space(s, i);
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        if (i >= s.size() || s[i] != '<') return bad();
        auto close = s.find('>', i + 1);
        if (close == std::string_view::npos) return bad();
        std::string_view target = s.substr(i + 1, close - i - 1);
        i = close + 1;
        bool next = false;
        // Params: ;name[=value|="quoted"] until the ',' that ends this link.
        while (true) {
            skip_space(s, i);
            if (i >= s.size() || s[i] == ',') break;
            if (s[i] != ';') return bad();
            ++i;
            skip_space(s, i);
            std::size_t name_start = i;
            while (i < s.size() && s[i] != '=' && s[i] != ';' && s[i] != ',' && !is_space(s[i])) ++i;
            std::string_view name = s.substr(name_start, i - name_start);
            skip_space(s, i);
            std::string value;
            if (i < s.size() && s[i] == '=') {
                ++i;
                skip_space(s, i);
                if (i < s.size() && s[i] == '"') {
                    ++i;
                    while (i < s.size() && s[i] != '"') {
                        if (s[i] == '\\' && i + 1 < s.size()) ++i;
                        value.push_back(s[i++]);
                    }
                    if (i >= s.size()) return bad();  // unterminated quote
                    ++i;
                } else {
                    while (i < s.size() && s[i] != ';' && s[i] != ',' && !is_space(s[i])) value.push_back(s[i++]);
                }
            }
            if (iequals(name, "rel") && has_next(value)) next = true;
        }
        if (next) {
            while (!target.empty() && is_space(target.front())) target.remove_prefix(1);
            while (!target.empty() && is_space(target.back())) target.remove_suffix(1);
            if (target.empty()) return bad();
            return std::string(target);
        }
    }
    return std::nullopt;
}

}  // namespace hfhub::hub
