// Class metadata for the generated model card, as UniDepth declares it: library name, repo and
// docs links, pipeline tag, license, tags, and extra card data. Prints the card data read back
// from the Hub.
//   HF_ENDPOINT=... mixin_unidepth alice/unidepth-v1
#include "mixin_common.hpp"

#include <hfhub/mixin.hpp>

#include <boost/describe/class.hpp>
#include <boost/json/serialize.hpp>

struct unidepth_config {
    std::string backbone = "ViTL14";
    std::vector<int> output_idx{5, 11, 17, 23};
    double max_depth = 80.0;
};
BOOST_DESCRIBE_STRUCT(unidepth_config, (), (backbone, output_idx, max_depth))

class unidepth : public hfhub::model_hub_mixin<unidepth> {
public:
    using config_type = unidepth_config;
    static inline const hfhub::model_card_metadata hub_metadata = [] {
        hfhub::model_card_metadata m;
        m.library_name = "UniDepth";
        m.repo_url = "https://github.com/lpiccinelli-eth/UniDepth";
        m.docs_url = "https://github.com/lpiccinelli-eth/UniDepth/blob/main/README.md";
        m.pipeline_tag = "depth-estimation";
        m.license = "cc-by-nc-4.0";
        m.tags = {"monocular-metric-depth-estimation"};
        m.extra = {{"language", "en"}, {"datasets", boost::json::array{"kitti", "nyu"}}};
        return m;
    }();

    unidepth_config cfg;
    const unidepth_config& config() const { return cfg; }
    void save_weights(const std::filesystem::path& dir) const {
        // A real model writes its weights here; an empty safetensors file keeps the example small.
        hfhub::safetensors::save_file({}, dir / "model.safetensors");
    }
    static unidepth from_dir(const std::filesystem::path&, unidepth_config c) { return unidepth{{}, std::move(c)}; }
};

int main(int argc, char** argv) {
    return run_example(argc, argv, "mixin_unidepth", [](hfhub::client& hub, std::string repo) -> boost::asio::awaitable<void> {
        unidepth model;
        hfhub::mixin_push_options push;
        co_await model.co_push_to_hub(hub, repo, push);
        hfhub::download_options dl;
        hfhub::model_card card = co_await hfhub::model_card::co_load(hub, repo, dl);
        hfhub::from_pretrained_options load;
        unidepth back = co_await unidepth::co_from_pretrained(hub, repo, load);
        std::cout << boost::json::serialize(card.data()) << "\n" << back.config().backbone << "\n";
    });
}
