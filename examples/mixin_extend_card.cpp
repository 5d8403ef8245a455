// Extending the generated model card, as the guide's override does: call the mixin's
// generate_model_card, then add to the card data (metrics, datasets) and to the text. Pushes the
// model and prints the card read back from the Hub.
//   HF_ENDPOINT=... mixin_extend_card alice/extended-card
#include "mixin_common.hpp"

#include <hfhub/mixin.hpp>

#include <boost/describe/class.hpp>
#include <boost/json/array.hpp>

struct tiny_config {
    int epochs = 3;
};
BOOST_DESCRIBE_STRUCT(tiny_config, (), (epochs))

class tiny_model : public hfhub::safetensors_model_hub_mixin<tiny_model> {
public:
    using config_type = tiny_config;
    static inline const hfhub::model_card_metadata hub_metadata = [] {
        hfhub::model_card_metadata m;
        m.library_name = "tiny-lib";
        m.license = "mit";
        m.tags = {"classification"};
        return m;
    }();

    tiny_config cfg;
    std::vector<float> weights = {0.25f, 0.5f};

    const tiny_config& config() const { return cfg; }
    hfhub::safetensors::tensor_list named_tensors() const {
        return {{"w", hfhub::safetensors::make_view(hfhub::safetensors::dtype::F32, {2}, std::span<const float>(weights))}};
    }
    static tiny_model from_config(tiny_config c) { return tiny_model{{}, c}; }
    void load_tensors(const hfhub::safetensors::checkpoint& ck) {
        auto w = ck.at("w").as<float>();
        weights.assign(w.begin(), w.end());
    }

    // The base card first, then what this model knows about itself.
    hfhub::model_card generate_model_card(const hfhub::template_vars& vars = {}) const {
        hfhub::model_card card = safetensors_model_hub_mixin::generate_model_card(vars);
        card.data()["metrics"] = boost::json::array{"accuracy"};
        card.data()["datasets"] = boost::json::array{"imdb"};
        card.text() += "\n## Training\n\nTrained for " + std::to_string(cfg.epochs) + " epochs.\n";
        return card;
    }
};

int main(int argc, char** argv) {
    return run_example(argc, argv, "mixin_extend_card", [](hfhub::client& hub, std::string repo) -> boost::asio::awaitable<void> {
        tiny_model model;
        model.cfg.epochs = 5;
        hfhub::mixin_push_options push;
        co_await model.co_push_to_hub(hub, repo, push);
        hfhub::download_options dl;
        hfhub::model_card card = co_await hfhub::model_card::co_load(hub, repo, dl);
        std::cout << card.to_string();
    });
}
