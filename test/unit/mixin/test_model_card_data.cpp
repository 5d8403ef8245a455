// Typed card data: model_card_data and eval_result to and from a card's data, and model-index
// <-> eval results, against a model-index block as Python's ModelCardData.to_yaml() writes it.
#include <hfhub/model_card.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

namespace json = boost::json;

namespace {

// ModelCardData(language="en", license="mit", tags=["a", "b", "a"], model_name="my-model",
// eval_results=python_results(), custom="x").to_yaml(), from huggingface_hub.
const char* python_yaml = R"(language: en
license: mit
tags:
- a
- b
custom: x
model-index:
- name: my-model
  results:
  - task:
      type: text-classification
      name: Text Classification
    dataset:
      name: IMDb
      type: imdb
      split: test
    metrics:
    - type: accuracy
      value: 0.92
      name: Accuracy
      verified: false
    - type: f1
      value: 0.91
      args:
        average: macro
  - task:
      type: text-classification
    dataset:
      name: SST-2
      type: sst2
      config: default
      args:
        max_len: 128
    metrics:
    - type: accuracy
      value: 88
    source:
      url: https://example.com/lb
      name: Leaderboard
  - task:
      type: text-classification
      name: Text Classification
    dataset:
      name: IMDb
      type: imdb
      split: train
    metrics:
    - type: accuracy
      value: 0.99
      verifyToken: tok
)";

// json.dumps of the same to_dict(): the key order Python writes.
const char* python_json =
    R"({"language":"en","license":"mit","tags":["a","b"],"custom":"x","model-index":[{"name":"my-model","results":[)"
    R"({"task":{"type":"text-classification","name":"Text Classification"},"dataset":{"name":"IMDb","type":"imdb","split":"test"},)"
    R"("metrics":[{"type":"accuracy","value":0.92,"name":"Accuracy","verified":false},{"type":"f1","value":0.91,"args":{"average":"macro"}}]},)"
    R"({"task":{"type":"text-classification"},"dataset":{"name":"SST-2","type":"sst2","config":"default","args":{"max_len":128}},)"
    R"("metrics":[{"type":"accuracy","value":88}],"source":{"url":"https://example.com/lb","name":"Leaderboard"}},)"
    R"({"task":{"type":"text-classification","name":"Text Classification"},"dataset":{"name":"IMDb","type":"imdb","split":"train"},)"
    R"("metrics":[{"type":"accuracy","value":0.99,"verifyToken":"tok"}]}]}]})";

// The results in the order given to Python: the IMDb test ones are grouped, the others not.
std::vector<hfhub::eval_result> python_results() {
    hfhub::eval_result acc{.task_type = "text-classification", .dataset_type = "imdb", .dataset_name = "IMDb",
                           .metric_type = "accuracy", .metric_value = 0.92};
    acc.task_name = "Text Classification";
    acc.dataset_split = "test";
    acc.metric_name = "Accuracy";
    acc.verified = false;
    hfhub::eval_result f1{.task_type = "text-classification", .dataset_type = "imdb", .dataset_name = "IMDb",
                          .metric_type = "f1", .metric_value = 0.91};
    f1.task_name = "Text Classification";
    f1.dataset_split = "test";
    f1.metric_args = json::object{{"average", "macro"}};
    hfhub::eval_result sst{.task_type = "text-classification", .dataset_type = "sst2", .dataset_name = "SST-2",
                           .metric_type = "accuracy", .metric_value = 88};
    sst.dataset_config = "default";
    sst.dataset_args = json::object{{"max_len", 128}};
    sst.source_name = "Leaderboard";
    sst.source_url = "https://example.com/lb";
    hfhub::eval_result train{.task_type = "text-classification", .dataset_type = "imdb", .dataset_name = "IMDb",
                             .metric_type = "accuracy", .metric_value = 0.99};
    train.task_name = "Text Classification";
    train.dataset_split = "train";
    train.verify_token = "tok";
    return {acc, f1, sst, train};
}

