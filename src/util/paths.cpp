#include "util/paths.hpp"

#include <vector>

namespace hfhub::util {

std::optional<std::string> normalize_repo_path(std::string_view path, std::string& why) {
    while (path.starts_with("./")) path.remove_prefix(2);
    while (path.starts_with("/")) path.remove_prefix(1);
    if (path.empty()) {
        why = "empty path";
        return std::nullopt;
    }
    for (unsigned char c : path) {
        if (c < 0x20 || c == 0x7f) {
            why = "path contains a control character";
            return std::nullopt;
        }
        if (c == '\\') {
            why = "path contains a backslash";
            return std::nullopt;
        }
    }
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        std::string_view seg = path.substr(start, end - start);
        if (seg.empty()) {
            why = "path has an empty segment";
            return std::nullopt;
        }
        if (seg == "." || seg == "..") {
            why = "path has a '" + std::string(seg) + "' segment";
            return std::nullopt;
        }
        if (seg == ".git") {
            why = "path has a '.git' segment";
            return std::nullopt;
        }
        start = end + 1;
    }
    if (path.size() > 4096) {
        why = "path is too long";
        return std::nullopt;
    }
    return std::string(path);
}

bool valid_repo_name_part(std::string_view p) {
    if (p.empty() || p.size() > 96) return false;
    for (char c : p) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    if (p.find("--") != std::string_view::npos || p.find("..") != std::string_view::npos)
        return false;
    if (p.front() == '-' || p.front() == '.' || p.back() == '-' || p.back() == '.') return false;
    return true;
}

bool valid_ref_name(std::string_view n) {
    if (n.empty() || n.size() > 255) return false;
    if (n.front() == '/' || n.back() == '/' || n.front() == '-' || n.back() == '.') return false;
    if (n.find("..") != std::string_view::npos || n.find("//") != std::string_view::npos ||
        n.find("@{") != std::string_view::npos || n.ends_with(".lock") || n == "@")
        return false;
    if (n.starts_with("refs/")) return false;  // reserved: refs/pr/N, refs/heads/...
    for (unsigned char c : n)
        if (c < 0x21 || c == 0x7f || c == '~' || c == '^' || c == ':' || c == '?' || c == '*' ||
            c == '[' || c == '\\')
            return false;
    return true;
}

namespace {
bool fnmatch_at(std::string_view p, std::string_view s) {
    std::size_t pi = 0, si = 0, star_p = std::string_view::npos, star_s = 0;
    while (si < s.size()) {
        if (pi < p.size()) {
            char pc = p[pi];
            if (pc == '*') {
                star_p = pi++;
                star_s = si;
                continue;
            }
            if (pc == '?') {
                ++pi;
                ++si;
                continue;
            }
            if (pc == '[') {
                // A class; an unterminated '[' is a literal.
                std::size_t j = pi + 1;
                bool negate = false;
                if (j < p.size() && p[j] == '!') {
                    negate = true;
                    ++j;
                }
                const std::size_t first = j;
                if (j < p.size() && p[j] == ']') ++j;  // a leading ']' is a member
                while (j < p.size() && p[j] != ']') ++j;
                if (j < p.size()) {
                    bool match = false;
                    for (std::size_t k = first; k < j;) {
                        if (k + 2 < j && p[k + 1] == '-') {
                            if (s[si] >= p[k] && s[si] <= p[k + 2]) match = true;
                            k += 3;
                        } else {
                            if (s[si] == p[k]) match = true;
                            ++k;
                        }
                    }
                    if (match != negate) {
                        pi = j + 1;
                        ++si;
                        continue;
                    }
                } else if (s[si] == '[') {
                    ++pi;
                    ++si;
                    continue;
                }
            } else if (pc == s[si]) {
                ++pi;
                ++si;
                continue;
            }
        }
        if (star_p == std::string_view::npos) return false;
        pi = star_p + 1;
        si = ++star_s;
    }
    while (pi < p.size() && p[pi] == '*') ++pi;
    return pi == p.size();
}
}  // namespace

bool fnmatch(std::string_view pattern, std::string_view name) { return fnmatch_at(pattern, name); }

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            int hi = val(s[i + 1]), lo = val(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::string percent_encode(std::string_view s, bool keep_slash) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved || (keep_slash && c == '/')) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(digits[c >> 4]);
            out.push_back(digits[c & 0xf]);
        }
    }
    return out;
}

}  // namespace hfhub::util
