// Card templates: each Jinja construct of the subset, how values render, the errors (with their
// line and column), card data as template variables, and a whole card template from
// test/golden/card_template.md. Expected strings are what Jinja 3.1 renders for the same input
// (except the trailing newline, which hfhub keeps).
#include <hfhub/model_card.hpp>

#include "golden.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

namespace json = boost::json;

namespace {

using hfhub::test::golden;
using hfhub::test::slurp;

std::string render(std::string_view tpl, const json::object& vars = {}) { return hfhub::render_template(tpl, vars); }

// The message of the invalid_argument a render throws.
std::string error_of(std::string_view tpl, const json::object& vars = {}) {
    try {
        hfhub::render_template(tpl, vars);
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == hfhub::client_errc::invalid_argument), e.what());
        return e.diag().client_message;
    }
    BOOST_FAIL("no error for " << tpl);
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(model_card_template)

BOOST_AUTO_TEST_CASE(if_elif_else) {
    const char* t = "{% if a %}A{% elif b %}B{% else %}C{% endif %}";
    BOOST_TEST(render(t, {{"a", "x"}, {"b", true}}) == "A");
    BOOST_TEST(render(t, {{"a", ""}, {"b", json::array{1}}}) == "B");
    BOOST_TEST(render(t) == "C");
    BOOST_TEST(render("{% if a %}A{% endif %}.") == ".");
    BOOST_TEST(render("{% if a %}{% if b %}AB{% else %}A{% endif %}{% endif %}", {{"a", 1}, {"b", 0}}) == "A");
    BOOST_TEST(render("{% if a %}1{% elif b %}2{% elif c %}3{% endif %}", {{"c", "y"}}) == "3");
}

BOOST_AUTO_TEST_CASE(truthiness_like_jinja) {
    auto t = [](json::value v) {
        json::object vars{{"v", std::move(v)}};
        return render("{% if v %}T{% else %}F{% endif %}", vars);
    };
    BOOST_TEST(t("") == "F");
    BOOST_TEST(t("0") == "T");
    BOOST_TEST(t(false) == "F");
    BOOST_TEST(t(true) == "T");
    BOOST_TEST(t(nullptr) == "F");
    BOOST_TEST(t(0) == "F");
    BOOST_TEST(t(0.0) == "F");
    BOOST_TEST(t(2) == "T");
    BOOST_TEST(t(json::array{}) == "F");
    BOOST_TEST(t(json::array{false}) == "T");
    BOOST_TEST(t(json::object{}) == "F");
    BOOST_TEST(t(json::object{{"k", 1}}) == "T");
    BOOST_TEST(render("{% if absent %}T{% else %}F{% endif %}") == "F");
}

BOOST_AUTO_TEST_CASE(not_and_or_parentheses) {
    BOOST_TEST(render("{% if not a and (b or c) %}yes{% endif %}", {{"c", 1}}) == "yes");
    BOOST_TEST(render("{% if not a and (b or c) %}yes{% endif %}", {{"a", 1}, {"c", 1}}) == "");
    BOOST_TEST(render("{% if not not a %}yes{% endif %}", {{"a", "x"}}) == "yes");
    // and/or give back an operand, as Jinja's do.
    BOOST_TEST(render("{{ a or 'x' }}|{{ a and 'y' }}|{{ e or 'x' }}|{{ e and 'y' }}", {{"a", "A"}, {"e", ""}}) == "A|y|x|");
    // or binds looser than and: a or (b and c).
    BOOST_TEST(render("{{ a or b and c }}", {{"a", "A"}, {"b", ""}}) == "A");
    BOOST_TEST(render("{{ not a }}") == "True");
}

BOOST_AUTO_TEST_CASE(default_filter) {
    json::object v{{"n", nullptr}, {"z", json::array{}}, {"s", "S"}};
    BOOST_TEST(render("{{ m | default('d') }}|{{ n | default('d') }}|{{ n | default('d', true) }}|"
                      "{{ z | d('dd', boolean=true) }}|{{ m | default }}|{{ s | default('d', true) }}",
                      v) == "d|None|d|dd||S");
    BOOST_TEST(render(R"({{ m | default("say \"hi\"") }})") == "say \"hi\"");
    BOOST_TEST(render("{{ m | default(other) }}", {{"other", "O"}}) == "O");
    BOOST_TEST(render("{{ m | default(x) | default('two') }}") == "two");
    BOOST_TEST(render("{% if m | default(true) %}yes{% endif %}") == "yes");
}