std::string error_of(auto&& f) {
    try {
        f();
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == hfhub::client_errc::invalid_argument), e.what());
        return e.diag().client_message;
    }
    BOOST_FAIL("no error");
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(model_card_data)

BOOST_AUTO_TEST_CASE(reads_python_model_index) {
    auto d = hfhub::model_card_data::from_json(hfhub::card_data_from_yaml(python_yaml));
    BOOST_TEST(d.model_name.value_or("") == "my-model");
    BOOST_TEST_REQUIRE(d.eval_results.size() == 4u);
    auto want = python_results();
    for (std::size_t i = 0; i < want.size(); ++i) BOOST_TEST((d.eval_results[i] == want[i]), "result " << i);
    BOOST_TEST(std::get<std::string>(d.language.value()) == "en");
    BOOST_TEST(d.license.value_or("") == "mit");
    BOOST_TEST((d.tags.value() == std::vector<std::string>{"a", "b"}));
    BOOST_TEST(json::serialize(d.extra) == R"({"custom":"x"})");
    BOOST_TEST(!d.library_name.has_value());
}

BOOST_AUTO_TEST_CASE(writes_python_model_index) {
    hfhub::model_card_data d;
    d.language = "en";
    d.license = "mit";
    d.tags = std::vector<std::string>{"a", "b"};
    d.model_name = "my-model";
    d.eval_results = python_results();
    d.extra = {{"custom", "x"}};
    auto o = d.to_json();
    // Serialized by the same writer, so keys in the same order give the same text.
    const std::string want = json::serialize(json::parse(python_json));
    BOOST_TEST(json::serialize(o) == want);
    // And as YAML the block reads back as the same data.
    BOOST_TEST(json::serialize(hfhub::card_data_from_yaml(hfhub::card_data_to_yaml(o))) == want);
    BOOST_TEST(json::serialize(hfhub::card_data_from_yaml(python_yaml)) == want);
}

BOOST_AUTO_TEST_CASE(round_trips) {
    hfhub::model_card_data d;
    d.base_model = std::vector<std::string>{"org/a", "org/b"};
    d.datasets = "imdb";
    d.language = std::vector<std::string>{"en", "fr"};
    d.library_name = "lib";
    d.license = "other";
    d.license_name = "n";
    d.license_link = "https://l";
    d.metrics = std::vector<std::string>{"accuracy"};
    d.model_name = "m";
    d.pipeline_tag = "text-classification";
    d.tags = std::vector<std::string>{"x"};
    d.extra = {{"later", json::array{1, 2}}};
    d.eval_results = python_results();
    auto o = d.to_json();
    BOOST_TEST(json::serialize(o).starts_with(R"({"base_model":["org/a","org/b"],"datasets":"imdb","language":["en","fr"],)"
                                              R"("library_name":"lib","license":"other","license_name":"n","license_link":"https://l",)"
                                              R"("metrics":["accuracy"],"pipeline_tag":"text-classification","tags":["x"],"later":[1,2],)"
                                              R"("model-index":[{"name":"m",)"),
               json::serialize(o));
    auto back = hfhub::model_card_data::from_json(hfhub::card_data_from_yaml(hfhub::card_data_to_yaml(o)));
    BOOST_TEST(json::serialize(back.to_json()) == json::serialize(o));
    BOOST_TEST((back.eval_results == d.eval_results));
    BOOST_TEST((back.base_model == d.base_model));
    BOOST_TEST((back.datasets == d.datasets));

    // Without eval results model_name is a key of its own; nothing absent is written.
    hfhub::model_card_data plain;
    plain.model_name = "m";
    BOOST_TEST(json::serialize(plain.to_json()) == R"({"model_name":"m"})");
    BOOST_TEST(hfhub::model_card_data{}.to_json().empty());

    // Through a card: data() in, typed edit, data() out.
    auto card = hfhub::model_card::parse(std::string("---\n") + python_yaml + "---\ntext\n");
    auto typed = hfhub::model_card_data::from_json(card.data());
    typed.license = "apache-2.0";
    typed.eval_results[0].metric_value = 0.95;
    card.data() = typed.to_json();
    auto again = hfhub::model_card::parse(card.to_string());
    auto typed2 = hfhub::model_card_data::from_json(again.data());
    BOOST_TEST(typed2.license.value_or("") == "apache-2.0");
    BOOST_TEST(typed2.eval_results[0].metric_value.as_double() == 0.95);
    BOOST_TEST(typed2.eval_results.size() == 4u);
}

