// The helpers approach: a framework with no model class publishes and loads with two free
// functions on top of co_push_to_hub and co_snapshot_download, passing every Hub option
// through. Prints the reloaded config and the sum of the reloaded weights.
//   HF_ENDPOINT=... HF_TOKEN=... mixin_helpers alice/tiny-linear
#include "mixin_common.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/mixin.hpp>
#include <hfhub/safetensors.hpp>

#include <boost/describe/class.hpp>
#include <boost/json/parse.hpp>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>
#include <unistd.h>

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

// push_to_hub(model, repo): save to a temp folder (config.json + model.safetensors), then one
// commit. `opts` carries token, revision (the branch), create_pr, is_private, commit_message
// and allow/ignore/delete patterns.
boost::asio::awaitable<hfhub::commit_info> co_push_model(hfhub::client& hub, const linear& m, std::string repo,
                                                         hfhub::push_options opts) {
    fs::path dir = fs::temp_directory_path() / ("push-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << hfhub::config_to_json_text(m.config);
    auto w = hfhub::safetensors::make_view(hfhub::safetensors::dtype::F32,
                                           {std::uint64_t(m.config.out_features), std::uint64_t(m.config.in_features)},
                                           std::span<const float>(m.weight));
    hfhub::safetensors::save_file({{"weight", w}}, dir / "model.safetensors");
    if (opts.commit_message.empty()) opts.commit_message = "Push linear model";
    hfhub::commit_info info = co_await hfhub::co_push_to_hub(hub, std::move(repo), dir, std::move(opts));
    fs::remove_all(dir);
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
        load.cache_dir = fs::temp_directory_path() / ("cache-" + std::to_string(::getpid()));
        linear back = co_await co_load_model(hub, repo, load);
        fs::remove_all(load.cache_dir);
        std::cout << hfhub::config_to_json_text(back.config) << "\n"
                  << "sum " << std::accumulate(back.weight.begin(), back.weight.end(), 0.0f) << "\n";
    });
}
