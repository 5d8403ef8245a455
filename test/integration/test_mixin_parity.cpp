// The mixin where Python's ModelHubMixin sets the behaviour: lenient config loading, a missing
// config.json, model_kwargs, fetching only what loading needs, save_pretrained with a push, a
// config that replaces the model's, tags, the safetensors layout and pytorch_model.bin.
#include <hfhub/mixin.hpp>
#include <hfhub/repo_api.hpp>

#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "util/fs.hpp"

#include <boost/describe/class.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <optional>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace parity {

struct net_config {
    int hidden_size = 16;
    int layers = 2;
    std::optional<std::string> activation;  // absent in older configs
    std::vector<int> widths = {4, 4};
    bool operator==(const net_config&) const = default;
};
BOOST_DESCRIBE_STRUCT(net_config, (), (hidden_size, layers, activation, widths))

// Safetensors weights in one file (no max_shard_size); the loader sees the model_kwargs.
class net : public safetensors_model_hub_mixin<net> {
public:
    using config_type = net_config;
    static inline const model_card_metadata hub_metadata = [] {
        model_card_metadata m;
        m.library_name = "netlib";
        m.tags = {"zeta", "alpha", "alpha"};
        return m;
    }();

    net() : net(net_config{}) {}  // co_spawn with use_future wants one
    explicit net(net_config c) : cfg_(std::move(c)), w_(static_cast<std::size_t>(cfg_.hidden_size * cfg_.layers), 0.5f) {}
    const net_config& config() const { return cfg_; }
    safetensors::tensor_list named_tensors() const {
        auto n = static_cast<std::uint64_t>(w_.size());
        return {{"w", safetensors::make_view(safetensors::dtype::F32, {n}, std::span<const float>(w_))}};
    }
    static net from_config(net_config c, const model_kwargs& kw) {
        net n(std::move(c));
        if (auto* s = kw.if_contains("scale")) n.scale_ = static_cast<float>(s->to_number<double>());
        return n;
    }
    void load_tensors(const safetensors::checkpoint& ck, const model_kwargs& kw) {
        auto w = ck.at("w").as<float>();
        bool strict = kw.contains("strict") && kw.at("strict").as_bool();
        if (strict && w.size() != w_.size()) throw std::runtime_error("strict: size mismatch");
        w_.assign(w.begin(), w.end());
        for (auto& x : w_) x *= scale_;
        seen_kwargs = kw;
    }
    std::vector<float>& weights() { return w_; }
    model_kwargs seen_kwargs;

private:
    net_config cfg_;
    std::vector<float> w_;
    float scale_ = 1;
};

// A generic model that names its weight files and takes the kwargs in from_dir.
class blob_model : public model_hub_mixin<blob_model> {
public:
    using config_type = net_config;
    static inline const std::vector<std::string> weight_file_patterns = {"weights/*.bin"};
    net_config cfg;
    std::string weights;
    model_kwargs kwargs;

    const net_config& config() const { return cfg; }
    void save_weights(const fs::path& dir) const {
        fs::create_directories(dir / "weights");
        std::ofstream(dir / "weights" / "a.bin", std::ios::binary) << weights;
    }
    static blob_model from_dir(const fs::path& dir, net_config c, const model_kwargs& kw) {
        return blob_model{{}, std::move(c), util::read_file(dir / "weights" / "a.bin").value_or("<missing>"), kw};
    }
};

// A card that extends the generated one, as the guide's override does.
class carded : public safetensors_model_hub_mixin<carded> {
public:
    using config_type = no_config;
    static inline const model_card_metadata hub_metadata = [] {
        model_card_metadata m;
        m.library_name = "cardlib";
        return m;
    }();
    std::vector<float> w = {1, 2, 3};
    safetensors::tensor_list named_tensors() const { return {{"w", safetensors::make_view(safetensors::dtype::F32, {3}, std::span<const float>(w))}}; }
    static carded from_config(no_config) { return {}; }
    void load_tensors(const safetensors::checkpoint& ck) {
        auto v = ck.at("w").as<float>();
        w.assign(v.begin(), v.end());
    }
    model_card generate_model_card(const template_vars& vars = {}) const {
        model_card card = safetensors_model_hub_mixin<carded>::generate_model_card(vars);
        card.data()["metrics"] = json::array{"accuracy"};
        card.text() += "\n## Training\nTrained for 3 epochs.\n";
        return card;
    }
};

