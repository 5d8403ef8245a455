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
#include <hfhub/repo.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <concepts>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hfhub {

// Values for a card template's placeholders.
using template_vars = std::map<std::string, std::string, std::less<>>;

// Class metadata for generated cards (the counterpart of ModelHubMixin's class arguments).
// Empty fields are left out of the card.
struct model_card_metadata {
    std::string library_name;
    std::vector<std::string> tags;  // "model_hub_mixin" is always added; sorted and deduplicated
    std::string license;
    std::string pipeline_tag;
    std::string repo_url;
    std::string docs_url;
    std::string paper_url;
    boost::json::object extra;  // more card data, e.g. {"datasets": [...], "base_model": "..."}
    std::string card_template;  // empty: default_model_card_template
    std::vector<std::string> language;  // written as a list, as Python writes a list it is given
    std::string license_name;           // with license "other"
    std::string license_link;
};

// The metadata of a class that derives from one with `parent` metadata, as Python's
// __init_subclass__ builds it: the child's non-empty fields win, tags are the parent's then the
// child's (generate_model_card sorts them), `extra` is merged key by key with the child winning,
// and the card template is the child's when it has one.
model_card_metadata inherit_metadata(const model_card_metadata& parent, const model_card_metadata& child);

// What model_card::validate sends along with the card.
struct card_validate_options {
    repo_type type = repo_type::model;  // the "repoType" the Hub validates the card for
    std::optional<std::string> token;   // overrides the client's
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

    // Renders `tpl` (see render_template) and parses the result, as Python's
    // ModelCard.from_template: every top-level key of `card_data` is a variable (null values are
    // left out, as Python's to_dict drops None), `vars` win over them, and card_data is the
    // card data as YAML.
    static model_card from_template(std::string_view tpl, const boost::json::object& card_data,
                                    const template_vars& vars = {});
    // The same with variables of any JSON type (lists, numbers, bools...).
    template <std::same_as<boost::json::object> Vars>
    static model_card from_template(std::string_view tpl, const boost::json::object& card_data, const Vars& vars) {
        return from_template_json(tpl, card_data, vars);
    }

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

    // Asks the Hub whether it accepts the card (POST {endpoint}/api/validate-yaml with
    // {"content": to_string(), "repoType": ...}), as Python's RepoCard.validate. Returns the
    // server's warnings (e.g. "empty or missing yaml metadata in repo card"). A card the Hub
    // rejects (400) throws hub_errc::bad_request whose server message holds the Hub's error
    // messages, "; "-separated; other failures throw as every Hub call. Not a coroutine: the
    // card is written now, so the awaitable doesn't depend on *this.
    boost::asio::awaitable<std::vector<std::string>> co_validate(client& c, card_validate_options opts = card_validate_options()) const;
    // `{}` as the options: the defaults (hfhub::use_defaults).
    boost::asio::awaitable<std::vector<std::string>> co_validate(client& c, use_defaults) const { return co_validate(c); }
    std::vector<std::string> validate(client& c, card_validate_options opts = card_validate_options()) const;

private:
    static model_card from_template_json(std::string_view tpl, const boost::json::object& card_data,
                                         const boost::json::object& vars);

    boost::json::object data_;
    std::string text_;
};

// Card data as YAML (block style, no trailing newline) and back. Errors as model_card::parse.
std::string card_data_to_yaml(const boost::json::object& data);
boost::json::object card_data_from_yaml(std::string_view yaml);

// validate for raw README.md text (which need not parse here), e.g. a card read from disk.
boost::asio::awaitable<std::vector<std::string>> co_validate_card(client& c, std::string content,
                                                                  card_validate_options opts = card_validate_options());
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<std::vector<std::string>> co_validate_card(client& c, std::string content, use_defaults) {
    return co_validate_card(c, std::move(content));
}
std::vector<std::string> validate_card(client& c, std::string content, card_validate_options opts = card_validate_options());

