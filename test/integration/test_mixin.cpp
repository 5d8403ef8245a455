// model_hub_mixin against the in-process server: create, save_pretrained, push, then
// from_pretrained by repo id, by revision, by branch and from a local dir gives an equal model
// and config. Two models: one with safetensors weights (sharded), one with its own weights file
// and a config holding a custom type with tag_invoke coders.
#include <hfhub/mixin.hpp>
#include <hfhub/repo_api.hpp>

#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "util/fs.hpp"

#include <boost/describe/class.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <random>
#include <sstream>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace mixtest {

struct mlp_config {
    int hidden_size = 16;
    int vocab_size = 100;
    int output_size = 4;
    std::string activation = "gelu";
    double dropout = 0.1;
    bool operator==(const mlp_config&) const = default;
};
BOOST_DESCRIBE_STRUCT(mlp_config, (), (hidden_size, vocab_size, output_size, activation, dropout))

// Weights as safetensors; shards above 4 KiB so the embedding gets a file of its own.
class mlp : public safetensors_model_hub_mixin<mlp> {
public:
    using config_type = mlp_config;
    static constexpr std::uint64_t max_shard_size = 4096;
    static inline const model_card_metadata hub_metadata = [] {
        model_card_metadata m;
        m.library_name = "tiny-mlp";
        m.tags = {"example"};
        m.license = "mit";
        m.repo_url = "https://example.com/tiny-mlp";
        return m;
    }();

    mlp() : mlp(mlp_config{}) {}  // co_spawn with use_future wants one
    explicit mlp(mlp_config c)
        : cfg_(std::move(c)),
          embed_(static_cast<std::size_t>(cfg_.vocab_size * cfg_.hidden_size)),
          head_(static_cast<std::size_t>(cfg_.hidden_size * cfg_.output_size)),
          steps_(1) {}

    void randomize(unsigned seed) {
        std::mt19937 g(seed);
        std::uniform_real_distribution<float> d(-1, 1);
        for (auto& x : embed_) x = d(g);
        for (auto& x : head_) x = d(g);
        steps_[0] = seed;
    }

    const mlp_config& config() const { return cfg_; }
    safetensors::tensor_list named_tensors() const {
        auto h = static_cast<std::uint64_t>(cfg_.hidden_size);
        return {{"embed.weight", safetensors::make_view(safetensors::dtype::F32, {static_cast<std::uint64_t>(cfg_.vocab_size), h}, std::span<const float>(embed_))},
                {"head.weight", safetensors::make_view(safetensors::dtype::F32, {static_cast<std::uint64_t>(cfg_.output_size), h}, std::span<const float>(head_))},
                {"steps", safetensors::make_view(safetensors::dtype::I64, {}, std::span<const std::int64_t>(steps_))}};
    }
    static mlp from_config(mlp_config c) { return mlp(std::move(c)); }
    void load_tensors(const safetensors::checkpoint& ck) {
        copy(ck.at("embed.weight").as<float>(), embed_);
        copy(ck.at("head.weight").as<float>(), head_);
        copy(ck.at("steps").as<std::int64_t>(), steps_);
    }
    bool operator==(const mlp&) const = default;

private:
    template <class T>
    static void copy(std::span<const T> from, std::vector<T>& to) {
        if (from.size() != to.size()) throw std::runtime_error("shape mismatch");
        std::copy(from.begin(), from.end(), to.begin());
    }
    mlp_config cfg_;
    std::vector<float> embed_, head_;
    std::vector<std::int64_t> steps_;
};

// An argparse-Namespace-like options bag with its own coder: stored as "k=v" pairs in memory,
// as a JSON object in config.json.
struct namespace_args {
    std::vector<std::pair<std::string, std::string>> items;
    bool operator==(const namespace_args&) const = default;
};
void tag_invoke(json::value_from_tag, json::value& v, const namespace_args& a) {
    json::object o;
    for (const auto& [k, x] : a.items) o[k] = x;
    v = std::move(o);
}
namespace_args tag_invoke(json::value_to_tag<namespace_args>, const json::value& v) {
    namespace_args a;
    for (const auto& kv : v.as_object()) a.items.emplace_back(kv.key(), json::value_to<std::string>(kv.value()));
    std::sort(a.items.begin(), a.items.end());
    return a;
}

