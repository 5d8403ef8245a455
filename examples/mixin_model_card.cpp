// Overriding generate_model_card: the card is built from the model's own state (here its
// config), then edited and pushed again with hfhub::model_card. Prints the card read back.
//   HF_ENDPOINT=... mixin_model_card alice/custom-card
#include "mixin_common.hpp"

#include <hfhub/mixin.hpp>

#include <boost/describe/class.hpp>

struct small_config {
    int layers = 2;
    int width = 64;
};
BOOST_DESCRIBE_STRUCT(small_config, (), (layers, width))

class small_model : public hfhub::model_hub_mixin<small_model> {
public:
    using config_type = small_config;
    small_config cfg;
    const small_config& config() const { return cfg; }
    void save_weights(const std::filesystem::path& dir) const { hfhub::safetensors::save_file({}, dir / "model.safetensors"); }
    static small_model from_dir(const std::filesystem::path&, small_config c) { return small_model{{}, c}; }

    // Replaces the mixin's card.
    hfhub::model_card generate_model_card(const hfhub::template_vars&) const {
        boost::json::object data{{"library_name", "small"}, {"tags", boost::json::array{"model_hub_mixin", "tiny"}}};
        return hfhub::model_card(std::move(data), "# A small model\n\n" + std::to_string(cfg.layers) + " layers of width " +
                                                      std::to_string(cfg.width) + ".\n");
    }
};

int main(int argc, char** argv) {
    return run_example(argc, argv, "mixin_model_card", [](hfhub::client& hub, std::string repo) -> boost::asio::awaitable<void> {
        small_model model;
        model.cfg = small_config{3, 128};
        hfhub::mixin_push_options push;
        co_await model.co_push_to_hub(hub, repo, push);
        hfhub::download_options dl;
        hfhub::model_card card = co_await hfhub::model_card::co_load(hub, repo, dl);
        card.data()["license"] = "apache-2.0";  // edit the card data and push the card alone
        hfhub::commit_options commit;
        co_await card.co_push_to_hub(hub, repo, commit);
        hfhub::download_options fresh;
        fresh.force_download = true;
        hfhub::model_card again = co_await hfhub::model_card::co_load(hub, repo, fresh);
        std::cout << again.to_string();
    });
}
