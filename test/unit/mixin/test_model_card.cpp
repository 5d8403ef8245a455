// Model cards (front matter split, YAML both ways, templates, the generated card) and the mixin's
// config.json (Python's json.dumps(sort_keys=True, indent=2), field-naming errors), against
// golden files in test/golden/.
#include <hfhub/mixin.hpp>
#include <hfhub/model_card.hpp>

#include "golden.hpp"
#include "test_server.hpp"  // temp_dir

#include <boost/describe/class.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>


namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using hfhub::test::golden;
using hfhub::test::slurp;

std::string error_text(auto&& f) {
    try {
        f();
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == hfhub::client_errc::invalid_argument), e.what());
        return e.what();
    }
    BOOST_FAIL("no error");
    return {};
}

// The card's front matter as generate_model_card writes it.
std::string card_data_yaml(const hfhub::model_card& c) { return hfhub::card_data_to_yaml(c.data()); }

}  // namespace

namespace cfgtest {

struct optim {
    double lr = 0.001;
    std::vector<int> betas;
};
BOOST_DESCRIBE_STRUCT(optim, (), (lr, betas))

struct model_config {
    int hidden_size = 128;
    int vocab_size = 30522;
    int output_size = 4;
    std::string activation = "gelu";
    double dropout = 0.1;
    bool operator==(const model_config&) const = default;
};
BOOST_DESCRIBE_STRUCT(model_config, (), (hidden_size, vocab_size, output_size, activation, dropout))

struct nested_config {
    std::string name;
    optim optimizer;
    std::optional<int> seed;
    std::map<std::string, double> weights;
};
BOOST_DESCRIBE_STRUCT(nested_config, (), (name, optimizer, seed, weights))

}  // namespace cfgtest

BOOST_AUTO_TEST_SUITE(config_json)

BOOST_AUTO_TEST_CASE(python_dumps_byte_for_byte) {
    // The same value the golden's generator dumps, built here, and the golden read back.
    json::value v = {
        {"hidden_size", 128},
        {"vocab_size", 30522},
        {"learning_rate", 0.001},
        {"eps", 1e-05},
        {"big", 1e16},
        {"ratio", 2.5},
        {"whole", 100.0},
        {"neg_zero", -0.0},
        {"tiny", 5e-324},
        {"name", "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9d\x84\x9e \"q\" back\\slash"},
        {"control", "tab\there\x01\x7f"},
        {"flags", json::array{true, false, nullptr}},
        {"nested", {{"z", 1}, {"a", {{"y", json::array{}}, {"b", json::object{}}}}, {"m", json::array{1, json::array{2, 3}}}}},
        {"large", 18446744073709551615ull},
        {"negative", std::numeric_limits<std::int64_t>::min()},
    };
    std::string want = slurp(golden / "config.json");
    BOOST_TEST_REQUIRE(!want.empty());
    BOOST_TEST(hfhub::mixin_detail::dump_config(v) == want);
    // Read back exactly: parsing Python's text and dumping again changes nothing.
    BOOST_TEST(hfhub::mixin_detail::dump_config(json::parse(want)) == want);
}

BOOST_AUTO_TEST_CASE(float_repr_like_python) {
    auto r = [](double d) { return hfhub::mixin_detail::dump_config(json::value(d)); };
    BOOST_TEST(r(0.1) == "0.1");
    BOOST_TEST(r(1.0) == "1.0");
    BOOST_TEST(r(0.0001) == "0.0001");
    BOOST_TEST(r(0.00001) == "1e-05");
    BOOST_TEST(r(1e15) == "1000000000000000.0");
    BOOST_TEST(r(1.5e16) == "1.5e+16");
    BOOST_TEST(r(123456.789) == "123456.789");
    BOOST_TEST(r(-2.5e-300) == "-2.5e-300");
    BOOST_TEST(r(1.7976931348623157e308) == "1.7976931348623157e+308");
    BOOST_TEST(r(0.1 + 0.2) == "0.30000000000000004");
    BOOST_CHECK_THROW(r(std::numeric_limits<double>::quiet_NaN()), hfhub::error);
    BOOST_CHECK_THROW(hfhub::mixin_detail::dump_config(json::value("\xff")), hfhub::error);
}