struct text_config {
    std::string name;
    namespace_args args;
    bool operator==(const text_config&) const = default;
};
BOOST_DESCRIBE_STRUCT(text_config, (), (name, args))

// The generic mixin: weights in a file of the model's own format, and its own card.
class text_model : public model_hub_mixin<text_model> {
public:
    using config_type = text_config;
    text_config cfg;
    std::string weights;

    const text_config& config() const { return cfg; }
    void save_weights(const fs::path& dir) const { std::ofstream(dir / "weights.txt", std::ios::binary) << weights; }
    static text_model from_dir(const fs::path& dir, text_config c) {
        return text_model{{}, std::move(c), util::read_file(dir / "weights.txt").value_or("<missing>")};
    }
    model_card generate_model_card(const template_vars&) const {
        return model_card(json::object{{"library_name", "text"}, {"tags", json::array{"custom"}}}, "Custom card for " + cfg.name + "\n");
    }
    bool operator==(const text_model& o) const { return cfg == o.cfg && weights == o.weights; }
};

static_assert(hub_model<mlp>);
static_assert(hub_model<text_model>);

}  // namespace mixtest

namespace {

std::string slurp(const fs::path& p) { return util::read_file(p).value_or("<missing>"); }

struct mixin_fixture {
    test_server srv;
    temp_dir work;
    temp_dir cache;
    asio::io_context ioc;
    std::unique_ptr<client> c;

