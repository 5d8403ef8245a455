#include "mixin/json_text.hpp"

#include <hfhub/error.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

namespace hfhub::mixin_detail {

namespace json = boost::json;

namespace {

[[noreturn]] void fail(std::string msg) {
    diagnostics d;
    d.client_message = std::move(msg);
    throw error(make_error_code(client_errc::invalid_argument), std::move(d));
}

void append_u4(std::string& out, unsigned cp) {
    char buf[16];  // room for any unsigned, though callers pass at most 0xffff
    std::snprintf(buf, sizeof buf, "\\u%04x", cp);
    out += buf;
}

// Decodes one UTF-8 sequence at s[i]; advances i. Returns false when malformed.
bool next_code_point(std::string_view s, std::size_t& i, char32_t& cp) {
    auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xe ? 3 : (b >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
    for (int k = 1; k < len; ++k) {
        auto cb = static_cast<unsigned char>(s[i + k]);
        if ((cb >> 6) != 0x2) return false;
        c = (c << 6) | (cb & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min_for_len[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return false;
    i += len;
    cp = c;
    return true;
}

void append_ascii_string(std::string& out, std::string_view s) {
    out += '"';
    for (std::size_t i = 0; i < s.size();) {
        char32_t cp = 0;
        if (!next_code_point(s, i, cp)) fail("a string in the JSON value is not valid UTF-8");
        switch (cp) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (cp >= 0x20 && cp < 0x7f) {
                out += static_cast<char>(cp);
            } else if (cp < 0x10000) {
                append_u4(out, cp);
            } else {
                char32_t v = cp - 0x10000;
                append_u4(out, 0xd800 + (v >> 10));
                append_u4(out, 0xdc00 + (v & 0x3ff));
            }
        }
    }
    out += '"';
}

void newline(std::string& out, int indent, int depth) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<std::size_t>(indent) * depth, ' ');
}

void dump(std::string& out, const json::value& v, bool sort_keys, int indent, int depth) {
    switch (v.kind()) {
    case json::kind::null: out += "null"; break;
    case json::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case json::kind::int64: out += std::to_string(v.get_int64()); break;
    case json::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case json::kind::double_: out += python_float_repr(v.get_double()); break;
    case json::kind::string: append_ascii_string(out, v.get_string()); break;
    case json::kind::array: {
        const auto& a = v.get_array();
        if (a.empty()) {
            out += "[]";
            break;
        }
        out += '[';
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (i) out += indent < 0 ? ", " : ",";
            newline(out, indent, depth + 1);
            dump(out, a[i], sort_keys, indent, depth + 1);
        }
        newline(out, indent, depth);
        out += ']';
        break;
    }
    case json::kind::object: {
        const auto& o = v.get_object();
        if (o.empty()) {
            out += "{}";
            break;
        }
        std::vector<const json::key_value_pair*> items;
        for (const auto& kv : o) items.push_back(&kv);
        // Byte order of UTF-8 is code point order, which is how Python sorts str.
        if (sort_keys)
            std::sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
        out += '{';
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i) out += indent < 0 ? ", " : ",";
            newline(out, indent, depth + 1);
            append_ascii_string(out, items[i]->key());
            out += ": ";
            dump(out, items[i]->value(), sort_keys, indent, depth + 1);
        }
        newline(out, indent, depth);
        out += '}';
        break;
    }
    }
}

}  // namespace

std::string python_float_repr(double d) {
    if (std::isnan(d) || std::isinf(d)) fail("NaN and infinity have no JSON form");
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    // Shortest round-trip digits in scientific form: "-d.ddde[+-]x".
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
    std::string sign;
    if (sci.front() == '-') {
        sign = "-";
        sci.remove_prefix(1);
    }
    auto epos = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, epos))
        if (c != '.') digits += c;
    int exp10 = std::stoi(std::string(sci.substr(epos + 1)));
    int decpt = exp10 + 1;  // the value is 0.<digits> * 10^decpt
    std::string out = sign;
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            out += "0.";
            out.append(static_cast<std::size_t>(-decpt), '0');
            out += digits;
        } else if (static_cast<std::size_t>(decpt) >= digits.size()) {
            out += digits;
            out.append(static_cast<std::size_t>(decpt) - digits.size(), '0');
            out += ".0";
        } else {
            out += digits.substr(0, static_cast<std::size_t>(decpt));
            out += '.';
            out += digits.substr(static_cast<std::size_t>(decpt));
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
        out += '.';
        out += digits.substr(1);
    }
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    out += e;
    return out;
}

std::string python_json_dumps(const json::value& v, bool sort_keys, int indent) {
    std::string out;
    dump(out, v, sort_keys, indent, 0);
    return out;
}

void append_compact_string(std::string& out, std::string_view s) {
    out += '"';
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20)
                append_u4(out, c);
            else
                out += ch;
        }
    }
    out += '"';
}

}  // namespace hfhub::mixin_detail
