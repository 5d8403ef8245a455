// A config holding an argparse-Namespace-like object, stored in config.json through a Boost.JSON
// coder (the counterpart of Python's `coders=`), and a custom card template with placeholders,
// as VoiceCraft does. Prints a value read back from the reloaded config, then the card's text.
//   HF_ENDPOINT=... mixin_voicecraft alice/voicecraft
#include "mixin_common.hpp"

#include <hfhub/mixin.hpp>

#include <boost/describe/class.hpp>
#include <boost/json.hpp>

#include <map>

// Like argparse.Namespace: named options of any JSON type.
struct namespace_args {
    std::map<std::string, boost::json::value> values;
    const boost::json::value& operator[](const std::string& k) const { return values.at(k); }
};
// The coder: a Namespace is written as the dict of its attributes (Python: vars(ns)) ...
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const namespace_args& a) {
    boost::json::object o;
    for (const auto& [k, x] : a.values) o[k] = x;
    v = std::move(o);
}
// ... and read back from it (Python: Namespace(**data)).
namespace_args tag_invoke(boost::json::value_to_tag<namespace_args>, const boost::json::value& v) {
    namespace_args a;
    for (const auto& kv : v.as_object()) a.values.emplace(kv.key(), kv.value());
    return a;
}

struct voicecraft_config {
    namespace_args args;
};
BOOST_DESCRIBE_STRUCT(voicecraft_config, (), (args))

class voicecraft : public hfhub::model_hub_mixin<voicecraft> {
public:
    using config_type = voicecraft_config;
    static inline const hfhub::model_card_metadata hub_metadata = [] {
        hfhub::model_card_metadata m;
        m.repo_url = "https://github.com/jasonppy/VoiceCraft";
        m.tags = {"text-to-speech", "voicecraft"};
        m.license = "cc-by-nc-sa-4.0";
        m.pipeline_tag = "text-to-speech";
        m.card_template = R"(---
{{ card_data }}
---

# {{ model_name | default("VoiceCraft") }}

Zero-shot speech editing and text-to-speech. Code: {{ repo_url }}.
Trained for {{ steps | default("an unknown number of") }} steps.
)";
        return m;
    }();

    voicecraft_config cfg;
    const voicecraft_config& config() const { return cfg; }
    void save_weights(const std::filesystem::path& dir) const { hfhub::safetensors::save_file({}, dir / "model.safetensors"); }
    static voicecraft from_dir(const std::filesystem::path&, voicecraft_config c) { return voicecraft{{}, std::move(c)}; }
};

int main(int argc, char** argv) {
    return run_example(argc, argv, "mixin_voicecraft", [](hfhub::client& hub, std::string repo) -> boost::asio::awaitable<void> {
        voicecraft model;
        model.cfg.args.values = {{"audio_vocab_size", 2048}, {"codec", "encodec"}, {"d_model", 2048}, {"dropout", 0.0}};
        // Placeholders beyond the metadata come with the push.
        hfhub::template_vars vars{{"model_name", "VoiceCraft-830M"}, {"steps", "50000"}};
        hfhub::mixin_push_options push;
        co_await model.co_push_to_hub(hub, repo, push, vars);
        hfhub::from_pretrained_options load;
        voicecraft back = co_await voicecraft::co_from_pretrained(hub, repo, load);
        std::cout << "codec=" << std::string(back.config().args["codec"].as_string()) << "\n";
        hfhub::download_options dl;
        hfhub::model_card card = co_await hfhub::model_card::co_load(hub, repo, dl);
        std::cout << card.text();
    });
}
