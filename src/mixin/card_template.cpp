// Card templates: the subset of Jinja that model-card templates use, parsed whole before
// rendering so an error anywhere is found whatever the variables are.
#include <hfhub/model_card.hpp>

#include "mixin/json_text.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <charconv>
#include <cmath>

namespace hfhub {

namespace json = boost::json;

namespace {

struct where {
    std::size_t line = 1, column = 1;
};

// An excerpt of a construct for messages: short, on one line.
std::string excerpt(std::string_view s) {
    std::string out;
    for (char ch : s.substr(0, 80)) out += (ch == '\n' || ch == '\r') ? ' ' : ch;
    if (s.size() > 80) out += "...";
    return out;
}

class template_engine {
public:
    explicit template_engine(std::string_view tpl) : tpl_(tpl) {
        lex();
        std::size_t i = 0;
        nodes_ = parse_nodes(i, 0);
    }

    std::string render(const json::object& vars) const {
        std::string out;
        render_nodes(nodes_, vars, out);
        return out;
    }

private:
    // ---- the template's pieces ----
    enum class item_kind { text, output, tag, comment };
    struct item {
        item_kind kind;
        std::size_t begin, end;       // the whole construct, delimiters included
        std::size_t body_begin, body_end;  // between the delimiters and their '-'
        bool trim_left = false, trim_right = false;
        std::string text;  // for text: after whitespace control
    };

    // ---- expressions ----
    enum class tok_kind { name, string, number, punct, other };
    struct token {
        tok_kind kind;
        std::string text;  // names, punctuation, other; the decoded value of a string
        std::size_t at;    // offset in the template
    };
    enum class expr_kind { var, literal, not_, and_, or_, default_ };
    struct expr {
        expr_kind kind = expr_kind::literal;
        std::string name;
        json::value literal;
        std::vector<expr> args;  // operands; default_: subject, value, boolean
    };

    // ---- the tree ----
    struct node;
    struct branch {
        std::optional<expr> cond;  // none for else
        std::vector<node> body;
    };
    struct node {
        enum class kind { text, output, if_ } k;
        std::string text;
        expr value;
        std::vector<branch> branches;
    };

    static constexpr int max_depth = 100;
    std::string_view tpl_;
    std::vector<item> items_;
    std::vector<node> nodes_;

    where position(std::size_t offset) const {
        where w;
        for (std::size_t i = 0; i < offset && i < tpl_.size(); ++i) {
            if (tpl_[i] == '\n') {
                ++w.line;
                w.column = 1;
            } else {
                ++w.column;
            }
        }
        return w;
    }

    [[noreturn]] void fail(std::size_t offset, const std::string& what) const {
        where w = position(offset);
        diagnostics d;
        d.client_message = "template line " + std::to_string(w.line) + ", column " + std::to_string(w.column) + ": " + what;
        throw error(make_error_code(client_errc::invalid_argument), std::move(d));
    }

    std::string construct(const item& it) const { return excerpt(tpl_.substr(it.begin, it.end - it.begin)); }