BOOST_AUTO_TEST_CASE(whitespace_control_and_comments) {
    BOOST_TEST(render("x {{- a -}} y", {{"a", "A"}}) == "xAy");
    BOOST_TEST(render("line1\n  {%- if t %}\nT{% endif -%}\n  end", {{"t", true}}) == "line1\nTend");
    BOOST_TEST(render("a {#- note -#}\n b{# {{ not rendered }} {% if %} #}c") == "abc");
    // Without "-" the lines around a block stay (no trim_blocks), and the last newline is kept.
    BOOST_TEST(render("a\n{% if t %}\nb\n{% endif %}\nc\n", {{"t", true}}) == "a\n\nb\n\nc\n");
    // A "}}" inside a string does not end the placeholder.
    BOOST_TEST(render(R"({{ 'a\'b' }}{{ "}}" }})") == "a'b}}");
    BOOST_TEST(render("{ a } {x} %} #}") == "{ a } {x} %} #}");
}

BOOST_AUTO_TEST_CASE(values_render_as_python_str) {
    json::object v{{"l", json::array{"a", "b'", "c\"", "d'\"\n", 1, 1.5, true, nullptr}},
                   {"b", false},
                   {"n", nullptr},
                   {"f", 0.1},
                   {"big", 1e16},
                   {"o", json::object{{"k", json::array{1, json::object{{"z", "v"}}}}}},
                   {"i", -7},
                   {"s", "caf\xc3\xa9"}};
    BOOST_TEST(render("{{ l }}|{{ b }}|{{ n }}|{{ f }}|{{ big }}|{{ o }}|{{ i }}|{{ s }}|{{ 'lit' }}|{{ 3 }}|{{ none }}", v) ==
               "['a', \"b'\", 'c\"', 'd\\'\"\\n', 1, 1.5, True, None]|False|None|0.1|1e+16|{'k': [1, {'z': 'v'}]}|-7|caf\xc3\xa9|lit|3|None");
    BOOST_TEST(render("{{ absent }}") == "");
    // template_vars still work, as strings.
    hfhub::template_vars tv{{"a", "A"}};
    BOOST_TEST(hfhub::render_template("{% if a %}{{ a }}{% endif %}", tv) == "A");
}

BOOST_AUTO_TEST_CASE(errors_name_line_column_and_construct) {
    auto has = [](const std::string& m, std::string_view part) {
        BOOST_TEST(m.find(part) != std::string::npos, "'" << part << "' not in: " << m);
    };
    auto m = error_of("text\n  {% for x in y %}{{ x }}{% endfor %}");
    has(m, "line 2, column 3");
    has(m, "unsupported tag 'for'");
    has(m, "{% for x in y %}");

    m = error_of("ab {{ a | upper }}");
    has(m, "line 1, column 11");
    has(m, "unsupported filter 'upper'");
    has(m, "{{ a | upper }}");

    m = error_of("x\n\n{% if a %}\nopen");
    has(m, "line 3, column 1");
    has(m, "'{% if %}' is never closed");

    m = error_of("{% if a %}{% if b %}{% endif %}");
    has(m, "line 1, column 1");

    m = error_of("ok\n {% endif %}");
    has(m, "line 2, column 2");
    has(m, "'{% endif %}' without an open '{% if %}'");
    has(error_of("{% else %}"), "'{% else %}' without an open");
    has(error_of("{% elif a %}"), "'{% elif %}' without an open");

    m = error_of("{% if a %}{% else %}{% elif b %}{% endif %}");
    has(m, "column 21");
    has(m, "after '{% else %}'");
    has(error_of("{% if a %}{% else %}{% else %}{% endif %}"), "after '{% else %}'");

    m = error_of("line\n{{ a");
    has(m, "line 2, column 1");
    has(m, "'{{' is never closed");
    has(error_of("{% if a"), "'{%' is never closed");
    has(error_of("a {# never"), "line 1, column 3: '{#' is never closed");

    m = error_of("{{ a == b }}");
    has(m, "column 6");
    has(m, "unsupported operator '=='");
    has(error_of("{{ a.b }}"), "unsupported operator '.'");
    has(error_of("{{ a[0] }}"), "unsupported operator '['");
    has(error_of("{{ }}"), "expected an expression");
    has(error_of("{{ a b }}"), "unexpected 'b'");
    has(error_of("{% if %}{% endif %}"), "expected an expression");
    has(error_of("{% %}"), "expected a tag name");
    has(error_of("{% endif extra %}"), "without an open");
    has(error_of("{% if a %}{% endif b %}"), "unexpected 'b'");
    has(error_of("{{ 'open }}"), "never closed");
    has(error_of("{{ a | default('x', true, 3) }}"), "at most two arguments");
    has(error_of("{{ not }}"), "expected an expression");
    // Nesting is bounded (the parser and renderer recurse), far above what cards need.
    std::string deep, shallow;
    for (int k = 0; k < 150; ++k) deep += "{% if t %}";
    for (int k = 0; k < 150; ++k) deep += "{% endif %}";
    has(error_of(deep), "nested too deeply");
    for (int k = 0; k < 50; ++k) shallow += "{% if t %}";
    shallow += "x";
    for (int k = 0; k < 50; ++k) shallow += "{% endif %}";
    BOOST_TEST(render(shallow, {{"t", true}}) == "x");
    std::string nots = "{{ ";
    for (int k = 0; k < 150; ++k) nots += "not ";
    has(error_of(nots + "a }}"), "nested too deeply");
    has(error_of("{{ " + std::string(150, '(') + "a" + std::string(150, ')') + " }}"), "nested too deeply");
    BOOST_TEST(render("{{ " + std::string(20, '(') + "a" + std::string(20, ')') + " }}", {{"a", 1}}) == "1");
    // An error in a branch that is not taken is still an error.
    has(error_of("{% if false %}{{ a | upper }}{% endif %}"), "unsupported filter");
}

