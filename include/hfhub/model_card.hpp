// Model cards: README.md with YAML front matter ("card data") above the Markdown text.
//
// The front matter is read and written with yaml-cpp and exposed as a boost::json::object, whose
// key order is kept: plain scalars become null, bools, integers or floats by YAML 1.2's core
// schema, everything else a string. Saved cards are "---\n<yaml>\n---\n<text>", like Python's
// ModelCard (comments in the front matter are not kept, as in Python). Strings that would read
// back as another type ("true", "1.0", "null", "yes", "") are quoted.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hfhub {

// Values for a card template's placeholders.
using template_vars = std::map<std::string, std::string, std::less<>>;

// Class metadata for generated cards (the counterpart of ModelHubMixin's class arguments).
struct model_card_metadata {
    std::string library_name;
    std::vector<std::string> tags;  // "model_hub_mixin" is always added
    std::string license;
    std::string pipeline_tag;
    std::string repo_url;
    std::string docs_url;
    std::string paper_url;
    boost::json::object extra;  // more card data, e.g. {"language": "en", "datasets": [...]}
    std::string card_template;  // empty: default_model_card_template
};

// The default template: {{ card_data }} in the front matter, then links to the code and docs.
extern const std::string_view default_model_card_template;

class model_card {
public:
    model_card() = default;
    model_card(boost::json::object data, std::string text) : data_(std::move(data)), text_(std::move(text)) {}

    // Splits the front matter off as Python does (optional leading whitespace, "---", the YAML,
    // a line "---"); without one, all is text. Errors: client_errc::invalid_argument when the
    // YAML is malformed or is not a mapping (the message has the line and column).
    static model_card parse(std::string_view content);
    static model_card load(const std::filesystem::path& file);  // also invalid_path when unreadable

    // README.md of a repo, through the cache (the download's errors; entry_not_found without one).
    static boost::asio::awaitable<model_card> co_load(client& c, std::string repo_id, download_options opts = download_options());
    // `{}` as the options: the defaults (hfhub::use_defaults).
    static boost::asio::awaitable<model_card> co_load(client& c, std::string repo_id, use_defaults) {
        return co_load(c, std::move(repo_id));
    }
    static model_card load(client& c, std::string repo_id, download_options opts = download_options());

    // Renders `tpl` with {{ card_data }} and the other placeholders, then parses the result.
    static model_card from_template(std::string_view tpl, const boost::json::object& card_data,
                                    const template_vars& vars = {});

    boost::json::object& data() noexcept { return data_; }
    const boost::json::object& data() const noexcept { return data_; }
    std::string& text() noexcept { return text_; }
    const std::string& text() const noexcept { return text_; }

    std::string to_string() const;  // "---\n" + yaml + "\n---\n" + text
    void save(const std::filesystem::path& file) const;  // atomic replace

    // Commits README.md. Default message: "Upload README.md with hfhub".
    boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, commit_options opts = commit_options()) const;
    // `{}` as the options: the defaults (hfhub::use_defaults).
    boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, use_defaults) const {
        return co_push_to_hub(c, std::move(repo_id));
    }
    commit_info push_to_hub(client& c, std::string repo_id, commit_options opts = commit_options()) const;

private:
    boost::json::object data_;
    std::string text_;
};

// Card data as YAML (block style, no trailing newline) and back. Errors as model_card::parse.
std::string card_data_to_yaml(const boost::json::object& data);
boost::json::object card_data_from_yaml(std::string_view yaml);

// Replaces each {{ name }} with vars[name] (empty when absent, as Jinja does) and
// {{ name | default("text") }} with the text when name is absent, or also when empty with
// default("text", true). Other filters: client_errc::invalid_argument naming the placeholder.
std::string render_template(std::string_view tpl, const template_vars& vars);

// The card a mixin writes: card data in Python's ModelCardData order (base_model, datasets,
// language, library_name, license, metrics, model_name, pipeline_tag, tags, then the extra keys),
// tags deduplicated with "model_hub_mixin" appended, rendered with the placeholders card_data,
// library_name, license, pipeline_tag, repo_url, docs_url, paper_url and `vars`.
model_card generate_model_card(const model_card_metadata& meta, const template_vars& vars = {});

}  // namespace hfhub