    // Splits the template into text, {{ }}, {% %} and {# #}, then applies "-" whitespace control.
    void lex() {
        std::size_t i = 0, n = tpl_.size();
        while (i < n) {
            std::size_t open = i;
            while (open + 1 < n && !(tpl_[open] == '{' && (tpl_[open + 1] == '{' || tpl_[open + 1] == '%' || tpl_[open + 1] == '#')))
                ++open;
            if (open + 1 >= n) open = n;
            if (open > i) items_.push_back({item_kind::text, i, open, i, open, false, false, std::string(tpl_.substr(i, open - i))});
            if (open == n) break;
            char k = tpl_[open + 1];
            item it{k == '{' ? item_kind::output : k == '%' ? item_kind::tag : item_kind::comment, open, 0, open + 2, 0};
            it.trim_left = open + 2 < n && tpl_[open + 2] == '-';
            if (it.trim_left) ++it.body_begin;
            std::string name = k == '{' ? "'{{'" : k == '%' ? "'{%'" : "'{#'";
            if (k == '#') {
                auto close = tpl_.find("#}", it.body_begin);
                if (close == std::string_view::npos) fail(open, name + std::string(" is never closed by '#}'"));
                it.body_end = close;
                it.end = close + 2;
                it.trim_right = close > it.body_begin && tpl_[close - 1] == '-';
            } else {
                const char closer = k == '{' ? '}' : '%';
                std::size_t p = it.body_begin;
                bool closed = false;
                while (p < n) {
                    char ch = tpl_[p];
                    if (ch == '"' || ch == '\'') {  // a "}}" inside a string does not close
                        ++p;
                        while (p < n && tpl_[p] != ch) p += tpl_[p] == '\\' ? 2 : 1;
                        ++p;
                        continue;
                    }
                    if (ch == closer && p + 1 < n && tpl_[p + 1] == '}') {
                        closed = true;
                        break;
                    }
                    ++p;
                }
                if (!closed)
                    fail(open, name + " is never closed by '" + std::string(1, closer) + "}': " + excerpt(tpl_.substr(open)));
                it.body_end = p;
                it.end = p + 2;
                if (p > it.body_begin && tpl_[p - 1] == '-') {
                    it.trim_right = true;
                    --it.body_end;
                }
            }
            items_.push_back(it);
            i = it.end;
        }
        auto is_space = [](char ch) { return std::isspace(static_cast<unsigned char>(ch)) != 0; };
        for (std::size_t j = 0; j < items_.size(); ++j) {
            if (items_[j].kind == item_kind::text) continue;
            if (items_[j].trim_left && j > 0 && items_[j - 1].kind == item_kind::text) {
                auto& t = items_[j - 1].text;
                while (!t.empty() && is_space(t.back())) t.pop_back();
            }
            if (items_[j].trim_right && j + 1 < items_.size() && items_[j + 1].kind == item_kind::text) {
                auto& t = items_[j + 1].text;
                std::size_t k = 0;
                while (k < t.size() && is_space(t[k])) ++k;
                t.erase(0, k);
            }
        }
    }

    std::vector<token> tokenize(const item& it) const {
        std::vector<token> out;
        std::size_t p = it.body_begin, e = it.body_end;
        while (p < e) {
            char ch = tpl_[p];
            if (std::isspace(static_cast<unsigned char>(ch))) {
                ++p;
            } else if (std::isalpha(static_cast<unsigned char>(ch)) || ch == '_') {
                std::size_t s = p;
                while (p < e && (std::isalnum(static_cast<unsigned char>(tpl_[p])) || tpl_[p] == '_')) ++p;
                out.push_back({tok_kind::name, std::string(tpl_.substr(s, p - s)), s});
            } else if (std::isdigit(static_cast<unsigned char>(ch))) {
                std::size_t s = p;
                while (p < e && (std::isdigit(static_cast<unsigned char>(tpl_[p])) || tpl_[p] == '.')) ++p;
                out.push_back({tok_kind::number, std::string(tpl_.substr(s, p - s)), s});
            } else if (ch == '"' || ch == '\'') {
                std::size_t s = p++;
                std::string v;
                bool closed = false;
                while (p < e) {
                    char c = tpl_[p++];
                    if (c == ch) {
                        closed = true;
                        break;
                    }
                    if (c == '\\' && p < e) {
                        char x = tpl_[p++];
                        v += x == 'n' ? '\n' : x == 't' ? '\t' : x == 'r' ? '\r' : x;
                    } else {
                        v += c;
                    }
                }
                if (!closed) fail(s, "unterminated string in " + construct(it));
                out.push_back({tok_kind::string, std::move(v), s});
            } else if (ch == '|' || ch == '(' || ch == ')' || ch == ',') {
                out.push_back({tok_kind::punct, std::string(1, ch), p++});
            } else {
                std::size_t s = p;
                while (p < e && std::ispunct(static_cast<unsigned char>(tpl_[p])) && tpl_[p] != '(' && tpl_[p] != ')' &&
                       tpl_[p] != '"' && tpl_[p] != '\'' && tpl_[p] != '_' && tpl_[p] != ',' && tpl_[p] != '|')
                    ++p;
                if (p == s) ++p;
                out.push_back({tok_kind::other, std::string(tpl_.substr(s, p - s)), s});
            }
        }
        return out;
    }

    // Recursive descent over one construct's tokens: or < and < not < filter < primary.
    struct expr_parser {
        const template_engine& eng;
        const item& it;
        const std::vector<token>& toks;
        std::size_t i;
        int depth = 0;