BOOST_AUTO_TEST_CASE(card_data_keys_are_variables) {
    json::object data{{"license", "mit"}, {"language", json::array{"en", "fr"}}, {"gone", nullptr}, {"n", 3}};
    auto card = hfhub::model_card::from_template(
        "---\n{{ card_data }}\n---\n{{ license }} {{ language }} {{ n }} [{{ gone }}] {{ title | default('T') }}\n", data);
    BOOST_TEST(card.text() == "mit ['en', 'fr'] 3 [] T\n");
    BOOST_TEST(json::serialize(card.data()) == json::serialize(data));
    // Explicit variables win; card_data is always the YAML.
    auto over = hfhub::model_card::from_template("{{ license }}|{{ card_data }}", data,
                                                 hfhub::template_vars{{"license", "apache-2.0"}, {"card_data", "x"}});
    BOOST_TEST(over.text().starts_with("apache-2.0|license: mit\n"), over.text());
    json::object jv{{"flag", true}};
    auto typed = hfhub::model_card::from_template("{% if flag %}{{ flag }}{% endif %}", data, jv);
    BOOST_TEST(typed.text() == "True");
}

BOOST_AUTO_TEST_CASE(golden_card_template) {
    std::string tpl = slurp(golden / "card_template.md");
    BOOST_TEST_REQUIRE(!tpl.empty());
    json::object data{{"language", json::array{"en", "fr"}}, {"license", "other"}, {"license_name", "my-license"},
                      {"tags", json::array{"b", "a"}}};
    auto card = hfhub::model_card::from_template(tpl, data, hfhub::template_vars{{"model_id", "org/tiny"}});
    BOOST_TEST(json::serialize(card.data()) == json::serialize(data));
    const std::string& t = card.text();
    auto has = [&](std::string_view part) { BOOST_TEST(t.find(part) != std::string::npos, "'" << part << "' not in:\n" << t); };
    has("\n# org/tiny\n\n<!-- One line about the model. -->\n\n\n## Facts\n");
    has("- **Authors:** [More Information Needed]\n- **Languages:** ['en', 'fr']\n- **License:** other\n"
        "- **Base model:** [More Information Needed]\n- **License name:** my-license\n- **Tags:** ['b', 'a']\n\n\nNo evaluation yet.\n");
    BOOST_TEST(t.find("{") == std::string::npos, t);  // no construct left over

    json::object data2{{"license", "mit"}, {"pipeline_tag", "text-classification"}};
    auto card2 = hfhub::model_card::from_template(tpl, data2, hfhub::template_vars{{"results", "acc 0.9"}});
    const std::string& t2 = card2.text();
    BOOST_TEST(t2.find("\n# Unnamed model\n") != std::string::npos, t2);
    BOOST_TEST(t2.find("- **Base model:** [More Information Needed]\n- **Task:** text-classification\n\n\n## Evaluation\n\nacc 0.9\n") !=
                   std::string::npos,
               t2);
    BOOST_TEST(t2.find("License name") == std::string::npos, t2);
    BOOST_TEST(t2.find("No evaluation") == std::string::npos, t2);
}

BOOST_AUTO_TEST_SUITE_END()