    mixin_fixture() {
        auto cfg = quick_config(srv.url());
        cfg.token = alice_token;
        c = std::make_unique<client>(ioc.get_executor(), cfg);
    }
    from_pretrained_options load_opts(std::string rev = "main") const {
        from_pretrained_options o;
        o.cache_dir = cache.path();
        o.revision = std::move(rev);
        return o;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(mixin)

BOOST_AUTO_TEST_CASE(local_round_trip_and_card_kept) {
    temp_dir dir;
    mixtest::mlp m(mixtest::mlp_config{});
    m.randomize(7);
    m.save_pretrained(dir.path() / "out");
    auto out = dir.path() / "out";
    // config.json exactly as Python's json.dumps(config, sort_keys=True, indent=2).
    BOOST_TEST(slurp(out / "config.json") == "{\n  \"activation\": \"gelu\",\n  \"dropout\": 0.1,\n  \"hidden_size\": 16,\n"
                                             "  \"output_size\": 4,\n  \"vocab_size\": 100\n}");
    BOOST_TEST(fs::exists(out / "model.safetensors.index.json"));
    BOOST_TEST(fs::exists(out / "model-00001-of-00002.safetensors"));
    BOOST_TEST(!fs::exists(out / "model.safetensors"));
    BOOST_TEST(mixtest::mlp::weights_options().max_shard_size == 4096u);
    auto card = model_card::load(out / "README.md");
    BOOST_TEST(json::serialize(card.data()) ==
               R"({"library_name":"tiny-mlp","license":"mit","tags":["example","model_hub_mixin","safetensors_model_hub_mixin"]})");
    BOOST_TEST(card.text().find("- Code: https://example.com/tiny-mlp") != std::string::npos, card.text());
    auto meta = safetensors::file::open(out / "model-00002-of-00002.safetensors").metadata();
    BOOST_TEST_REQUIRE(meta.has_value());
    BOOST_TEST(meta->at("format") == "pt");

    auto back = mixtest::mlp::from_pretrained(out);
    BOOST_TEST((back == m));
    BOOST_TEST((back.config() == m.config()));

    // A README.md already there is never overwritten; a stale config.json is.
    std::ofstream(out / "README.md", std::ios::trunc) << "hand written\n";
    std::ofstream(out / "config.json", std::ios::trunc) << "{}";
    m.save_pretrained(out);
    BOOST_TEST(slurp(out / "README.md") == "hand written\n");
    BOOST_TEST(mixtest::mlp::from_pretrained(out).config().vocab_size == 100);
}

BOOST_AUTO_TEST_CASE(local_errors_name_the_field) {
    temp_dir dir;
    mixtest::mlp m(mixtest::mlp_config{});
    m.save_pretrained(dir.path());
    std::ofstream(dir.path() / "config.json", std::ios::trunc) << R"({"hidden_size": "16", "vocab_size": 100})";
    auto msg = hfhub::test::message_of([&] { mixtest::mlp::from_pretrained(dir.path()); });
    BOOST_TEST(msg.find("field 'hidden_size'") != std::string::npos, msg);
    std::ofstream(dir.path() / "config.json", std::ios::trunc) << R"([1, 2])";
    msg = hfhub::test::message_of([&] { mixtest::mlp::from_pretrained(dir.path()); });
    BOOST_TEST(msg.find("config.json: expected an object, got an array") != std::string::npos, msg);
    std::ofstream(dir.path() / "config.json", std::ios::trunc) << R"({"hidden_size": 16,)";
    msg = hfhub::test::message_of([&] { mixtest::mlp::from_pretrained(dir.path()); });
    BOOST_TEST(msg.find("config.json: not valid JSON") != std::string::npos, msg);
    auto ec = hfhub::test::error_of([&] { mixtest::mlp::from_pretrained(dir.path() / "nowhere"); });
    BOOST_TEST((ec == client_errc::invalid_path), ec.message());
}

BOOST_FIXTURE_TEST_CASE(push_then_load_by_repo_revision_branch_and_dir, mixin_fixture) {
    mixtest::mlp v1(mixtest::mlp_config{});
    v1.randomize(1);
    mixin_push_options po;
    po.commit_message = "First weights";
    auto first = run(ioc, v1.co_push_to_hub(*c, "alice/mlp", po));  // creates the repo
    BOOST_TEST(first.changed);

    auto files = hfhub::test::file_list(srv, "models/alice/mlp");
    for (const char* f : {"README.md", "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                          "model.safetensors.index.json"})
        BOOST_TEST((std::find(files.begin(), files.end(), f) != files.end()), f);
    auto log = hfhub::test::parse_json(srv.get("/api/models/alice/mlp/commits/main")).as_array();
    BOOST_TEST(hfhub::test::jstr(log[0], "title") == "First weights");

    auto got = run(ioc, mixtest::mlp::co_from_pretrained(*c, "alice/mlp", load_opts()));
    BOOST_TEST((got == v1));

    // A second version on main; the first stays reachable by its commit.
    mixtest::mlp v2(mixtest::mlp_config{.hidden_size = 8, .dropout = 0.25});
    v2.randomize(2);
    auto second = run(ioc, v2.co_push_to_hub(*c, "alice/mlp"));
    BOOST_TEST(second.oid != first.oid);
    BOOST_TEST((run(ioc, mixtest::mlp::co_from_pretrained(*c, "alice/mlp", load_opts())) == v2));
    // v2 fits one file: the push deleted v1's shards and index.
    BOOST_TEST((hfhub::test::file_list(srv, "models/alice/mlp") ==
                std::vector<std::string>{".gitattributes", "README.md", "config.json", "model.safetensors"}));
    auto old = run(ioc, mixtest::mlp::co_from_pretrained(*c, "alice/mlp", load_opts(first.oid)));
    BOOST_TEST((old == v1));
    BOOST_TEST(old.config().hidden_size == 16);

    // A branch created by the push.
    mixtest::mlp v3(mixtest::mlp_config{.output_size = 2});
    v3.randomize(3);
    mixin_push_options branch;
    branch.revision = "dev";
    run(ioc, v3.co_push_to_hub(*c, "alice/mlp", branch));
    BOOST_TEST((run(ioc, mixtest::mlp::co_from_pretrained(*c, "alice/mlp", load_opts("dev"))) == v3));
    auto dev_files = hfhub::test::file_list(srv, "models/alice/mlp", "dev");
    BOOST_TEST((std::find(dev_files.begin(), dev_files.end(), "model.safetensors") == dev_files.end()));
    BOOST_TEST((run(ioc, mixtest::mlp::co_from_pretrained(*c, "alice/mlp", load_opts())) == v2));

    // From a local dir: the snapshot itself, no network (the server is not asked).
    auto snap = run(ioc, co_snapshot_download(*c, "alice/mlp", [&] {
        snapshot_options o;
        o.cache_dir = cache.path();
        return o;
    }()));
    auto from_dir = run(ioc, mixtest::mlp::co_from_pretrained(*c, snap.string(), load_opts()));
    BOOST_TEST((from_dir == v2));

    // Offline afterwards: the cache answers.
    auto offline = load_opts();
    offline.local_files_only = true;
    BOOST_TEST((run(ioc, mixtest::mlp::co_from_pretrained(*c, "alice/mlp", offline)) == v2));

    // The card on the Hub.
    download_options dl;
    dl.cache_dir = cache.path();
    auto card = run(ioc, model_card::co_load(*c, "alice/mlp", dl));
    BOOST_TEST(card.data().at("library_name").as_string() == "tiny-mlp");
}

BOOST_FIXTURE_TEST_CASE(generic_mixin_with_coder_and_custom_card, mixin_fixture) {
    mixtest::text_model m{{}, {"demo", {{{"lr", "0.1"}, {"batch", "32"}}}}, "w1 w2 w3"};
    run(ioc, m.co_push_to_hub(*c, "alice/text"));
    auto cfg_text = slurp(run(ioc, co_hf_hub_download(*c, "alice/text", "config.json", [&] {
        download_options o;
        o.cache_dir = cache.path();
        return o;
    }())));
    BOOST_TEST(cfg_text == "{\n  \"args\": {\n    \"batch\": \"32\",\n    \"lr\": \"0.1\"\n  },\n  \"name\": \"demo\"\n}");
    auto back = run(ioc, mixtest::text_model::co_from_pretrained(*c, "alice/text", load_opts()));
    std::sort(m.cfg.args.items.begin(), m.cfg.args.items.end());
    BOOST_TEST((back == m));
    auto card = run(ioc, model_card::co_load(*c, "alice/text", [&] {
        download_options o;
        o.cache_dir = cache.path();
        return o;
    }()));
    BOOST_TEST(card.text() == "Custom card for demo\n");
}

BOOST_FIXTURE_TEST_CASE(blocking_twins_and_missing_repo, mixin_fixture) {
    // Blocking calls run the client's executor on another thread.
    auto guard = asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });
    mixtest::mlp m(mixtest::mlp_config{});
    m.randomize(9);
    mixin_push_options po;
    po.is_private = true;
    auto info = m.push_to_hub(*c, "alice/blocking", po);
    BOOST_TEST(info.changed);
    BOOST_TEST((mixtest::mlp::from_pretrained(*c, "alice/blocking", load_opts()) == m));
    auto ec = hfhub::test::error_of([&] { mixtest::mlp::from_pretrained(*c, "alice/none", load_opts()); });
    BOOST_TEST((ec == hub_errc::repo_not_found), ec.message());
    // model_card push and load.
    auto card = model_card::load(*c, "alice/blocking", load_opts());
    card.data()["license"] = "apache-2.0";
    card.push_to_hub(*c, "alice/blocking");
    download_options fresh;
    fresh.cache_dir = cache.path();
    fresh.force_download = true;
    BOOST_TEST(model_card::load(*c, "alice/blocking", fresh).data().at("license").as_string() == "apache-2.0");
    guard.reset();
    io.join();
}

BOOST_AUTO_TEST_SUITE_END()