// Renders the subset of Jinja that card templates use (docs/model_card.md has the table):
// {{ expr }}, {% if %}/{% elif %}/{% else %}/{% endif %}, {# comments #}, "-" whitespace
// control, `not`/`and`/`or`, parentheses, string/true/false/none literals and the filter
// default(value[, boolean]) (alias d). An absent variable renders as nothing. Values render
// as Python's str(): strings as they are, true/false as True/False, null as None, lists and
// objects as Python's repr (['a', 'b'], {'k': 1}). Truthiness is Jinja's: absent, null,
// false, 0, "" and empty lists/objects are false. Unlike Jinja, a trailing newline is kept.
// Errors: client_errc::invalid_argument naming the line and column (1-based) and the construct,
// for anything outside the subset (other tags, filters, operators), an unclosed {{ {% {# or
// if, a stray elif/else/endif.
std::string render_template(std::string_view tpl, const template_vars& vars);
// The same with variables of any JSON type. (A template rather than an overload, so a braced
// list still means template_vars.)
std::string render_template_json(std::string_view tpl, const boost::json::object& vars);
template <std::same_as<boost::json::object> Vars>
std::string render_template(std::string_view tpl, const Vars& vars) {
    return render_template_json(tpl, vars);
}

// The card a mixin writes: card data in Python's ModelCardData order (base_model, datasets,
// language, library_name, license, license_name, license_link, metrics, model_name,
// pipeline_tag, tags, then the other extra keys), typed fields winning over `extra`; tags (the
// extra ones, meta.tags and "model_hub_mixin") sorted and deduplicated as Python's
// sorted(set(tags)). Rendered as from_template, with repo_url, docs_url and paper_url too.
model_card generate_model_card(const model_card_metadata& meta, const template_vars& vars = {});

// One evaluation of a model-index, flattened (Python's EvalResult). The first five are required.
struct eval_result {
    std::string task_type;     // e.g. "image-classification"
    std::string dataset_type;  // e.g. "beans" (a Hub dataset id when there is one)
    std::string dataset_name;  // e.g. "Beans"
    std::string metric_type;   // e.g. "accuracy"
    boost::json::value metric_value;  // any JSON value; usually a number
    std::optional<std::string> task_name;
    std::optional<std::string> dataset_config;
    std::optional<std::string> dataset_split;
    std::optional<std::string> dataset_revision;
    std::optional<boost::json::object> dataset_args;
    std::optional<std::string> metric_name;
    std::optional<std::string> metric_config;
    std::optional<boost::json::object> metric_args;
    std::optional<bool> verified;
    std::optional<std::string> verify_token;
    std::optional<std::string> source_name;  // needs source_url
    std::optional<std::string> source_url;
    bool operator==(const eval_result&) const = default;
};

// model-index <-> eval results, as Python's model_index_to_eval_results and
// eval_results_to_model_index. Reading takes every entry's results and the last entry's name;
// a missing required key or a value of the wrong type throws client_errc::invalid_argument
// naming it ("model-index[0].results[1].dataset.name"). Writing groups results sharing task
// type, dataset type, config, split and revision under one entry (in first-seen order), with
// Python's key order, no null values, and throws invalid_argument for a source_name without
// a source_url.
std::pair<std::string, std::vector<eval_result>> model_index_to_eval_results(const boost::json::value& model_index);
boost::json::array eval_results_to_model_index(std::string_view model_name, const std::vector<eval_result>& results);

using string_or_list = std::variant<std::string, std::vector<std::string>>;

// Typed card data (Python's ModelCardData). Absent fields stay out of the card.
struct model_card_data {
    std::optional<string_or_list> base_model;
    std::optional<string_or_list> datasets;
    std::vector<eval_result> eval_results;  // written as "model-index"; needs model_name
    std::optional<string_or_list> language;
    std::optional<std::string> library_name;
    std::optional<std::string> license;
    std::optional<std::string> license_name;
    std::optional<std::string> license_link;
    std::optional<std::vector<std::string>> metrics;
    std::optional<std::string> model_name;
    std::optional<std::string> pipeline_tag;
    std::optional<std::vector<std::string>> tags;  // deduplicated on reading, order kept
    boost::json::object extra;  // every other key, in the card's order

    // From a card's data. "model-index" becomes model_name and eval_results. A typed field of
    // the wrong type, or a model-index that can't be read, throws client_errc::invalid_argument
    // naming it; with ignore_metadata_errors an unreadable model-index stays in `extra`.
    static model_card_data from_json(const boost::json::object& data, bool ignore_metadata_errors = false);
    // In Python's to_dict order: the fields above, then `extra` (keys not already written),
    // then "model-index" when there are eval results (model_name then goes into it).
    // Errors: invalid_argument for eval results without model_name, or a bad source.
    boost::json::object to_json() const;
};

}  // namespace hfhub
