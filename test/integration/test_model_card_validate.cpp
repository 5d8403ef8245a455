// model_card::validate against the in-process server's /api/validate-yaml: a good card passes
// (with the server's warnings), a card the server rejects throws hub_errc::bad_request carrying
// the server's messages; from a coroutine with temporaries, and blocking.
#include <hfhub/model_card.hpp>

#include "client_util.hpp"
#include "test_server.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <thread>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

struct validate_fixture {
    test_server srv;
    asio::io_context ioc;
    std::unique_ptr<client> c;
    validate_fixture() {
        auto cfg = quick_config(srv.url());
        cfg.token = alice_token;
        c = std::make_unique<client>(ioc.get_executor(), cfg);
    }
};

// The hfhub::error `f` throws (a failure when it throws none).
hfhub::error rejection(auto&& f) {
    try {
        f();
    } catch (const hfhub::error& e) {
        return e;
    }
    BOOST_FAIL("no error");
    return hfhub::error({}, {});
}

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(model_card_validate)

BOOST_FIXTURE_TEST_CASE(good_cards_pass_with_warnings, validate_fixture) {
    model_card_metadata meta;
    meta.library_name = "lib";
    meta.license = "mit";
    auto card = generate_model_card(meta);
    // From a coroutine, with `{}` and a temporary string, as users write it.
    auto warnings = run(ioc, [&]() -> asio::awaitable<std::vector<std::string>> {
        co_return co_await card.co_validate(*c, {});
    }());
    BOOST_TEST(warnings.empty());

    // A card without metadata passes with the Hub's warning.
    auto bare = run(ioc, [&]() -> asio::awaitable<std::vector<std::string>> {
        co_return co_await co_validate_card(*c, std::string("# Just text\n"), {});
    }());
    BOOST_TEST_REQUIRE(bare.size() == 1u);
    BOOST_TEST(contains(bare[0], "empty or missing yaml metadata"), bare[0]);

    card_validate_options opts;
    opts.type = repo_type::dataset;
    opts.token = alice_token;
    auto as_dataset = run(ioc, card.co_validate(*c, opts));
    BOOST_TEST(as_dataset.empty());
}

BOOST_FIXTURE_TEST_CASE(rejected_cards_throw_the_servers_messages, validate_fixture) {
    // The server checks model-index's shape, as the Hub does.
    model_card card(json::object{{"license", "mit"}, {"model-index", "not a list"}}, "text\n");
    auto e = rejection([&] { run(ioc, card.co_validate(*c)); });
    BOOST_TEST((e.code() == hub_errc::bad_request), e.what());
    BOOST_TEST(e.diag().status == 400u);
    BOOST_TEST(e.diag().method == "POST");
    BOOST_TEST(contains(e.diag().url, "/api/validate-yaml"), e.diag().url);
    BOOST_TEST(e.diag().server_message == "\"model-index\" must be an array", e.diag().server_message);
    BOOST_TEST(contains(e.what(), "rejects the model card"), e.what());

    // Every error the server lists is kept, in its order.
    card.data()["model-index"] = json::array{"x", json::object{{"name", "m"}}};
    e = rejection([&] { run(ioc, card.co_validate(*c)); });
    BOOST_TEST((e.code() == hub_errc::bad_request), e.what());
    BOOST_TEST(e.diag().server_message == "\"model-index[0]\" must be an object; \"model-index[1]\".results must be an array",
               e.diag().server_message);

    // Raw content the server can't read as YAML.
    e = rejection([&] { run(ioc, co_validate_card(*c, "---\nlicense: [mit\n---\n# x\n")); });
    BOOST_TEST((e.code() == hub_errc::bad_request), e.what());
    BOOST_TEST(contains(e.diag().server_message, "Invalid YAML"), e.diag().server_message);

    // A card built from typed data with eval results is the shape the server wants.
    model_card_data d;
    d.model_name = "m";
    eval_result r{.task_type = "text-classification", .dataset_type = "imdb", .dataset_name = "IMDb",
                  .metric_type = "accuracy", .metric_value = 0.9};
    d.eval_results.push_back(r);
    card.data() = d.to_json();
    BOOST_TEST(run(ioc, card.co_validate(*c)).empty());
}

BOOST_FIXTURE_TEST_CASE(blocking_twins, validate_fixture) {
    auto guard = asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });
    auto good = model_card::parse("---\nlicense: mit\n---\ntext\n");
    BOOST_TEST(good.validate(*c).empty());
    auto e = rejection([&] { validate_card(*c, "---\nmodel-index: {}\n---\n"); });
    BOOST_TEST((e.code() == hub_errc::bad_request), e.what());
    BOOST_TEST(contains(e.diag().server_message, "must be an array"), e.diag().server_message);
    guard.reset();
    io.join();
}

BOOST_AUTO_TEST_SUITE_END()