        // Deep nesting (or a long chain of operators, which nests the same) would overflow the
        // stack when evaluated; no card needs it.
        void nest() {
            if (++depth > max_depth) eng.fail(here(), "expression nested too deeply in " + eng.construct(it));
        }

        bool at_name(std::string_view n) const { return i < toks.size() && toks[i].kind == tok_kind::name && toks[i].text == n; }
        bool at_punct(char c) const {
            return i < toks.size() && toks[i].kind == tok_kind::punct && toks[i].text[0] == c;
        }
        std::size_t here() const { return i < toks.size() ? toks[i].at : it.body_end; }
        [[noreturn]] void unexpected() const {
            if (i >= toks.size()) eng.fail(here(), "expected an expression in " + eng.construct(it));
            const token& t = toks[i];
            std::string shown = t.kind == tok_kind::string ? "a string" : "'" + t.text + "'";
            std::string why = t.kind == tok_kind::other ? "unsupported operator " : "unexpected ";
            eng.fail(t.at, why + shown + " in " + eng.construct(it));
        }

        expr parse_or() {
            expr l = parse_and();
            while (at_name("or")) {
                ++i;
                nest();
                expr e{expr_kind::or_, {}, {}, {}};
                e.args.push_back(std::move(l));
                e.args.push_back(parse_and());
                l = std::move(e);
            }
            return l;
        }
        expr parse_and() {
            expr l = parse_not();
            while (at_name("and")) {
                ++i;
                nest();
                expr e{expr_kind::and_, {}, {}, {}};
                e.args.push_back(std::move(l));
                e.args.push_back(parse_not());
                l = std::move(e);
            }
            return l;
        }
        expr parse_not() {
            if (at_name("not")) {
                ++i;
                nest();
                expr e{expr_kind::not_, {}, {}, {}};
                e.args.push_back(parse_not());
                --depth;
                return e;
            }
            return parse_filtered();
        }
        expr parse_filtered() {
            expr subject = parse_primary();
            while (at_punct('|')) {
                ++i;
                nest();
                if (i >= toks.size() || toks[i].kind != tok_kind::name) unexpected();
                const token& f = toks[i++];
                if (f.text != "default" && f.text != "d")
                    eng.fail(f.at, "unsupported filter '" + f.text + "' in " + eng.construct(it) + " (only default)");
                expr e{expr_kind::default_, {}, {}, {}};
                e.args.push_back(std::move(subject));
                e.args.push_back(expr{expr_kind::literal, {}, json::string(), {}});  // default(): ""
                e.args.push_back(expr{expr_kind::literal, {}, false, {}});
                if (at_punct('(')) {
                    ++i;
                    std::size_t n = 0;
                    while (!at_punct(')')) {
                        if (n == 2) eng.fail(here(), "default takes at most two arguments in " + eng.construct(it));
                        if (n > 0) {
                            if (!at_punct(',')) unexpected();
                            ++i;
                        }
                        if (at_name("boolean") && i + 1 < toks.size() && toks[i + 1].kind == tok_kind::other &&
                            toks[i + 1].text == "=") {
                            i += 2;
                            n = 1;
                        }
                        e.args[1 + n] = parse_or();
                        ++n;
                    }
                    ++i;
                }
                subject = std::move(e);
            }
            return subject;
        }
        expr parse_primary() {
            if (i >= toks.size()) unexpected();
            const token& t = toks[i];
            if (t.kind == tok_kind::punct && t.text == "(") {
                ++i;
                nest();
                expr e = parse_or();
                --depth;
                if (!at_punct(')')) unexpected();
                ++i;
                return e;
            }
            if (t.kind == tok_kind::string) {
                ++i;
                return expr{expr_kind::literal, {}, json::string(t.text), {}};
            }
            if (t.kind == tok_kind::number) {
                ++i;
                const char* b = t.text.data();
                const char* e = b + t.text.size();
                if (t.text.find('.') == std::string::npos) {
                    std::int64_t v = 0;
                    auto r = std::from_chars(b, e, v);
                    if (r.ec == std::errc() && r.ptr == e) return expr{expr_kind::literal, {}, v, {}};
                } else {
                    double d = 0;
                    auto r = std::from_chars(b, e, d);
                    if (r.ec == std::errc() && r.ptr == e) return expr{expr_kind::literal, {}, d, {}};
                }
                --i;
                unexpected();
            }
            if (t.kind == tok_kind::name) {
                static constexpr std::string_view reserved[] = {"and", "or", "not", "if", "else", "in", "is"};
                for (auto r : reserved)
                    if (t.text == r) unexpected();
                ++i;
                if (t.text == "true" || t.text == "True") return expr{expr_kind::literal, {}, true, {}};
                if (t.text == "false" || t.text == "False") return expr{expr_kind::literal, {}, false, {}};
                if (t.text == "none" || t.text == "None") return expr{expr_kind::literal, {}, nullptr, {}};
                return expr{expr_kind::var, t.text, {}, {}};
            }
            unexpected();
        }
    };

