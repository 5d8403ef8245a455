// model_card's Hub side: loading a card from a repo and pushing it. Apart from the rest so the
// card's parsing and writing build without the client (the fuzz target links them alone).
#include <hfhub/model_card.hpp>

#include "blocking_call.hpp"
#include "boundary.hpp"
#include "hub/errors.hpp"

#include <boost/json.hpp>

namespace hfhub {

namespace fs = std::filesystem;
namespace json = boost::json;

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

// The messages of {"errors"|"warnings": [{"message": ...}]}; none when the body is not that.
static std::vector<std::string> messages(const std::string& body, std::string_view key) {
    std::vector<std::string> out;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return out;
    auto* list = v.get_object().if_contains(key);
    if (!list || !list->is_array()) return out;
    for (const auto& e : list->get_array()) {
        if (e.is_string()) out.emplace_back(e.get_string());
        else if (e.is_object())
            if (auto* m = e.get_object().if_contains("message"); m && m->is_string()) out.emplace_back(m->get_string());
    }
    return out;
}

static boost::asio::awaitable<std::vector<std::string>> co_validate_impl(client& c, std::string content, card_validate_options opts) {
    http_request req;
    req.method = "POST";
    req.url = c.settings().endpoint + "/api/validate-yaml";
    req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    req.body = json::serialize(json::object{{"content", content}, {"repoType", to_string(opts.type)}});
    req.token = std::move(opts.token);
    req.idempotent = true;  // it changes nothing, so a retry is safe
    http_response resp = co_await c.co_request(req, false);
    if (resp.status == 400) {
        hfhub::error base = hub::status_error(req.method, req.url, resp);
        diagnostics d = base.diag();
        auto errors = messages(resp.body, "errors");
        if (!errors.empty()) {
            d.server_message.clear();
            for (const auto& m : errors) d.server_message += (d.server_message.empty() ? "" : "; ") + m;
        }
        d.client_message = "the Hub rejects the model card";
        throw hfhub::error(base.code(), std::move(d));
    }
    if (resp.status < 200 || resp.status >= 300) throw hub::status_error(req.method, req.url, resp);
    co_return messages(resp.body, "warnings");
}

boost::asio::awaitable<std::vector<std::string>> co_validate_card(client& c, std::string content, card_validate_options opts) {
    return detail::co_public(co_validate_impl(c, std::move(content), std::move(opts)));
}

std::vector<std::string> validate_card(client& c, std::string content, card_validate_options opts) {
    return detail::run_blocking(c, co_validate_card(c, std::move(content), std::move(opts)));
}

// Not a coroutine: the card is written now, so the awaitable doesn't depend on *this.
boost::asio::awaitable<std::vector<std::string>> model_card::co_validate(client& c, card_validate_options opts) const {
    return co_validate_card(c, to_string(), std::move(opts));
}

std::vector<std::string> model_card::validate(client& c, card_validate_options opts) const {
    return validate_card(c, to_string(), std::move(opts));
}

}  // namespace hfhub