// A framework's base class, mixin-enabled for any model class built on it.
template <class Self>
class framework_model : public model_hub_mixin<Self> {
public:
    using config_type = no_config;
    static inline const model_card_metadata hub_metadata = [] {
        model_card_metadata m;
        m.library_name = "fw";
        m.tags = {"fw-tag"};
        m.license = "mit";
        m.card_template = "---\n{{ card_data }}\n---\nA {{ library_name }} model for {{ pipeline_tag | default(\"any task\") }}.\n";
        return m;
    }();
    void save_weights(const fs::path& dir) const { std::ofstream(dir / "w.bin") << "w"; }
    static Self from_dir(const fs::path&, no_config) { return Self{}; }
};

// Inherits everything.
struct plain_user : framework_model<plain_user> {};

// Adds to what it inherits, as a Python subclass's class arguments do.
struct tagged_user : framework_model<tagged_user> {
    static inline const model_card_metadata hub_metadata = inherit_metadata(framework_model<tagged_user>::hub_metadata, [] {
        model_card_metadata m;
        m.tags = {"user", "fw-tag"};
        m.pipeline_tag = "text-classification";
        return m;
    }());
};

static_assert(hub_model<net>);
static_assert(hub_model<blob_model>);
static_assert(hub_model<carded>);

}  // namespace parity

namespace {

std::string slurp(const fs::path& p) { return util::read_file(p).value_or("<missing>"); }

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += s + " ";
    return out;
}

std::vector<std::string> files_under(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (!e.is_directory()) out.push_back(e.path().lexically_relative(dir).generic_string());
    std::sort(out.begin(), out.end());
    return out;
}

struct fixture {
    test_server srv;
    temp_dir work;
    temp_dir cache;
    asio::io_context ioc;
    std::unique_ptr<client> c;
    std::vector<std::string> warnings;