    expr parse_expr(const item& it, const std::vector<token>& toks, std::size_t from) const {
        expr_parser p{*this, it, toks, from};
        expr e = p.parse_or();
        if (p.i < toks.size()) p.unexpected();
        return e;
    }

    // The tag's keyword, or a failure for an empty tag.
    std::string keyword(const item& it, const std::vector<token>& toks) const {
        if (toks.empty() || toks[0].kind != tok_kind::name) fail(it.begin, "expected a tag name in " + construct(it));
        return toks[0].text;
    }

    void no_arguments(const item& it, const std::vector<token>& toks) const {
        if (toks.size() > 1) fail(toks[1].at, "unexpected '" + toks[1].text + "' in " + construct(it));
    }

    std::vector<node> parse_nodes(std::size_t& i, int depth) const {
        const bool in_if = depth > 0;
        std::vector<node> out;
        while (i < items_.size()) {
            const item& it = items_[i];
            switch (it.kind) {
            case item_kind::text: out.push_back(node{node::kind::text, it.text, {}, {}}); ++i; continue;
            case item_kind::comment: ++i; continue;
            case item_kind::output: {
                auto toks = tokenize(it);
                out.push_back(node{node::kind::output, {}, parse_expr(it, toks, 0), {}});
                ++i;
                continue;
            }
            case item_kind::tag: break;
            }
            auto toks = tokenize(it);
            std::string kw = keyword(it, toks);
            if (kw == "elif" || kw == "else" || kw == "endif") {
                if (in_if) return out;
                fail(it.begin, "'{% " + kw + " %}' without an open '{% if %}': " + construct(it));
            }
            if (kw != "if") fail(it.begin, "unsupported tag '" + kw + "' in " + construct(it) + " (only if, elif, else, endif)");
            if (depth >= max_depth) fail(it.begin, "'{% if %}' blocks nested too deeply: " + construct(it));
            node n{node::kind::if_, {}, {}, {}};
            const std::size_t if_item = i;
            n.branches.push_back(branch{parse_expr(it, toks, 1), {}});
            ++i;
            bool seen_else = false;
            while (true) {
                n.branches.back().body = parse_nodes(i, depth + 1);
                if (i >= items_.size())
                    fail(items_[if_item].begin, "'{% if %}' is never closed by '{% endif %}': " + construct(items_[if_item]));
                const item& t = items_[i];
                auto ttoks = tokenize(t);
                std::string tkw = keyword(t, ttoks);
                ++i;
                if (tkw == "endif") {
                    no_arguments(t, ttoks);
                    break;
                }
                if (seen_else) fail(t.begin, "'{% " + tkw + " %}' after '{% else %}': " + construct(t));
                if (tkw == "else") {
                    no_arguments(t, ttoks);
                    seen_else = true;
                    n.branches.push_back(branch{std::nullopt, {}});
                } else {  // elif
                    n.branches.push_back(branch{parse_expr(t, ttoks, 1), {}});
                }
            }
            out.push_back(std::move(n));
        }
        return out;
    }

    // ---- rendering ----
    using value = std::optional<json::value>;  // nullopt: undefined

    static bool truthy(const value& v) {
        if (!v) return false;
        switch (v->kind()) {
        case json::kind::null: return false;
        case json::kind::bool_: return v->get_bool();
        case json::kind::int64: return v->get_int64() != 0;
        case json::kind::uint64: return v->get_uint64() != 0;
        case json::kind::double_: return v->get_double() != 0;
        case json::kind::string: return !v->get_string().empty();
        case json::kind::array: return !v->get_array().empty();
        case json::kind::object: return !v->get_object().empty();
        }
        return false;
    }

