#include <hfhub/mixin.hpp>

#include "mixin/json_text.hpp"
#include "blocking_call.hpp"
#include "util/blocking.hpp"
#include "util/fs.hpp"
#include "boundary.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>

namespace hfhub::mixin_detail {

namespace fs = std::filesystem;
namespace json = boost::json;

void config_error(const std::string& field, const std::string& what) {
    diagnostics d;
    d.client_message = field.empty() ? "config.json: " + what : "config.json: field '" + field + "': " + what;
    throw error(make_error_code(client_errc::invalid_argument), std::move(d));
}

std::string kind_name(const json::value& v) {
    switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a float";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
    }
    return "a value";
}

std::string dump_config(const json::value& config) { return python_json_dumps(config, true, 2); }

void write_config(const fs::path& dir, const json::value& config) {
    if (!config.is_object()) config_error("", "the config must encode as a JSON object, not " + kind_name(config));
    // Python writes json.dumps(config, sort_keys=True, indent=2) with no newline at the end.
    util::write_file_atomic(dir / "config.json", dump_config(config));
}

json::value read_config(const fs::path& dir) {
    auto text = util::read_file(dir / "config.json");
    if (!text) config_error("", "missing in " + dir.string());
    boost::system::error_code ec;
    json::value v = json::parse(*text, ec);
    if (ec) config_error("", "not valid JSON: " + ec.message());
    return v;
}

void remove_config(const fs::path& dir) {
    std::error_code ec;
    fs::remove(dir / "config.json", ec);
}

bool has_card(const fs::path& dir) { return fs::exists(dir / "README.md"); }

void write_card_if_missing(const fs::path& dir, const model_card& card) {
    if (has_card(dir)) return;
    card.save(dir / "README.md");
}

static boost::asio::awaitable<fs::path> co_resolve_pretrained_impl(client& c, std::string repo_id_or_dir, from_pretrained_options opts);

boost::asio::awaitable<fs::path> co_resolve_pretrained(client& c, std::string repo_id_or_dir, from_pretrained_options opts) {
    return detail::co_public(co_resolve_pretrained_impl(c, std::move(repo_id_or_dir), std::move(opts)));
}

static boost::asio::awaitable<fs::path> co_resolve_pretrained_impl(client& c, std::string repo_id_or_dir, from_pretrained_options opts) {
    std::error_code ec;
    if (fs::is_directory(repo_id_or_dir, ec)) co_return fs::path(repo_id_or_dir);
    snapshot_options so = std::move(opts);
    fs::path dir = co_await co_snapshot_download(c, std::move(repo_id_or_dir), std::move(so));
    co_return dir;
}

fs::path resolve_pretrained(client& c, std::string repo_id_or_dir, from_pretrained_options opts) {
    std::error_code ec;
    if (fs::is_directory(repo_id_or_dir, ec)) return repo_id_or_dir;
    snapshot_options so = std::move(opts);
    return snapshot_download(c, std::move(repo_id_or_dir), std::move(so));
}

temp_dir::temp_dir(client& c) : pool_(detail::blocking_executor(c)) {
    path_ = fs::temp_directory_path() / ("hfhub-push-" + util::unique_suffix());
    fs::create_directories(path_);
}

// Unlinking gigabytes of weights takes tens of milliseconds: not on the caller's I/O thread.
temp_dir::~temp_dir() {
    boost::asio::post(pool_, [p = std::move(path_)] {
        std::error_code ec;
        fs::remove_all(p, ec);
    });
}

static boost::asio::awaitable<commit_info> co_push_dir_impl(client& c, std::string repo_id, fs::path dir, mixin_push_options opts);

boost::asio::awaitable<void> co_off_io_thread(client& c, std::function<void()> work) {
    std::function<void(const std::atomic<bool>&)> job = [work = std::move(work)](const std::atomic<bool>&) { work(); };
    return detail::co_public(util::co_blocking_to_end(detail::blocking_executor(c), std::move(job)));
}

boost::asio::awaitable<commit_info> co_push_dir(client& c, std::string repo_id, fs::path dir, mixin_push_options opts) {
    return detail::co_public(co_push_dir_impl(c, std::move(repo_id), std::move(dir), std::move(opts)));
}

static boost::asio::awaitable<commit_info> co_push_dir_impl(client& c, std::string repo_id, fs::path dir, mixin_push_options opts) {
    if (opts.commit_message.empty()) opts.commit_message = "Push model using hfhub";
    commit_info info = co_await co_push_to_hub(c, std::move(repo_id), std::move(dir), std::move(opts));
    co_return info;
}

}  // namespace hfhub::mixin_detail
