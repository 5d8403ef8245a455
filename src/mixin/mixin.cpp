#include <hfhub/mixin.hpp>

#include "mixin/json_text.hpp"
#include "blocking_call.hpp"
#include "util/blocking.hpp"
#include "util/fs.hpp"
#include "boundary.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <future>
#include <iostream>

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

json::value read_config_file(const fs::path& file) {
    auto text = util::read_file(file);
    if (!text) config_error("", "cannot read " + file.string());
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

boost::asio::awaitable<void> co_on_own_thread(std::function<void(const std::atomic<bool>&)> work) {
    // One thread for this call: joined by the pool's destructor, once the work has ended.
    auto thread = std::make_shared<boost::asio::thread_pool>(1);
    co_await util::co_blocking_to_end(thread->get_executor(), std::move(work));
    thread->join();
}

void no_safetensors_weights(pretrained_source& src) {
    diagnostics d;
    d.url = src.id();
    if (src.find("pytorch_model.bin")) {
        d.client_message = src.id() + " has its weights only as pytorch_model.bin, a pickle hfhub does not load: "
                                      "convert them to model.safetensors";
        throw error(make_error_code(client_errc::unsupported_format), std::move(d));
    }
    d.client_message = src.id() + " has neither model.safetensors nor model.safetensors.index.json";
    throw error(make_error_code(hub_errc::entry_not_found), std::move(d));
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

namespace hfhub {

namespace fs = std::filesystem;

namespace {

// Runs `op` on the thread the client's blocking calls use, and waits for it. While waiting, a
// `stop` turned true cancels it there, so a loading hook's download ends as promptly as the
// coroutine that awaits the loading (a deadline, a cancelled caller).
template <class T>
T run_stoppable(client& c, boost::asio::awaitable<T> op, const std::atomic<bool>* stop) {
    namespace asio = boost::asio;
    auto ex = detail::blocking_access::enter(c);
    if (!stop) return asio::co_spawn(ex, std::move(op), asio::use_future).get();
    auto signal = std::make_shared<asio::cancellation_signal>();
    auto done = asio::co_spawn(ex, std::move(op), asio::bind_cancellation_slot(signal->slot(), asio::use_future));
    while (done.wait_for(std::chrono::milliseconds(10)) != std::future_status::ready) {
        if (stop->load()) {
            // Slots are not thread-safe: the signal is emitted on the operation's own thread.
            asio::post(ex, [signal] { signal->emit(asio::cancellation_type::terminal); });
            done.wait();
        }
    }
    return done.get();
}

[[noreturn]] void not_found(const std::string& where, const std::string& filename) {
    diagnostics d;
    d.url = where;
    d.client_message = filename + " is not in " + where;
    throw error(make_error_code(hub_errc::entry_not_found), std::move(d));
}

}  // namespace

pretrained_source::pretrained_source(client* c, std::string repo_id_or_dir, from_pretrained_options opts,
                                     const std::atomic<bool>* stop)
    : client_(c), id_(std::move(repo_id_or_dir)), opts_(std::move(opts)), stop_(stop) {
    std::error_code ec;
    local_ = fs::is_directory(id_, ec);
    if (!local_ && !client_) {
        diagnostics d;
        d.url = id_;
        d.client_message = "not a directory: " + id_ + " (loading from the Hub needs a client)";
        throw error(make_error_code(client_errc::invalid_path), std::move(d));
    }
}

void pretrained_source::check_stop() const {
    if (stop_ && stop_->load()) throw error(make_error_code(client_errc::cancelled), diagnostics());
}

void pretrained_source::warn(std::string_view message) const {
    if (opts_.on_warning) opts_.on_warning(message);
    else std::cerr << "hfhub: warning: " << message << "\n";
}

// Every later file from the commit the first one came from, as a repo may move meanwhile.
void pretrained_source::pin(const fs::path& fetched, const std::string& filename) {
    if (opts_.local_dir) return;
    fs::path dir = fetched;
    fs::path rel = fs::path(opts_.subfolder) / filename;
    for (const auto& part : rel.lexically_normal()) {
        if (!part.empty()) dir = dir.parent_path();
    }
    std::string commit = dir.filename().string();
    if (dir.parent_path().filename() == "snapshots" && commit.size() == 40) opts_.revision = commit;
}

std::optional<fs::path> pretrained_source::find(const std::string& filename) {
    check_stop();
    if (local_) {
        fs::path rel(filename);
        bool inside = !rel.empty() && rel.is_relative();
        for (const auto& part : rel) inside = inside && part != "..";
        if (!inside) {
            diagnostics d;
            d.url = filename;
            d.client_message = "not a relative path inside the model's directory: " + filename;
            throw error(make_error_code(client_errc::invalid_path), std::move(d));
        }
        fs::path p = fs::path(id_) / rel;
        std::error_code ec;
        if (!fs::is_regular_file(p, ec)) return std::nullopt;
        return p;
    }
    download_options o = opts_;
    try {
        fs::path p = run_stoppable(*client_, co_hf_hub_download(*client_, id_, filename, std::move(o)), stop_);
        pin(p, filename);
        return p;
    } catch (const error& e) {
        if (e.code() == hub_errc::entry_not_found) return std::nullopt;
        throw;
    }
}

fs::path pretrained_source::get(const std::string& filename) {
    if (auto p = find(filename)) return *p;
    not_found(id_, filename);
}

fs::path pretrained_source::snapshot(std::vector<std::string> allow_patterns) {
    check_stop();
    if (local_) return id_;
    snapshot_options o = opts_;
    if (o.allow_patterns.empty()) o.allow_patterns = std::move(allow_patterns);
    return run_stoppable(*client_, co_snapshot_download(*client_, id_, std::move(o)), stop_);
}

}  // namespace hfhub
