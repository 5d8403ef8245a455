#include <hfhub/model_card.hpp>

#include "mixin/json_text.hpp"
#include "util/fs.hpp"

#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>

#include <cctype>
#include <charconv>
#include <regex>
#include <set>

namespace hfhub {

namespace json = boost::json;
namespace fs = std::filesystem;

const std::string_view default_model_card_template = R"(
---
# Card metadata reference: https://huggingface.co/docs/hub/model-cards
{{ card_data }}
---

This model was pushed to the Hub with hfhub's `model_hub_mixin`, for **{{ library_name | default("[More Information Needed]", true) }}**:
- Code: {{ repo_url | default("[More Information Needed]", true) }}
- Paper: {{ paper_url | default("[More Information Needed]", true) }}
- Docs: {{ docs_url | default("[More Information Needed]", true) }}
)";

namespace {

[[noreturn]] void fail(std::string msg) {
    diagnostics d;
    d.client_message = std::move(msg);
    throw error(make_error_code(client_errc::invalid_argument), std::move(d));
}

// YAML 1.2 core schema, plus YAML 1.1's yes/no/on/off which PyYAML still reads as bools.
enum class scalar_kind { null, boolean, integer, floating, string };

bool is_one_of(std::string_view s, std::initializer_list<std::string_view> set) {
    for (auto x : set)
        if (s == x) return true;
    return false;
}

scalar_kind resolve_plain(std::string_view s, bool yaml11_bools) {
    if (is_one_of(s, {"", "~", "null", "Null", "NULL"})) return scalar_kind::null;
    if (is_one_of(s, {"true", "True", "TRUE", "false", "False", "FALSE"})) return scalar_kind::boolean;
    if (yaml11_bools && is_one_of(s, {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N"}))
        return scalar_kind::boolean;
    static const std::regex int_re("[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+");
    static const std::regex float_re(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))");
    std::string str(s);
    if (std::regex_match(str, int_re)) return scalar_kind::integer;
    if (std::regex_match(str, float_re)) return scalar_kind::floating;
    return scalar_kind::string;
}

json::value scalar_to_json(const YAML::Node& n) {
    const std::string& s = n.Scalar();
    // "!" marks a quoted (non-plain) scalar: always a string.
    if (n.Tag() != "?") return json::string(s);
    switch (resolve_plain(s, false)) {
    case scalar_kind::null: return nullptr;
    case scalar_kind::boolean: return s[0] == 't' || s[0] == 'T';
    case scalar_kind::integer: {
        std::int64_t v = 0;
        std::string_view t = s;
        int base = 10;
        if (t.starts_with("0o")) base = 8, t.remove_prefix(2);
        else if (t.starts_with("0x")) base = 16, t.remove_prefix(2);
        bool neg = false;
        if (!t.empty() && (t[0] == '+' || t[0] == '-')) neg = t[0] == '-', t.remove_prefix(1);
        auto r = std::from_chars(t.data(), t.data() + t.size(), v, base);
        if (r.ec != std::errc() || r.ptr != t.data() + t.size()) return json::string(s);  // too big: keep the text
        return neg ? -v : v;
    }
    case scalar_kind::floating: {
        if (s.find("inf") != std::string::npos || s.find("Inf") != std::string::npos || s.find("INF") != std::string::npos ||
            s.find("nan") != std::string::npos || s.find("NaN") != std::string::npos || s.find("NAN") != std::string::npos)
            return json::string(s);  // JSON has no NaN or infinity
        std::string t = s[0] == '+' ? s.substr(1) : s;
        double d = 0;
        auto r = std::from_chars(t.data(), t.data() + t.size(), d);
        if (r.ec != std::errc()) return json::string(s);
        return d;
    }
    case scalar_kind::string: break;
    }
    return json::string(s);
}

json::value node_to_json(const YAML::Node& n, int depth) {
    if (depth > 64) fail("card data nested too deeply");
    switch (n.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null: return nullptr;
    case YAML::NodeType::Scalar: return scalar_to_json(n);
    case YAML::NodeType::Sequence: {
        json::array a;
        for (const auto& e : n) a.push_back(node_to_json(e, depth + 1));
        return a;
    }
    case YAML::NodeType::Map: {
        json::object o;
        for (const auto& kv : n) {
            if (!kv.first.IsScalar()) fail("card data has a key that is not a scalar");
            o[kv.first.Scalar()] = node_to_json(kv.second, depth + 1);
        }
        return o;
    }
    }
    return nullptr;
}

void emit(YAML::Emitter& out, const json::value& v) {
    switch (v.kind()) {
    case json::kind::null: out << YAML::Null; break;
    case json::kind::bool_: out << v.get_bool(); break;
    case json::kind::int64: out << v.get_int64(); break;
    case json::kind::uint64: out << v.get_uint64(); break;
    case json::kind::double_: {
        std::string s = mixin_detail::python_float_repr(v.get_double());
        out << s;
        break;
    }
    case json::kind::string: {
        std::string s(v.get_string());
        // Quote what a reader (yaml-cpp, PyYAML or js-yaml) would take for another type.
        if (resolve_plain(s, true) != scalar_kind::string) out << YAML::DoubleQuoted;
        out << s;
        break;
    }
    case json::kind::array:
        out << YAML::BeginSeq;
        for (const auto& e : v.get_array()) emit(out, e);
        out << YAML::EndSeq;
        break;
    case json::kind::object:
        out << YAML::BeginMap;
        for (const auto& kv : v.get_object()) {
            out << YAML::Key;
            std::string k(kv.key());
            if (resolve_plain(k, true) != scalar_kind::string) out << YAML::DoubleQuoted;
            out << k << YAML::Value;
            emit(out, kv.value());
        }
        out << YAML::EndMap;
        break;
    }
}

bool is_nl(char c) { return c == '\n' || c == '\r'; }

// Python's r"^(\s*---[\r\n]+)([\S\s]*?)([\r\n]+---(\r\n|\n|$))": returns {yaml begin, yaml end,
// text begin} or nothing.
std::optional<std::array<std::size_t, 3>> find_front_matter(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    // \s* is greedy but may give back newlines that precede "---".
    std::size_t open = s.find("---", 0);
    if (open == std::string_view::npos || open > i) return std::nullopt;
    for (std::size_t k = 0; k < open; ++k)
        if (!std::isspace(static_cast<unsigned char>(s[k]))) return std::nullopt;
    std::size_t run_begin = open + 3, run_end = run_begin;
    while (run_end < s.size() && is_nl(s[run_end])) ++run_end;
    if (run_end == run_begin) return std::nullopt;
    for (std::size_t start = run_end; start > run_begin; --start) {
        for (std::size_t p = start; p < s.size(); ++p) {
            if (!is_nl(s[p])) continue;
            std::size_t q = p;
            while (q < s.size() && is_nl(s[q])) ++q;
            // [\r\n]+ may stop before the last newline only if "---" follows it; try the longest.
            if (s.substr(q, 3) != "---") continue;
            std::size_t after = q + 3;
            if (after == s.size()) return std::array<std::size_t, 3>{start, p, after};
            if (s[after] == '\n') return std::array<std::size_t, 3>{start, p, after + 1};
            if (s.substr(after, 2) == "\r\n") return std::array<std::size_t, 3>{start, p, after + 2};
        }
    }
    return std::nullopt;
}

void put_if(json::object& o, std::string_view key, const std::string& v) {
    if (!v.empty()) o[key] = v;
}

}  // namespace

std::string card_data_to_yaml(const json::object& data) {
    YAML::Emitter out;
    out.SetNullFormat(YAML::LowerNull);
    emit(out, data);
    if (!out.good()) fail(std::string("card data cannot be written as YAML: ") + out.GetLastError());
    return out.c_str();
}

// YAML's character set: valid UTF-8, and no C0 control character but tab and line breaks (nor
// DEL). yaml-cpp takes other bytes as they are, and such values would not read back the same
// after a save (a fuzz run found one); PyYAML refuses them, so the card is refused here too.
void check_yaml_characters(std::string_view yaml) {
    for (std::size_t i = 0; i < yaml.size();) {
        auto c = static_cast<unsigned char>(yaml[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        bool ok = len != 0 && i + len <= yaml.size();
        for (std::size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(yaml[i + k]) & 0xC0) == 0x80;
        // A carriage return only ends a line with its line feed: alone, YAML reads it as a line
        // break and yaml-cpp keeps it in the value, so the card changes on the next read.
        if (ok && len == 1)
            ok = c >= 0x20 ? c != 0x7F
                           : c == '\t' || c == '\n' || (c == '\r' && i + 1 < yaml.size() && yaml[i + 1] == '\n');
        if (ok && len == 2) ok = c >= 0xC2;  // no overlong forms
        if (ok && len >= 3) {
            // Nor overlong 3- and 4-byte forms, surrogates, or code points past U+10FFFF: the
            // emitter replaces those with U+FFFD (a fuzz run found one).
            auto c1 = static_cast<unsigned char>(yaml[i + 1]);
            ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0) && !(c == 0xF0 && c1 < 0x90) &&
                 !(c == 0xF4 && c1 >= 0x90) && c <= 0xF4;
        }
        if (!ok) fail("card front matter has a byte YAML does not allow at offset " + std::to_string(i));
        i += len;
    }
}

json::object card_data_from_yaml(std::string_view yaml) {
    check_yaml_characters(yaml);
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
        fail(std::string("card front matter is not valid YAML: ") + e.what());
    }
    if (!root || root.IsNull()) return {};
    if (!root.IsMap()) fail("card front matter must be a YAML mapping");
    try {
        return node_to_json(root, 0).as_object();
    } catch (const YAML::Exception& e) {
        fail(std::string("card front matter: ") + e.what());
    }
}

model_card model_card::parse(std::string_view content) {
    auto m = find_front_matter(content);
    if (!m) return model_card({}, std::string(content));
    auto data = card_data_from_yaml(content.substr((*m)[0], (*m)[1] - (*m)[0]));
    return model_card(std::move(data), std::string(content.substr((*m)[2])));
}

model_card model_card::load(const fs::path& file) {
    auto text = util::read_file(file);
    if (!text) {
        diagnostics d;
        d.url = file.string();
        d.client_message = "cannot read the model card";
        throw error(make_error_code(client_errc::invalid_path), std::move(d));
    }
    return parse(*text);
}

model_card model_card::from_template(std::string_view tpl, const json::object& card_data, const template_vars& vars) {
    json::object o;
    for (const auto& [k, v] : vars) o[k] = v;
    return from_template_json(tpl, card_data, o);
}

model_card model_card::from_template_json(std::string_view tpl, const json::object& card_data, const json::object& vars) {
    // Python renders with card_data.to_dict() (which has no None values) updated by the
    // template's arguments, and card_data= the YAML.
    json::object all;
    for (const auto& kv : card_data)
        if (!kv.value().is_null()) all[kv.key()] = kv.value();
    for (const auto& kv : vars) all[kv.key()] = kv.value();
    all["card_data"] = card_data_to_yaml(card_data);
    return parse(render_template_json(tpl, all));
}

std::string model_card::to_string() const { return "---\n" + card_data_to_yaml(data_) + "\n---\n" + text_; }

void model_card::save(const fs::path& file) const {
    if (file.has_parent_path()) fs::create_directories(file.parent_path());
    util::write_file_atomic(file, to_string());
}


model_card generate_model_card(const model_card_metadata& meta, const template_vars& vars) {
    json::object extra = meta.extra;
    auto take = [&](std::string_view key) -> json::value {
        if (auto* v = extra.if_contains(key)) {
            json::value out = *v;
            extra.erase(key);
            return out;
        }
        return nullptr;
    };
    json::object data;
    auto put = [&](std::string_view key, json::value v) {
        if (!v.is_null()) data[key] = std::move(v);
    };
    // Python's ModelCardData field order; values given in `meta` win over `extra`.
    put("base_model", take("base_model"));
    put("datasets", take("datasets"));
    put("eval_results", take("eval_results"));
    put("language", take("language"));
    if (!meta.language.empty()) {
        json::array langs;
        for (const auto& l : meta.language) langs.emplace_back(l);
        data["language"] = std::move(langs);
    }
    put("library_name", take("library_name"));
    put_if(data, "library_name", meta.library_name);
    put("license", take("license"));
    put_if(data, "license", meta.license);
    put("license_name", take("license_name"));
    put_if(data, "license_name", meta.license_name);
    put("license_link", take("license_link"));
    put_if(data, "license_link", meta.license_link);
    put("metrics", take("metrics"));
    put("model_name", take("model_name"));
    put("pipeline_tag", take("pipeline_tag"));
    put_if(data, "pipeline_tag", meta.pipeline_tag);
    // Python's sorted(set(tags)): code point order, which is UTF-8's byte order.
    std::set<std::string> tags{"model_hub_mixin"};
    json::value extra_tags = take("tags");
    if (extra_tags.is_string()) tags.insert(std::string(extra_tags.get_string()));
    else if (extra_tags.is_array()) {
        for (const auto& t : extra_tags.get_array()) {
            if (!t.is_string()) fail("card data: every tag in extra[\"tags\"] must be a string, not " + json::serialize(t));
            tags.insert(std::string(t.get_string()));
        }
    } else if (!extra_tags.is_null()) {
        fail("card data: extra[\"tags\"] must be a string or a list of strings, not " + json::serialize(extra_tags));
    }
    tags.insert(meta.tags.begin(), meta.tags.end());
    json::array tag_list;
    for (const auto& t : tags) tag_list.emplace_back(t);
    data["tags"] = std::move(tag_list);
    for (const auto& kv : extra) data[kv.key()] = kv.value();

    template_vars all = vars;
    auto var = [&](const char* k, const std::string& v) {
        if (!v.empty() && !all.contains(k)) all[k] = v;
    };
    var("repo_url", meta.repo_url);
    var("docs_url", meta.docs_url);
    var("paper_url", meta.paper_url);
    return model_card::from_template(meta.card_template.empty() ? default_model_card_template : std::string_view(meta.card_template),
                                     data, all);
}

model_card_metadata inherit_metadata(const model_card_metadata& parent, const model_card_metadata& child) {
    model_card_metadata m = parent;
    auto over = [](std::string& dst, const std::string& src) {
        if (!src.empty()) dst = src;
    };
    over(m.library_name, child.library_name);
    over(m.license, child.license);
    over(m.license_name, child.license_name);
    over(m.license_link, child.license_link);
    over(m.pipeline_tag, child.pipeline_tag);
    over(m.repo_url, child.repo_url);
    over(m.docs_url, child.docs_url);
    over(m.paper_url, child.paper_url);
    over(m.card_template, child.card_template);
    if (!child.language.empty()) m.language = child.language;
    std::set<std::string> seen(m.tags.begin(), m.tags.end());  // copies: push_back moves the strings
    for (const auto& t : child.tags)
        if (seen.insert(t).second) m.tags.push_back(t);
    for (const auto& kv : child.extra) m.extra[kv.key()] = kv.value();
    return m;
}

}  // namespace hfhub
