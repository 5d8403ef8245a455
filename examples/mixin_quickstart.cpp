// The mixin quickstart: a model with a config and named tensors, pushed to the Hub and loaded back.
//   HF_ENDPOINT=http://127.0.0.1:8080 HF_TOKEN=hf_... mixin_quickstart alice/my-awesome-model
// Prints the reloaded hidden_size.
#include <hfhub/mixin.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/describe/class.hpp>

#include <iostream>
#include <random>

namespace asio = boost::asio;

// The model's config: described, so it becomes config.json and comes back from it.
struct my_config {
    int hidden_size = 512;
    int vocab_size = 30000;
    int output_size = 4;
};
BOOST_DESCRIBE_STRUCT(my_config, (), (hidden_size, vocab_size, output_size))

class my_model : public hfhub::safetensors_model_hub_mixin<my_model> {
public:
    using config_type = my_config;
    // What the generated model card says about the model.
    static inline const hfhub::model_card_metadata hub_metadata = [] {
        hfhub::model_card_metadata m;
        m.library_name = "my-library";
        m.tags = {"example"};
        m.license = "mit";
        m.repo_url = "https://github.com/my-org/my-library";
        m.docs_url = "https://my-org.github.io/my-library";
        return m;
    }();

    explicit my_model(my_config c)
        : cfg_(c),
          embedding_(static_cast<std::size_t>(c.vocab_size) * c.hidden_size),
          head_(static_cast<std::size_t>(c.hidden_size) * c.output_size) {
        std::mt19937 g(42);
        std::normal_distribution<float> d(0, 0.02f);
        for (auto& x : embedding_) x = d(g);
        for (auto& x : head_) x = d(g);
    }

    const my_config& config() const { return cfg_; }

    // The tensors to save, viewed in place.
    hfhub::safetensors::tensor_list named_tensors() const {
        using hfhub::safetensors::dtype;
        auto h = static_cast<std::uint64_t>(cfg_.hidden_size);
        return {{"embedding.weight", hfhub::safetensors::make_view(dtype::F32, {static_cast<std::uint64_t>(cfg_.vocab_size), h},
                                                                   std::span<const float>(embedding_))},
                {"head.weight", hfhub::safetensors::make_view(dtype::F32, {static_cast<std::uint64_t>(cfg_.output_size), h},
                                                              std::span<const float>(head_))}};
    }
    static my_model from_config(my_config c) { return my_model(c); }
    void load_tensors(const hfhub::safetensors::checkpoint& ck) {
        auto e = ck.at("embedding.weight").as<float>();
        auto w = ck.at("head.weight").as<float>();
        if (e.size() != embedding_.size() || w.size() != head_.size()) throw std::runtime_error("checkpoint shapes differ from the config");
        std::copy(e.begin(), e.end(), embedding_.begin());
        std::copy(w.begin(), w.end(), head_.begin());
    }

private:
    my_config cfg_;
    std::vector<float> embedding_, head_;
};

asio::awaitable<void> quickstart(hfhub::client& hub, std::string repo_id) {
    my_config cfg;
    cfg.hidden_size = 128;
    my_model model(cfg);
    model.save_pretrained("my-awesome-model");  // config.json, model.safetensors, README.md

    // Options are named locals: GCC 12 mishandles temporaries inside co_await expressions.
    hfhub::mixin_push_options push;
    push.commit_message = "Add my-awesome-model";
    co_await model.co_push_to_hub(hub, repo_id, push);

    hfhub::from_pretrained_options load;  // revision, cache_dir, token, ... as snapshot_download
    my_model reloaded = co_await my_model::co_from_pretrained(hub, repo_id, load);
    std::cout << reloaded.config().hidden_size << "\n";
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: mixin_quickstart <repo_id>\n";
        return 2;
    }
    asio::io_context ioc;
    hfhub::client hub(ioc.get_executor(), hfhub::config::from_env());
    int rc = 0;
    asio::co_spawn(ioc, quickstart(hub, argv[1]), [&](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            std::cerr << "error: " << x.what() << "\n";
            rc = 1;
        }
    });
    ioc.run();
    return rc;
}