BOOST_AUTO_TEST_CASE(described_struct_round_trip) {
    cfgtest::model_config c;
    std::string text = hfhub::config_to_json_text(c);
    BOOST_TEST(text == slurp(golden / "mixin_config.json"));
    auto back = hfhub::config_from_json<cfgtest::model_config>(json::parse(text));
    BOOST_TEST((back == c));
    // Unknown keys are ignored (a newer writer may add some).
    auto extra = json::parse(text);
    extra.as_object()["added_later"] = 1;
    BOOST_TEST((hfhub::config_from_json<cfgtest::model_config>(extra) == c));
}

BOOST_AUTO_TEST_CASE(errors_name_the_field) {
    auto v = json::parse(slurp(golden / "mixin_config.json"));
    // A field the file lacks keeps its default (an older writer's config, or Python's); a key
    // the type lacks is ignored (a newer writer's).
    auto missing = v;
    missing.as_object().erase("vocab_size");
    missing.as_object()["hidden_size"] = 64;
    missing.as_object()["added_later"] = json::array{1, 2};
    auto loaded = hfhub::config_from_json<cfgtest::model_config>(missing);
    BOOST_TEST(loaded.vocab_size == 30522);
    BOOST_TEST(loaded.hidden_size == 64);

    auto wrong = v;
    wrong.as_object()["hidden_size"] = "128";
    auto m = error_text([&] { hfhub::config_from_json<cfgtest::model_config>(wrong); });
    BOOST_TEST(m.find("field 'hidden_size'") != std::string::npos, m);
    BOOST_TEST(m.find("a string") != std::string::npos, m);

    auto fractional = v;
    fractional.as_object()["output_size"] = 4.5;
    m = error_text([&] { hfhub::config_from_json<cfgtest::model_config>(fractional); });
    BOOST_TEST(m.find("field 'output_size'") != std::string::npos, m);

    json::value nested = {{"name", "n"}, {"optimizer", {{"lr", 0.1}, {"betas", json::array{1, "x"}}}}, {"seed", nullptr}, {"weights", json::object{}}};
    m = error_text([&] { hfhub::config_from_json<cfgtest::nested_config>(nested); });
    BOOST_TEST(m.find("field 'optimizer.betas[1]'") != std::string::npos, m);
    nested.as_object()["optimizer"] = 3;
    m = error_text([&] { hfhub::config_from_json<cfgtest::nested_config>(nested); });
    BOOST_TEST(m.find("field 'optimizer': expected an object, got an integer") != std::string::npos, m);

    m = error_text([&] { hfhub::config_from_json<cfgtest::model_config>(json::array{}); });
    BOOST_TEST(m.find("expected an object") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(nested_optional_and_maps) {
    cfgtest::nested_config c{"n", {0.5, {9, 99}}, std::nullopt, {{"b", 2.0}, {"a", 1.5}}};
    std::string text = hfhub::config_to_json_text(c);
    BOOST_TEST(text == "{\n  \"name\": \"n\",\n  \"optimizer\": {\n    \"betas\": [\n      9,\n      99\n    ],\n"
                       "    \"lr\": 0.5\n  },\n  \"seed\": null,\n  \"weights\": {\n    \"a\": 1.5,\n    \"b\": 2.0\n  }\n}");
    auto back = hfhub::config_from_json<cfgtest::nested_config>(json::parse(text));
    BOOST_TEST(back.optimizer.betas.size() == 2u);
    BOOST_TEST(!back.seed.has_value());
    BOOST_TEST(back.weights.at("a") == 1.5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(model_card)

BOOST_AUTO_TEST_CASE(front_matter_split_like_python) {
    auto c = hfhub::model_card::parse("---\nlicense: mit\ntags:\n- a\n- b\n---\n# Title\n\ntext\n");
    BOOST_TEST(json::serialize(c.data()) == R"({"license":"mit","tags":["a","b"]})");
    BOOST_TEST(c.text() == "# Title\n\ntext\n");

    auto lead = hfhub::model_card::parse("\n  \n---\r\nlicense: mit\r\n---\r\nbody");
    BOOST_TEST(lead.data().at("license").as_string() == "mit");
    BOOST_TEST(lead.text() == "body");

    auto at_end = hfhub::model_card::parse("---\na: 1\n---");
    BOOST_TEST(at_end.data().at("a").as_int64() == 1);
    BOOST_TEST(at_end.text().empty());

    auto none = hfhub::model_card::parse("# Just text\n---\n");
    BOOST_TEST(none.data().empty());
    BOOST_TEST(none.text() == "# Just text\n---\n");

    // The block ends at the first "---" line; one followed by more text does not close it.
    auto first = hfhub::model_card::parse("---\na: x\n---\nrest\n---\nmore");
    BOOST_TEST(first.text() == "rest\n---\nmore");
    auto unclosed = hfhub::model_card::parse("---\na: 1\n---rest");
    BOOST_TEST(unclosed.data().empty());
    BOOST_TEST(unclosed.text() == "---\na: 1\n---rest");

    BOOST_TEST(hfhub::model_card::parse("---\n\n---\ntext").data().empty());
}

BOOST_AUTO_TEST_CASE(front_matter_errors) {
    auto m = error_text([] { hfhub::model_card::parse("---\na: [1, 2\n---\n"); });
    BOOST_TEST(m.find("not valid YAML") != std::string::npos, m);
    m = error_text([] { hfhub::model_card::parse("---\n- a\n- b\n---\n"); });
    BOOST_TEST(m.find("mapping") != std::string::npos, m);
    m = error_text([] { hfhub::model_card::parse("---\n? [a, b]\n: c\n---\n"); });
    BOOST_TEST(m.find("not a scalar") != std::string::npos, m);
    // Bytes YAML does not allow (found by the fuzz target: they did not survive save and
    // parse): control characters, malformed UTF-8.
    for (std::string bad : {std::string("---\na: de\x15p\n---\n"), std::string("---\na: \x80\xf9\n---\n"),
                            std::string("---\na: \xc0\xaf\n---\n"), std::string("---\na: b\x7f\n---\n"),
                            std::string("---\na: b\r\rc\n---\n")}) {
        m = error_text([&] { hfhub::model_card::parse(bad); });
        BOOST_TEST(m.find("does not allow") != std::string::npos, m);
    }
    auto ok = hfhub::model_card::parse("---\r\na: \xc3\xa9t\xc3\xa9\tx\r\n---\r\ntext\n");  // UTF-8, a tab, CRLF are fine
    BOOST_TEST(ok.data().at("a").as_string() == "\xc3\xa9t\xc3\xa9\tx");
}

BOOST_AUTO_TEST_CASE(yaml_types_and_round_trip) {
    auto d = hfhub::card_data_from_yaml("i: 12\nneg: -3\nf: 0.5\ne: 1e-05\nb: true\nB: False\nn: null\ntilde: ~\n"
                                        "qs: \"12\"\nsq: 'true'\ns: hello world\nempty:\ninf: .inf\nhex: 0x1f\n");
    BOOST_TEST(d.at("i").as_int64() == 12);
    BOOST_TEST(d.at("neg").as_int64() == -3);
    BOOST_TEST(d.at("f").as_double() == 0.5);
    BOOST_TEST(d.at("e").as_double() == 1e-05);
    BOOST_TEST(d.at("b").as_bool() == true);
    BOOST_TEST(d.at("B").as_bool() == false);
    BOOST_TEST(d.at("n").is_null());
    BOOST_TEST(d.at("tilde").is_null());
    BOOST_TEST(d.at("qs").as_string() == "12");
    BOOST_TEST(d.at("sq").as_string() == "true");
    BOOST_TEST(d.at("s").as_string() == "hello world");
    BOOST_TEST(d.at("empty").is_null());
    BOOST_TEST(d.at("inf").as_string() == ".inf");
    BOOST_TEST(d.at("hex").as_int64() == 31);

    // Strings that look like other types survive a write and a read.
    json::object tricky = {{"s1", "true"}, {"s2", "1.0"}, {"s3", ""}, {"s4", "yes"}, {"s5", "null"}, {"s6", "a: b"},
                           {"s7", "line1\nline2"}, {"s8", "caf\xc3\xa9"}, {"s9", "- x"}, {"s10", "#c"}, {"s11", "123"},
                           {"n", 1.5}, {"i", 7}, {"b", false}, {"z", nullptr}, {"l", json::array{"a", 1, json::object{{"k", "v"}}}},
                           {"o", json::object{}}, {"a", json::array{}}, {"true", "key that looks like a bool"}};
    auto yaml = hfhub::card_data_to_yaml(tricky);
    auto back = hfhub::card_data_from_yaml(yaml);
    BOOST_TEST(json::serialize(back) == json::serialize(tricky), yaml);
}

BOOST_AUTO_TEST_CASE(template_rendering) {
    hfhub::template_vars v{{"a", "A"}, {"empty", ""}};
    BOOST_TEST(hfhub::render_template("x{{a}}y{{ a }}z", v) == "xAyAz");
    BOOST_TEST(hfhub::render_template("[{{ missing }}]", v) == "[]");
    BOOST_TEST(hfhub::render_template(R"({{ missing | default("d") }})", v) == "d");
    BOOST_TEST(hfhub::render_template(R"({{ empty | default("d") }})", v) == "");
    BOOST_TEST(hfhub::render_template(R"({{ empty | default("d", true) }})", v) == "d");
    BOOST_TEST(hfhub::render_template(R"({{ a | default("d", true) }})", v) == "A");
    BOOST_TEST(hfhub::render_template(R"({{ m | default("say \"hi\"") }})", v) == "say \"hi\"");
    auto m = error_text([&] { hfhub::render_template("{{ a | upper }}", v); });
    BOOST_TEST(m.find("{{ a | upper }}") != std::string::npos, m);
    error_text([&] { hfhub::render_template("{{ a ", v); });
}

BOOST_AUTO_TEST_CASE(generated_card_matches_golden) {
    hfhub::model_card_metadata meta;
    meta.library_name = "my-org/my-lib";
    meta.tags = {"vision", "model_hub_mixin", "vision", "depth"};
    meta.license = "mit";
    meta.pipeline_tag = "depth-estimation";
    meta.repo_url = "https://github.com/my-org/my-lib";
    meta.docs_url = "https://my-org.github.io/my-lib";
    meta.extra = {{"language", "en"}, {"datasets", json::array{"kitti", "nyu"}}, {"model_size", "1.2B"}};
    auto card = hfhub::generate_model_card(meta);
    std::string text = card.to_string();
    BOOST_TEST(text == slurp(golden / "model_card.md"), text);
    // Tags are Python's sorted(set(tags)), with model_hub_mixin.
    BOOST_TEST(json::serialize(card.data().at("tags")) == R"(["depth","model_hub_mixin","vision"])");
    // Parsing the saved card gives the same card back.
    auto again = hfhub::model_card::parse(text);
    BOOST_TEST(json::serialize(again.data()) == json::serialize(card.data()));
    BOOST_TEST(again.text() == card.text());
    BOOST_TEST(again.to_string() == text);

    hfhub::model_card_metadata bare;
    auto plain = hfhub::generate_model_card(bare);
    BOOST_TEST(json::serialize(plain.data()) == R"({"tags":["model_hub_mixin"]})");
    BOOST_TEST(plain.text().find("- Code: [More Information Needed]") != std::string::npos, plain.text());
}

BOOST_AUTO_TEST_CASE(custom_template_and_vars) {
    hfhub::model_card_metadata meta;
    meta.library_name = "voicecraft";
    meta.card_template = "---\n{{ card_data }}\n---\n# {{ title }}\nRepo: {{ repo_url | default(\"none\") }}\n";
    auto card = hfhub::generate_model_card(meta, {{"title", "VoiceCraft"}});
    BOOST_TEST(card.to_string() == "---\nlibrary_name: voicecraft\ntags:\n  - model_hub_mixin\n---\n# VoiceCraft\nRepo: none\n");
}

BOOST_AUTO_TEST_CASE(typed_metadata_in_python_order) {
    hfhub::model_card_metadata meta;
    meta.library_name = "lib";
    meta.language = {"en", "fr"};
    meta.license = "other";
    meta.license_name = "my-license";
    meta.license_link = "https://example.com/license";
    meta.pipeline_tag = "text-classification";
    meta.paper_url = "https://arxiv.org/abs/1234";
    // Extra keys go where ModelCardData puts them; typed fields win over the same key in extra.
    meta.extra = {{"custom", 1},          {"license_link", "https://old"}, {"model_name", "m"}, {"metrics", json::array{"acc"}},
                  {"language", "de"},     {"base_model", "org/base"},      {"datasets", "d"},   {"license_name", "old"}};
    auto card = hfhub::generate_model_card(meta);
    BOOST_TEST(json::serialize(card.data()) ==
               R"({"base_model":"org/base","datasets":"d","language":["en","fr"],"library_name":"lib","license":"other",)"
               R"("license_name":"my-license","license_link":"https://example.com/license","metrics":["acc"],"model_name":"m",)"
               R"("pipeline_tag":"text-classification","tags":["model_hub_mixin"],"custom":1})");
    BOOST_TEST(card.text().find("- Paper: https://arxiv.org/abs/1234\n") != std::string::npos, card.text());
    // Language is written as the list it is, even with one entry; from extra it stays as given.
    meta = {};
    meta.language = {"en"};
    BOOST_TEST(card_data_yaml(hfhub::generate_model_card(meta)) == "language:\n  - en\ntags:\n  - model_hub_mixin");
    meta = {};
    meta.extra = {{"language", "en"}, {"license_name", "kept"}};
    BOOST_TEST(json::serialize(hfhub::generate_model_card(meta).data()) ==
               R"({"language":"en","license_name":"kept","tags":["model_hub_mixin"]})");
}

BOOST_AUTO_TEST_CASE(tags_sorted_and_unique_like_python) {
    hfhub::model_card_metadata meta;
    meta.tags = {"vision", "Zeta", "alpha", "vision", "caf\xc3\xa9", "cafe"};
    meta.extra = {{"tags", json::array{"b-tag", "alpha", "model_hub_mixin"}}};
    auto card = hfhub::generate_model_card(meta);
    // sorted(set(tags)): code point order (upper case first, non-ASCII last).
    BOOST_TEST(json::serialize(card.data().at("tags")) ==
               "[\"Zeta\",\"alpha\",\"b-tag\",\"cafe\",\"caf\xc3\xa9\",\"model_hub_mixin\",\"vision\"]");
    meta.extra = {{"tags", "solo"}};
    meta.tags = {};
    BOOST_TEST(json::serialize(hfhub::generate_model_card(meta).data().at("tags")) == R"(["model_hub_mixin","solo"])");
    meta.extra = {{"tags", json::array{"ok", 3}}};
    auto m = error_text([&] { hfhub::generate_model_card(meta); });
    BOOST_TEST(m.find("tags") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(inherit_metadata_merges_like_init_subclass) {
    hfhub::model_card_metadata parent;
    parent.library_name = "base-lib";
    parent.tags = {"base", "shared"};
    parent.license = "mit";
    parent.repo_url = "https://github.com/base";
    parent.docs_url = "https://docs.base";
    parent.language = {"en"};
    parent.extra = {{"datasets", "d1"}, {"keep", 1}};
    parent.card_template = "parent {{ card_data }}";

    hfhub::model_card_metadata child;
    child.tags = {"child", "shared"};
    child.license = "apache-2.0";
    child.paper_url = "https://paper";
    child.extra = {{"datasets", "d2"}, {"added", true}};
    auto m = hfhub::inherit_metadata(parent, child);
    BOOST_TEST(m.library_name == "base-lib");  // empty in the child: the parent's
    BOOST_TEST(m.license == "apache-2.0");     // the child's wins
    BOOST_TEST(m.repo_url == "https://github.com/base");
    BOOST_TEST(m.docs_url == "https://docs.base");
    BOOST_TEST(m.paper_url == "https://paper");
    BOOST_TEST((m.language == std::vector<std::string>{"en"}));
    BOOST_TEST((m.tags == std::vector<std::string>{"base", "shared", "child"}));
    BOOST_TEST(json::serialize(m.extra) == R"({"datasets":"d2","keep":1,"added":true})");
    BOOST_TEST(m.card_template == "parent {{ card_data }}");  // the child has none

    child.card_template = "child";
    child.language = {"fr", "de"};
    child.library_name = "child-lib";
    child.pipeline_tag = "p";
    child.license_name = "n";
    child.license_link = "l";
    child.repo_url = "r";
    child.docs_url = "dd";
    m = hfhub::inherit_metadata(parent, child);
    BOOST_TEST(m.card_template == "child");
    BOOST_TEST((m.language == std::vector<std::string>{"fr", "de"}));
    BOOST_TEST(m.library_name == "child-lib");
    BOOST_TEST(m.pipeline_tag == "p");
    BOOST_TEST(m.license_name == "n");
    BOOST_TEST(m.license_link == "l");
    BOOST_TEST(m.repo_url == "r");
    BOOST_TEST(m.docs_url == "dd");

    // Two levels, then the card: tags sorted at generation.
    hfhub::model_card_metadata grandchild;
    grandchild.tags = {"aaa"};
    auto g = hfhub::inherit_metadata(hfhub::inherit_metadata(parent, {}), grandchild);
    g.card_template = "---\n{{ card_data }}\n---\n{{ library_name }}";
    auto card = hfhub::generate_model_card(g);
    BOOST_TEST(json::serialize(card.data().at("tags")) == R"(["aaa","base","model_hub_mixin","shared"])");
    BOOST_TEST(card.text() == "base-lib");  // card data keys are template variables
}

BOOST_AUTO_TEST_CASE(edit_save_load) {
    hfhub::test::temp_dir tmp;
    auto card = hfhub::model_card::parse("---\nlicense: mit\n---\nHello\n");
    card.data()["license"] = "apache-2.0";
    card.data()["tags"] = json::array{"x"};
    card.text() += "More\n";
    card.save(tmp.path() / "sub" / "README.md");
    BOOST_TEST(slurp(tmp.path() / "sub" / "README.md") == "---\nlicense: apache-2.0\ntags:\n  - x\n---\nHello\nMore\n");
    auto back = hfhub::model_card::load(tmp.path() / "sub" / "README.md");
    BOOST_TEST(back.data().at("license").as_string() == "apache-2.0");
    try {
        hfhub::model_card::load(tmp.path() / "missing.md");
        BOOST_FAIL("loaded");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == hfhub::client_errc::invalid_path));
    }
}

BOOST_AUTO_TEST_SUITE_END()