    static value eval(const expr& e, const json::object& vars) {
        switch (e.kind) {
        case expr_kind::literal: return e.literal;
        case expr_kind::var:
            if (auto* v = vars.if_contains(e.name)) return *v;
            return std::nullopt;
        case expr_kind::not_: return json::value(!truthy(eval(e.args[0], vars)));
        case expr_kind::and_: {  // Jinja returns an operand, not a bool
            value l = eval(e.args[0], vars);
            return truthy(l) ? eval(e.args[1], vars) : l;
        }
        case expr_kind::or_: {
            value l = eval(e.args[0], vars);
            return truthy(l) ? l : eval(e.args[1], vars);
        }
        case expr_kind::default_: {
            value v = eval(e.args[0], vars);
            bool use = !v || (truthy(eval(e.args[2], vars)) && !truthy(v));
            return use ? eval(e.args[1], vars) : v;
        }
        }
        return std::nullopt;
    }

    void render_nodes(const std::vector<node>& nodes, const json::object& vars, std::string& out) const {
        for (const auto& n : nodes) {
            switch (n.k) {
            case node::kind::text: out += n.text; break;
            case node::kind::output:
                if (value v = eval(n.value, vars)) card_detail_str(*v, out);
                break;
            case node::kind::if_:
                for (const auto& b : n.branches) {
                    if (!b.cond || truthy(eval(*b.cond, vars))) {
                        render_nodes(b.body, vars, out);
                        break;
                    }
                }
                break;
            }
        }
    }

public:
    // Python's repr() of a string: single quotes unless only double quotes avoid escaping.
    static void repr_string(std::string_view s, std::string& out) {
        char q = (s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos) ? '"' : '\'';
        out += q;
        static const char* hex = "0123456789abcdef";
        for (std::size_t i = 0; i < s.size(); ++i) {
            auto c = static_cast<unsigned char>(s[i]);
            if (c == '\\' || c == static_cast<unsigned char>(q)) {
                out += '\\';
                out += static_cast<char>(c);
            } else if (c == '\n') {
                out += "\\n";
            } else if (c == '\r') {
                out += "\\r";
            } else if (c == '\t') {
                out += "\\t";
            } else if (c < 0x20 || c == 0x7f) {
                out += "\\x";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xa0 &&
                       static_cast<unsigned char>(s[i + 1]) >= 0x80) {  // C1 controls, U+0080..U+009F
                auto d = static_cast<unsigned char>(s[++i]);
                out += "\\x";
                out += hex[d >> 4];
                out += hex[d & 15];
            } else {
                out += static_cast<char>(c);
            }
        }
        out += q;
    }

    // Python's str() of the value; repr() inside lists and dicts.
    static void card_detail_str(const json::value& v, std::string& out, bool nested = false) {
        switch (v.kind()) {
        case json::kind::null: out += "None"; break;
        case json::kind::bool_: out += v.get_bool() ? "True" : "False"; break;
        case json::kind::int64: out += std::to_string(v.get_int64()); break;
        case json::kind::uint64: out += std::to_string(v.get_uint64()); break;
        case json::kind::double_: {
            double d = v.get_double();
            if (std::isnan(d)) out += "nan";
            else if (std::isinf(d)) out += d < 0 ? "-inf" : "inf";
            else out += mixin_detail::python_float_repr(d);
            break;
        }
        case json::kind::string:
            if (nested) repr_string(v.get_string(), out);
            else out.append(v.get_string().data(), v.get_string().size());
            break;
        case json::kind::array: {
            out += '[';
            bool first = true;
            for (const auto& e : v.get_array()) {
                if (!first) out += ", ";
                first = false;
                card_detail_str(e, out, true);
            }
            out += ']';
            break;
        }
        case json::kind::object: {
            out += '{';
            bool first = true;
            for (const auto& kv : v.get_object()) {
                if (!first) out += ", ";
                first = false;
                repr_string(kv.key(), out);
                out += ": ";
                card_detail_str(kv.value(), out, true);
            }
            out += '}';
            break;
        }
        }
    }
};

}  // namespace

std::string render_template_json(std::string_view tpl, const json::object& vars) {
    return template_engine(tpl).render(vars);
}

std::string render_template(std::string_view tpl, const template_vars& vars) {
    json::object o;
    for (const auto& [k, v] : vars) o[k] = v;
    return render_template_json(tpl, o);
}

}  // namespace hfhub