    fixture() {
        auto cfg = quick_config(srv.url());
        cfg.token = alice_token;
        cfg.blocking_threads = 1;  // a loading hook must not wait on the pool's only thread
        c = std::make_unique<client>(ioc.get_executor(), cfg);
    }
    from_pretrained_options opts() {
        from_pretrained_options o;
        o.cache_dir = cache.path();
        o.on_warning = [this](std::string_view w) { warnings.emplace_back(w); };
        return o;
    }
    void commit(const std::string& repo, std::vector<commit_operation> ops) {
        commit_options co;
        co.commit_message = "files";
        run(ioc, co_create_commit(*c, repo, std::move(ops), co));
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(mixin_parity)

BOOST_AUTO_TEST_CASE(config_with_missing_optional_defaulted_and_unknown_fields_loads) {
    temp_dir dir;
    parity::net n(parity::net_config{.hidden_size = 8, .layers = 1, .activation = "relu", .widths = {1}});
    n.save_pretrained(dir.path());
    // Written by an older struct (no activation, no widths) and a newer one (an unknown key).
    std::ofstream(dir.path() / "config.json", std::ios::trunc) << R"({"hidden_size": 8, "future_field": {"x": 1}})";
    std::vector<std::string> warnings;
    from_pretrained_options o;
    o.on_warning = [&](std::string_view w) { warnings.emplace_back(w); };
    auto back = parity::net::from_pretrained(dir.path(), o);
    BOOST_TEST(back.config().hidden_size == 8);
    BOOST_TEST(back.config().layers == 2);  // the default initializer
    BOOST_TEST(!back.config().activation.has_value());
    BOOST_TEST((back.config().widths == std::vector<int>{4, 4}));
    BOOST_TEST(warnings.empty());
    // A mistyped field is still an error that names it.
    std::ofstream(dir.path() / "config.json", std::ios::trunc) << R"({"hidden_size": "8"})";
    auto msg = hfhub::test::message_of([&] { parity::net::from_pretrained(dir.path()); });
    BOOST_TEST(msg.find("field 'hidden_size'") != std::string::npos, msg);
    BOOST_TEST((hfhub::test::error_of([&] { parity::net::from_pretrained(dir.path()); }) == client_errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(no_config_json_loads_from_defaults_and_kwargs_with_a_warning) {
    temp_dir dir;
    parity::net n(parity::net_config{.hidden_size = 4, .layers = 2});
    n.save_pretrained(dir.path());
    fs::remove(dir.path() / "config.json");
    std::vector<std::string> warnings;
    from_pretrained_options o;
    o.on_warning = [&](std::string_view w) { warnings.emplace_back(w); };
    o.kwargs = {{"hidden_size", 4}};
    auto back = parity::net::from_pretrained(dir.path(), o);
    BOOST_TEST(back.config().hidden_size == 4);  // from the kwargs
    BOOST_TEST(back.config().layers == 2);       // the default
    BOOST_TEST_REQUIRE(warnings.size() == 1u);
    BOOST_TEST(warnings[0].find("config.json not found") != std::string::npos, warnings[0]);
    BOOST_TEST((back.weights() == n.weights()));
}

BOOST_AUTO_TEST_CASE(model_kwargs_override_the_config_and_reach_the_hooks) {
    temp_dir dir;
    parity::net n(parity::net_config{.hidden_size = 4, .layers = 1});
    n.save_pretrained(dir.path());
    from_pretrained_options o;
    o.kwargs = {{"layers", 1}, {"activation", "tanh"}, {"scale", 2.0}, {"strict", true}};
    auto back = parity::net::from_pretrained(dir.path(), o);
    BOOST_TEST(back.config().activation.value_or("") == "tanh");  // overrides config.json's null
    BOOST_TEST(back.weights().size() == 4u);
    BOOST_TEST(back.weights()[0] == 1.0f);  // 0.5 scaled by the hook's kwarg
    BOOST_TEST(back.seen_kwargs.at("strict").as_bool());
    // The override changes the shape: strict= makes the loader refuse the weights.
    o.kwargs["layers"] = 3;
    BOOST_CHECK_EXCEPTION(parity::net::from_pretrained(dir.path(), o), std::runtime_error,
                          [](const std::runtime_error& e) { return std::string(e.what()) == "strict: size mismatch"; });
    // And from_dir's third argument.
    parity::blob_model b{{}, {}, "bytes", {}};
    b.save_pretrained(dir.path() / "blob");
    from_pretrained_options bo;
    bo.kwargs = {{"map_location", "cpu"}};
    auto bb = parity::blob_model::from_pretrained(dir.path() / "blob", bo);
    BOOST_TEST(bb.weights == "bytes");
    BOOST_TEST(bb.kwargs.at("map_location").as_string() == "cpu");
}

BOOST_FIXTURE_TEST_CASE(loading_fetches_only_the_config_and_the_weights, fixture) {
    parity::net n(parity::net_config{.hidden_size = 8, .layers = 2});
    run(ioc, n.co_push_to_hub(*c, "alice/net"));
    std::string big = hfhub::test::pattern_bytes(3 << 20, 5);
    commit("alice/net", {commit_add::bytes("logs/events.bin", big), commit_add::bytes("optimizer.pt", big),
                         commit_add::bytes("model.onnx", "onnx")});

    auto got = run(ioc, parity::net::co_from_pretrained(*c, "alice/net", opts()));
    BOOST_TEST((got.weights() == n.weights()));
    BOOST_TEST(got.config().hidden_size == 8);
    auto snaps = cache.path() / "models--alice--net" / "snapshots";
    BOOST_TEST_REQUIRE(fs::exists(snaps));
    auto snap = fs::directory_iterator(snaps)->path();
    BOOST_TEST((files_under(snap) == std::vector<std::string>{"config.json", "model.safetensors"}), joined(files_under(snap)));
    for (const auto& l : hfhub::test::settled_log(srv)) {
        BOOST_TEST(l.find("events.bin") == std::string::npos, l);
        BOOST_TEST(l.find("optimizer.pt") == std::string::npos, l);
    }

    // A from_dir model gets config.json and its weight_file_patterns only.
    parity::blob_model b{{}, {}, "blob bytes", {}};
    run(ioc, b.co_push_to_hub(*c, "alice/blob"));
    commit("alice/blob", {commit_add::bytes("checkpoints/step1.bin", big)});
    auto bb = run(ioc, parity::blob_model::co_from_pretrained(*c, "alice/blob", opts()));
    BOOST_TEST(bb.weights == "blob bytes");
    auto bsnap = fs::directory_iterator(cache.path() / "models--alice--blob" / "snapshots")->path();
    BOOST_TEST((files_under(bsnap) == std::vector<std::string>{"config.json", "weights/a.bin"}), joined(files_under(bsnap)));
    BOOST_TEST(warnings.empty());
}

BOOST_FIXTURE_TEST_CASE(sharded_weights_load_through_their_index, fixture) {
    // Shards as transformers writes them, pushed by hand: the index and its shards are fetched.
    temp_dir src;
    std::vector<float> a(300, 1.5f), b(300, 2.5f);
    safetensors::shard_options so;
    so.max_shard_size = 1500;
    safetensors::save_sharded({{"w", safetensors::make_view(safetensors::dtype::F32, {300}, std::span<const float>(a))},
                               {"v", safetensors::make_view(safetensors::dtype::F32, {300}, std::span<const float>(b))}},
                              src.path(), so);
    BOOST_TEST_REQUIRE(fs::exists(src.path() / "model.safetensors.index.json"));
    std::vector<commit_operation> ops{commit_add::bytes("config.json", R"({"hidden_size": 300, "layers": 1})"),
                                      commit_add::bytes("unrelated.bin", "x")};
    for (const auto& f : files_under(src.path())) ops.push_back(commit_add::file(f, src.path() / f));
    run(ioc, co_create_repo(*c, "alice/sharded"));
    commit("alice/sharded", std::move(ops));
    auto got = run(ioc, parity::net::co_from_pretrained(*c, "alice/sharded", opts()));
    BOOST_TEST(got.weights().size() == 300u);
    BOOST_TEST(got.weights()[299] == 1.5f);
    auto snap = fs::directory_iterator(cache.path() / "models--alice--sharded" / "snapshots")->path();
    BOOST_TEST((files_under(snap) == std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                                              "model-00002-of-00002.safetensors", "model.safetensors.index.json"}),
               joined(files_under(snap)));
}

BOOST_FIXTURE_TEST_CASE(a_repo_with_only_pytorch_model_bin_is_a_typed_error, fixture) {
    run(ioc, co_create_repo(*c, "alice/pickle"));
    commit("alice/pickle", {commit_add::bytes("config.json", "{}"), commit_add::bytes("pytorch_model.bin", "PK\x03\x04")});
    auto ec = hfhub::test::error_of([&] { run(ioc, parity::net::co_from_pretrained(*c, "alice/pickle", opts())); });
    BOOST_TEST((ec == client_errc::unsupported_format), ec.message());
    auto msg = hfhub::test::message_of([&] { run(ioc, parity::net::co_from_pretrained(*c, "alice/pickle", opts())); });
    BOOST_TEST(msg.find("pytorch_model.bin") != std::string::npos, msg);
    // No weights at all.
    run(ioc, co_create_repo(*c, "alice/empty-weights"));
    commit("alice/empty-weights", {commit_add::bytes("config.json", "{}")});
    ec = hfhub::test::error_of([&] { run(ioc, parity::net::co_from_pretrained(*c, "alice/empty-weights", opts())); });
    BOOST_TEST((ec == hub_errc::entry_not_found), ec.message());
}

BOOST_FIXTURE_TEST_CASE(save_pretrained_pushes_and_a_config_replaces_the_models, fixture) {
    parity::net n(parity::net_config{.hidden_size = 4, .layers = 1});
    parity::net::save_options so;
    so.push_to_hub = true;
    so.repo_id = "alice/saved";
    so.config = parity::net_config{.hidden_size = 4, .layers = 1, .activation = "gelu"};
    so.push.commit_message = "Saved and pushed";
    auto dir = work.path() / "saved";
    auto info = run(ioc, n.co_save_pretrained(*c, dir, so));
    BOOST_TEST_REQUIRE(info.has_value());
    BOOST_TEST(info->changed);
    BOOST_TEST(slurp(dir / "config.json").find("\"activation\": \"gelu\"") != std::string::npos);
    auto log = hfhub::test::parse_json(srv.get("/api/models/alice/saved/commits/main")).as_array();
    BOOST_TEST(hfhub::test::jstr(log[0], "title") == "Saved and pushed");
    auto got = run(ioc, parity::net::co_from_pretrained(*c, "alice/saved", opts()));
    BOOST_TEST(got.config().activation.value_or("") == "gelu");

    // Without a client, push_to_hub is refused before anything is written.
    auto ec = hfhub::test::error_of([&] { n.save_pretrained(work.path() / "refused", so); });
    BOOST_TEST((ec == client_errc::invalid_argument));
    BOOST_TEST(!fs::exists(work.path() / "refused"));

    // push_to_hub with a config of its own; the model's stays as it was.
    auto cfg = parity::net_config{.hidden_size = 4, .layers = 1, .activation = "silu"};
    run(ioc, n.co_push_to_hub(*c, "alice/saved", cfg));
    download_options fresh;
    fresh.cache_dir = cache.path();
    fresh.force_download = true;
    auto text = slurp(run(ioc, co_hf_hub_download(*c, "alice/saved", "config.json", fresh)));
    BOOST_TEST(text.find("\"activation\": \"silu\"") != std::string::npos, text);
    BOOST_TEST(!n.config().activation.has_value());

    // The blocking forms, from a thread that is not the client's.
    auto guard = asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });
    so.repo_id.clear();  // the directory's name
    so.config.reset();
    auto blocking = n.save_pretrained(*c, work.path() / "bare-name", so);
    BOOST_TEST(blocking.has_value());
    auto files = hfhub::test::file_list(srv, "models/alice/bare-name");
    BOOST_TEST((files == std::vector<std::string>{".gitattributes", "README.md", "config.json", "model.safetensors"}));
    auto pushed = n.push_to_hub(*c, "alice/saved", parity::net_config{.hidden_size = 4, .layers = 1, .activation = "relu"});
    BOOST_TEST(pushed.changed);
    guard.reset();
    io.join();
}

BOOST_AUTO_TEST_CASE(tags_come_out_sorted_with_the_mixins_tag) {
    temp_dir dir;
    parity::net n(parity::net_config{});
    n.save_pretrained(dir.path());
    auto card = model_card::load(dir.path() / "README.md");
    BOOST_TEST(json::serialize(card.data().at("tags")) == R"(["alpha","model_hub_mixin","safetensors_model_hub_mixin","zeta"])");
    BOOST_TEST(card.data().at("library_name").as_string() == "netlib");
}

BOOST_AUTO_TEST_CASE(a_derived_class_inherits_its_bases_metadata) {
    temp_dir dir;
    parity::plain_user{}.save_pretrained(dir.path() / "plain");
    auto plain = model_card::load(dir.path() / "plain" / "README.md");
    BOOST_TEST(json::serialize(plain.data()) == R"({"library_name":"fw","license":"mit","tags":["fw-tag","model_hub_mixin"]})");
    BOOST_TEST(plain.text() == "A fw model for any task.\n");

    parity::tagged_user{}.save_pretrained(dir.path() / "tagged");
    auto tagged = model_card::load(dir.path() / "tagged" / "README.md");
    BOOST_TEST(json::serialize(tagged.data()) ==
               R"({"library_name":"fw","license":"mit","pipeline_tag":"text-classification","tags":["fw-tag","model_hub_mixin","user"]})");
    BOOST_TEST(tagged.text() == "A fw model for text-classification.\n");  // the base's template
}

BOOST_AUTO_TEST_CASE(safetensors_weights_are_one_file_by_default) {
    temp_dir dir;
    parity::net n(parity::net_config{.hidden_size = 1000, .layers = 2});
    n.save_pretrained(dir.path());
    BOOST_TEST((files_under(dir.path()) == std::vector<std::string>{"README.md", "config.json", "model.safetensors"}));
    auto f = safetensors::file::open(dir.path() / "model.safetensors");
    BOOST_TEST(f.metadata()->at("format") == "pt");
    // Weights past save_sharded's own 5 GB default still make one file; a shard size is opt-in.
    BOOST_TEST(parity::net::weights_options().max_shard_size == std::numeric_limits<std::uint64_t>::max());
    BOOST_TEST(safetensors::shard_options{}.max_shard_size < parity::net::weights_options().max_shard_size);
}

BOOST_AUTO_TEST_CASE(an_overridden_card_extends_the_generated_one) {
    temp_dir dir;
    parity::carded m;
    m.save_pretrained(dir.path());
    auto card = model_card::load(dir.path() / "README.md");
    BOOST_TEST(card.data().at("library_name").as_string() == "cardlib");
    BOOST_TEST(json::serialize(card.data().at("metrics")) == R"(["accuracy"])");
    BOOST_TEST(card.text().find("for **cardlib**") != std::string::npos, card.text());
    BOOST_TEST(card.text().find("## Training\nTrained for 3 epochs.") != std::string::npos, card.text());
    BOOST_TEST((parity::carded::from_pretrained(dir.path()).w == m.w));
}

BOOST_AUTO_TEST_SUITE_END()
