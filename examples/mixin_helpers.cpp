// The helpers approach: a framework with no model class publishes and loads with two free
// functions on top of co_push_to_hub and co_snapshot_download, passing every Hub option
// through. The push writes a model card beside the weights, as the guide's helper does. Prints
// the reloaded config, the sum of the reloaded weights and the card's tags.
//   HF_ENDPOINT=... HF_TOKEN=... mixin_helpers alice/tiny-linear
#include "mixin_common.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/mixin.hpp>
#include <hfhub/safetensors.hpp>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <system_error>
#include <stdlib.h>

namespace fs = std::filesystem;

struct linear_config {
    int in_features = 4;
    int out_features = 2;
};
BOOST_DESCRIBE_STRUCT(linear_config, (), (in_features, out_features))

struct linear {  // the framework's own model: plain data
    linear_config config;
    std::vector<float> weight;
};

// A fresh folder of its own under the temp dir, removed with its content however the scope ends.
class scratch_dir {
public:
    scratch_dir() {
        std::string tpl = (fs::temp_directory_path() / "linear-push-XXXXXX").string();
        if (!::mkdtemp(tpl.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp");
        path_ = tpl;
    }
    ~scratch_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

// push_to_hub(model, repo): save to a temp folder (config.json, model.safetensors and a
// README.md model card), then one commit. `opts` carries token, revision (the branch),
// create_pr, is_private, commit_message and allow/ignore/delete patterns.
boost::asio::awaitable<hfhub::commit_info> co_push_model(hfhub::client& hub, const linear& m, std::string repo,
                                                         hfhub::push_options opts) {
    scratch_dir dir;
    std::ofstream(dir.path() / "config.json") << hfhub::config_to_json_text(m.config);
    auto w = hfhub::safetensors::make_view(hfhub::safetensors::dtype::F32,
                                           {std::uint64_t(m.config.out_features), std::uint64_t(m.config.in_features)},
                                           std::span<const float>(m.weight));
    hfhub::safetensors::save_file({{"weight", w}}, dir.path() / "model.safetensors");
    hfhub::model_card_metadata meta;
    meta.library_name = "linear-lib";
    meta.tags = {"linear"};
    meta.license = "mit";
    hfhub::generate_model_card(meta).save(dir.path() / "README.md");
    if (opts.commit_message.empty()) opts.commit_message = "Push linear model";
    fs::path folder = dir.path();
    hfhub::commit_info info = co_await hfhub::co_push_to_hub(hub, std::move(repo), std::move(folder), std::move(opts));
    co_return info;
}

// from_pretrained(repo_id): one snapshot, then the framework reads its files. `opts` carries
// token, revision, cache_dir, force_download, local_files_only, proxies and patterns.
boost::asio::awaitable<linear> co_load_model(hfhub::client& hub, std::string repo, hfhub::snapshot_options opts) {
    fs::path dir = co_await hfhub::co_snapshot_download(hub, std::move(repo), std::move(opts));
    std::stringstream text;
    text << std::ifstream(dir / "config.json").rdbuf();
    linear m;
    m.config = hfhub::config_from_json<linear_config>(boost::json::parse(text.str()));
    auto file = hfhub::safetensors::file::open(dir / "model.safetensors");
    auto w = file.at("weight").as<float>();
    m.weight.assign(w.begin(), w.end());
    co_return m;
}

int main(int argc, char** argv) {
    return run_example(argc, argv, "mixin_helpers", [](hfhub::client& hub, std::string repo) -> boost::asio::awaitable<void> {
        linear m;
        m.weight = {0.5f, 1.5f, 2.0f, -1.0f, 0.25f, 0.75f, 3.0f, 1.0f};
        hfhub::push_options push;
        push.is_private = true;
        co_await co_push_model(hub, m, repo, push);

        hfhub::snapshot_options load;
        load.allow_patterns = {"*.json", "*.safetensors"};
        scratch_dir cache;
        load.cache_dir = cache.path();
        linear back = co_await co_load_model(hub, repo, load);
        hfhub::download_options card_dl;
        card_dl.cache_dir = load.cache_dir;
        hfhub::model_card card = co_await hfhub::model_card::co_load(hub, repo, card_dl);
        std::cout << hfhub::config_to_json_text(back.config) << "\n"
                  << "sum " << std::accumulate(back.weight.begin(), back.weight.end(), 0.0f) << "\n"
                  << "tags " << boost::json::serialize(card.data().at("tags")) << "\n";
    });
}
