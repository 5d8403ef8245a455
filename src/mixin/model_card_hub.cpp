// model_card's Hub side: loading a card from a repo and pushing it. Apart from the rest so the
// card's parsing and writing build without the client (the fuzz target links them alone).
#include <hfhub/model_card.hpp>

#include "boundary.hpp"

namespace hfhub {

namespace fs = std::filesystem;

static boost::asio::awaitable<model_card> co_load_card(client& c, std::string repo_id, download_options opts) {
    fs::path p = co_await co_hf_hub_download(c, std::move(repo_id), "README.md", std::move(opts));
    co_return model_card::load(p);
}

boost::asio::awaitable<model_card> model_card::co_load(client& c, std::string repo_id, download_options opts) {
    return detail::co_public(co_load_card(c, std::move(repo_id), std::move(opts)));
}

model_card model_card::load(client& c, std::string repo_id, download_options opts) {
    return load(hf_hub_download(c, std::move(repo_id), "README.md", std::move(opts)));
}

// Not a coroutine: the card is rendered now, so the awaitable doesn't depend on *this.
boost::asio::awaitable<commit_info> model_card::co_push_to_hub(client& c, std::string repo_id, commit_options opts) const {
    return co_upload_file(c, std::move(repo_id), commit_add::bytes("README.md", to_string()), std::move(opts));
}

commit_info model_card::push_to_hub(client& c, std::string repo_id, commit_options opts) const {
    return upload_file(c, std::move(repo_id), commit_add::bytes("README.md", to_string()), std::move(opts));
}

}  // namespace hfhub