BOOST_AUTO_TEST_CASE(model_index_functions) {
    auto index = hfhub::eval_results_to_model_index("my-model", python_results());
    BOOST_TEST(index.size() == 1u);
    BOOST_TEST(index[0].at("results").as_array().size() == 3u);  // grouped by task, dataset, config, split, revision
    auto [name, results] = hfhub::model_index_to_eval_results(index);
    BOOST_TEST(name == "my-model");
    BOOST_TEST((results == python_results()));
    // Several entries: all results, the last name (as Python).
    json::array two = index;
    two.push_back(json::object{{"name", "second"}, {"results", json::array{}}});
    auto [name2, results2] = hfhub::model_index_to_eval_results(two);
    BOOST_TEST(name2 == "second");
    BOOST_TEST(results2.size() == 4u);
    // The same identifier with another revision is another entry.
    auto rs = python_results();
    rs[1].dataset_revision = "abc";
    BOOST_TEST(hfhub::eval_results_to_model_index("m", rs)[0].at("results").as_array().size() == 4u);
}

BOOST_AUTO_TEST_CASE(errors_name_the_field) {
    auto mi = json::parse(python_json).as_object().at("model-index");
    auto has = [](const std::string& m, std::string_view part) {
        BOOST_TEST(m.find(part) != std::string::npos, "'" << part << "' not in: " << m);
    };
    auto no_name = mi;
    no_name.as_array()[0].as_object()["results"].as_array()[1].as_object()["dataset"].as_object().erase("name");
    has(error_of([&] { hfhub::model_index_to_eval_results(no_name); }), "model-index[0].results[1].dataset.name is required");
    auto bad_value = mi;
    bad_value.as_array()[0].as_object()["results"].as_array()[0].as_object()["metrics"].as_array()[1].as_object().erase("value");
    has(error_of([&] { hfhub::model_index_to_eval_results(bad_value); }), "model-index[0].results[0].metrics[1].value is required");
    auto bad_type = mi;
    bad_type.as_array()[0].as_object()["results"].as_array()[0].as_object()["task"].as_object()["type"] = 3;
    has(error_of([&] { hfhub::model_index_to_eval_results(bad_type); }), "model-index[0].results[0].task.type must be a string, not an integer");
    has(error_of([&] { hfhub::model_index_to_eval_results(json::value("x")); }), "must be a list");
    has(error_of([&] { hfhub::model_index_to_eval_results(json::array{json::object{{"results", json::array{}}}}); }),
        "model-index[0].name is required");

    // In card data: an error unless ignore_metadata_errors, which keeps the block as it is.
    json::object data{{"license", "mit"}, {"model-index", no_name}};
    has(error_of([&] { hfhub::model_card_data::from_json(data); }), "dataset.name is required");
    auto kept = hfhub::model_card_data::from_json(data, true);
    BOOST_TEST(kept.eval_results.empty());
    BOOST_TEST(json::serialize(kept.to_json()) == json::serialize(data));

    has(error_of([] { hfhub::model_card_data::from_json({{"license", 3}}); }), "'license' must be a string, not an integer");
    has(error_of([] { hfhub::model_card_data::from_json({{"tags", json::array{"a", 1}}}); }), "'tags' must hold strings only");
    has(error_of([] { hfhub::model_card_data::from_json({{"language", true}}); }), "'language' must be a string or a list");

    hfhub::model_card_data d;
    d.eval_results = python_results();
    has(error_of([&] { d.to_json(); }), "need model_name");
    d.model_name = "m";
    d.eval_results[2].source_url.reset();
    has(error_of([&] { d.to_json(); }), "source_name needs source_url");
}

BOOST_AUTO_TEST_SUITE_END()
