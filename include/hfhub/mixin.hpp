// model_hub_mixin<Derived>: save_pretrained / from_pretrained / push_to_hub for any model type,
// the C++ counterpart of Python's ModelHubMixin. safetensors_model_hub_mixin<Derived> does the
// weights too, for models that expose named tensors (PyTorchModelHubMixin's counterpart).
//
// Derived supplies (checked by the hub_model concept, with a static_assert per missing piece):
//   using config_type = ...;   a Boost.Describe'd struct, any type with Boost.JSON
//                              value_from/value_to (tag_invoke coders), or hfhub::no_config
//   const config_type& config() const;                           (not with no_config)
//   void save_weights(const std::filesystem::path& dir) const;   write the weights into dir
// and one loading hook (the first that D defines is used):
//   static Derived from_source(hfhub::pretrained_source& src, config_type cfg);  fetches the
//                              files it needs, file by file (Python's _from_pretrained)
//   static Derived from_dir(const std::filesystem::path& dir, config_type cfg, const hfhub::model_kwargs& kw);
//   static Derived from_dir(const std::filesystem::path& dir, config_type cfg);  build from dir
// and optionally:
//   static inline const hfhub::model_card_metadata hub_metadata{...};  library_name, tags, ...
//                              (hfhub::inherit_metadata(base::hub_metadata, {...}) extends a base's)
//   static inline const std::vector<std::string> weight_file_patterns{...};  the weight files:
//                              from_pretrained fetches only these and config.json for from_dir,
//                              and a push deletes those remote ones the new save did not write
//   hfhub::model_card generate_model_card(const hfhub::template_vars&) const;  replaces the card
//
// A directory written by save_pretrained holds config.json (json.dumps(config, sort_keys=True,
// indent=2), no trailing newline, as Python writes it), the weights, and README.md (generated
// only when there is none: an existing card is never overwritten).
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/error.hpp>
#include <hfhub/model_card.hpp>
#include <hfhub/safetensors.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/json/object.hpp>
#include <boost/mp11/algorithm.hpp>

#include <atomic>
#include <concepts>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace hfhub {

// A model without a config: no config.json is written or read.
struct no_config {};

// Python's **model_kwargs: an entry naming a config field overrides config.json's value, and
// all of them reach a loading hook that takes them (from_dir's third argument, or
// pretrained_source::kwargs()), e.g. {"map_location": "cpu", "strict": true}.
using model_kwargs = boost::json::object;

// from_pretrained's options: what the downloads take (token, revision, cache_dir,
// force_download, local_files_only, proxies; allow/ignore patterns where the hook takes a
// directory), plus the model_kwargs.
struct from_pretrained_options : snapshot_options {
    model_kwargs kwargs;
    // Where warnings go (a missing config.json); default: a line on stderr.
    std::function<void(std::string_view)> on_warning;
};

// Where a model loads from: a local directory, or a repo fetched file by file through the cache
// with from_pretrained's options, as Python's _from_pretrained does with hf_hub_download. The
// first file fetched pins the revision to its commit, so every file comes from one commit.
// Its calls block: co_from_pretrained runs the loading off the I/O thread, on a thread of its own.
class pretrained_source {
public:
    // `c` may be null for a local directory. `stop`, when given, makes the next fetch throw
    // client_errc::cancelled once it is true.
    pretrained_source(client* c, std::string repo_id_or_dir, from_pretrained_options opts,
                      const std::atomic<bool>* stop = nullptr);

    bool is_local() const noexcept { return local_; }
    const std::string& id() const noexcept { return id_; }  // the repo id or the directory
    const model_kwargs& kwargs() const noexcept { return opts_.kwargs; }
    const from_pretrained_options& options() const noexcept { return opts_; }

    // The file's local path: in the directory, or downloaded through the cache. Errors:
    // hub_errc::entry_not_found when there is no such file (in a directory too), and the
    // download's errors.
    std::filesystem::path get(const std::string& filename);
    // get, or nullopt when the file does not exist.
    std::optional<std::filesystem::path> find(const std::string& filename);
    // The directory, or a snapshot of the files matching `allow_patterns` (all when empty; the
    // options' own allow_patterns win when given).
    std::filesystem::path snapshot(std::vector<std::string> allow_patterns = {});
    void warn(std::string_view message) const;

private:
    void check_stop() const;
    void pin(const std::filesystem::path& fetched, const std::string& filename);

    client* client_;
    std::string id_;
    from_pretrained_options opts_;
    const std::atomic<bool>* stop_;
    bool local_ = false;
};

// push_to_hub's options: commit_message, is_private, create_pr, revision (the branch), token,
// allow/ignore/delete patterns. The README generated for the push replaces the repo's, as in
// Python; keep a hand-written card by saving it beside the model and using push_folder.
using mixin_push_options = push_options;

namespace mixin_detail {

template <class T>
concept described_struct = std::is_class_v<T> && boost::describe::has_describe_members<T>::value;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class A>
struct is_vector<std::vector<bool, A>> : std::false_type {};  // Boost.JSON converts it
template <class T>
struct is_string_map : std::false_type {};
template <class T, class C, class A>
struct is_string_map<std::map<std::string, T, C, A>> : std::true_type {};

// client_errc::invalid_argument: "config.json: field 'a.b': <what>".
[[noreturn]] void config_error(const std::string& field, const std::string& what);
std::string kind_name(const boost::json::value& v);  // "a string", "an integer", ...

template <class T>
boost::json::value encode(const T& v) {
    if constexpr (described_struct<T>) {
        boost::json::object o;
        using members = boost::describe::describe_members<T, boost::describe::mod_public | boost::describe::mod_inherited>;
        boost::mp11::mp_for_each<members>([&](auto d) { o[d.name] = encode(v.*d.pointer); });
        return o;
    } else if constexpr (is_optional<T>::value) {
        if (!v) return nullptr;
        return encode(*v);
    } else if constexpr (is_vector<T>::value) {
        boost::json::array a;
        for (const auto& e : v) a.push_back(encode(e));
        return a;
    } else if constexpr (is_string_map<T>::value) {
        boost::json::object o;
        for (const auto& [k, e] : v) o[k] = encode(e);
        return o;
    } else {
        static_assert(boost::json::has_value_from<T>::value,
                      "hfhub: a config field's type needs Boost.Describe or a tag_invoke value_from coder");
        return boost::json::value_from(v);
    }
}

template <class T>
T decode(const boost::json::value& v, const std::string& field) {
    if constexpr (described_struct<T>) {
        if (!v.is_object()) config_error(field, "expected an object, got " + kind_name(v));
        T out{};
        using members = boost::describe::describe_members<T, boost::describe::mod_public | boost::describe::mod_inherited>;
        boost::mp11::mp_for_each<members>([&](auto d) {
            std::string name = field.empty() ? std::string(d.name) : field + "." + d.name;
            // Absent keeps the field's default, as Python falls back to __init__'s defaults:
            // configs written by an older struct, or by Python, still load.
            if (const boost::json::value* f = v.get_object().if_contains(d.name))
                out.*d.pointer = decode<std::remove_cvref_t<decltype(out.*d.pointer)>>(*f, name);
        });
        return out;
    } else if constexpr (is_optional<T>::value) {
        if (v.is_null()) return T{};
        return T{decode<typename T::value_type>(v, field)};
    } else if constexpr (is_vector<T>::value) {
        if (!v.is_array()) config_error(field, "expected an array, got " + kind_name(v));
        T out;
        const auto& a = v.get_array();
        for (std::size_t i = 0; i < a.size(); ++i)
            out.push_back(decode<typename T::value_type>(a[i], field + "[" + std::to_string(i) + "]"));
        return out;
    } else if constexpr (is_string_map<T>::value) {
        if (!v.is_object()) config_error(field, "expected an object, got " + kind_name(v));
        T out;
        for (const auto& kv : v.get_object())
            out.emplace(std::string(kv.key()), decode<typename T::mapped_type>(kv.value(), field + "." + std::string(kv.key())));
        return out;
    } else {
        static_assert(boost::json::has_value_to<T>::value,
                      "hfhub: a config field's type needs Boost.Describe or a tag_invoke value_to coder");
        std::string problem;
        try {
            return boost::json::value_to<T>(v);
        } catch (const std::exception& e) {
            problem = e.what();
        }
        config_error(field, "wrong type or value (" + kind_name(v) + "): " + problem);
    }
}

// Non-template parts, compiled once (src/mixin/mixin.cpp).
std::string dump_config(const boost::json::value& config);  // Python's sort_keys=True, indent=2
void write_config(const std::filesystem::path& dir, const boost::json::value& config);  // config.json
boost::json::value read_config_file(const std::filesystem::path& file);  // parsed
void remove_config(const std::filesystem::path& dir);
void write_card_if_missing(const std::filesystem::path& dir, const model_card& card);
bool has_card(const std::filesystem::path& dir);

// Runs `work` on a thread of its own and resumes the caller once it has ended (also when the
// caller is cancelled: then `stop` turns true). Not the blocking pool: loading hooks wait on
// downloads, which need the pool's threads.
boost::asio::awaitable<void> co_on_own_thread(std::function<void(const std::atomic<bool>& stop)> work);

// Overrides config fields named in `kw` (all of a described struct's members; for other config
// types, the keys config.json has). Returns whether any applied.
template <class C>
bool apply_kwargs(boost::json::object& cfg, const model_kwargs& kw) {
    bool any = false;
    if constexpr (described_struct<C>) {
        using members = boost::describe::describe_members<C, boost::describe::mod_public | boost::describe::mod_inherited>;
        boost::mp11::mp_for_each<members>([&](auto d) {
            if (const auto* v = kw.if_contains(d.name)) cfg[d.name] = *v, any = true;
        });
    } else {
        for (const auto& e : kw)
            if (cfg.contains(e.key())) cfg[e.key()] = e.value(), any = true;
    }
    return any;
}

// config.json through `src` (a warning and the defaults when it has none), with the kwargs
// applied.
template <class C>
C load_config(pretrained_source& src) {
    boost::json::value v = boost::json::object();
    auto file = src.find("config.json");
    if (file) v = read_config_file(*file);
    else src.warn("config.json not found in " + src.id() + ": the model's config is built from its defaults" +
                  (src.kwargs().empty() ? std::string() : std::string(" and model_kwargs")));
    if (!v.is_object()) {
        if constexpr (described_struct<C>) config_error("", "expected an object, got " + kind_name(v));
        else return decode<C>(v, "");
    }
    bool overridden = apply_kwargs<C>(v.get_object(), src.kwargs());
    if constexpr (!described_struct<C> && std::is_default_constructible_v<C>)
        if (!file && !overridden) return C{};
    return decode<C>(v, "");
}

// A fresh directory under the system temp dir, removed with everything in it after destruction
// (on the client's blocking pool; the client must outlive it).
class temp_dir {
public:
    explicit temp_dir(client& c);
    ~temp_dir();
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
    boost::asio::any_io_executor pool_;
};

boost::asio::awaitable<commit_info> co_push_dir(client& c, std::string repo_id, std::filesystem::path dir,
                                                mixin_push_options opts);

// Throws for a source without safetensors weights: unsupported_format when it has
// pytorch_model.bin, else entry_not_found.
[[noreturn]] void no_safetensors_weights(pretrained_source& src);

// Runs `work` on the client's blocking pool, so that serialising and syncing the weights never
// stalls the caller's I/O thread, and resumes the caller once it has finished: even a cancelled
// caller waits, since `work` writes from the caller's objects. What it throws comes back typed
// (an hfhub::error for file system errors, a user's own exception as it is).
boost::asio::awaitable<void> co_off_io_thread(client& c, std::function<void()> work);

// Files a new save replaces: a push deletes the remote ones it did not write (upload_folder's
// delete_patterns), so weights never mix across versions or layouts.
template <class D>
concept has_weight_patterns = requires {
    { D::weight_file_patterns } -> std::convertible_to<const std::vector<std::string>&>;
};

template <class D>
void add_weight_patterns(mixin_push_options& opts) {
    if constexpr (has_weight_patterns<D>)
        for (const auto& p : D::weight_file_patterns) opts.delete_patterns.push_back(p);
}

template <class D>
concept has_metadata = requires {
    { D::hub_metadata } -> std::convertible_to<const model_card_metadata&>;
};

template <class D>
model_card_metadata metadata_of() {
    model_card_metadata m;
    if constexpr (has_metadata<D>) m = D::hub_metadata;
    // The tag that says which mixin wrote the card, as Python's PyTorch mixin adds its own.
    if constexpr (requires { D::hub_mixin_tag; }) m.tags.emplace_back(D::hub_mixin_tag);
    return m;
}

// C is D's config_type (a concept, so that naming it in a member template's constraint does not
// need D complete when the class template is instantiated).
template <class C, class D>
concept config_of = std::same_as<C, typename D::config_type>;

template <class D>
concept loads_from_source = requires(pretrained_source& s, typename D::config_type cfg) {
    { D::from_source(s, std::move(cfg)) } -> std::same_as<D>;
};
template <class D>
concept loads_from_dir_kwargs = requires(const std::filesystem::path& dir, typename D::config_type cfg, const model_kwargs& kw) {
    { D::from_dir(dir, std::move(cfg), kw) } -> std::same_as<D>;
};
template <class D>
concept loads_from_dir = requires(const std::filesystem::path& dir, typename D::config_type cfg) {
    { D::from_dir(dir, std::move(cfg)) } -> std::same_as<D>;
};

// What a from_dir hook gets from a repo: config.json and the weight files when D names them,
// else everything.
template <class D>
std::vector<std::string> dir_patterns() {
    if constexpr (has_weight_patterns<D>) {
        std::vector<std::string> p{"config.json"};
        for (const auto& w : D::weight_file_patterns) p.push_back(w);
        return p;
    } else {
        return {};
    }
}

}  // namespace mixin_detail

// A config type the mixin can write to config.json and read back.
template <class T>
concept config_codable = std::same_as<T, no_config> || mixin_detail::described_struct<T> ||
                         (boost::json::has_value_from<T>::value && boost::json::has_value_to<T>::value);

// What model_hub_mixin<D> needs from D.
template <class D>
concept hub_model = requires { typename D::config_type; } && config_codable<typename D::config_type> &&
                    requires(const D& d, const std::filesystem::path& dir) { d.save_weights(dir); } &&
                    (mixin_detail::loads_from_source<D> || mixin_detail::loads_from_dir_kwargs<D> ||
                     mixin_detail::loads_from_dir<D>) &&
                    (std::same_as<typename D::config_type, no_config> || requires(const D& d) {
                        { d.config() } -> std::convertible_to<const typename D::config_type&>;
                    });

// Writes `cfg` as Python's json.dumps(cfg, sort_keys=True, indent=2) and reads it back; the
// pieces save_pretrained and from_pretrained use, for the helpers approach without the mixin.
template <class Config>
std::string config_to_json_text(const Config& cfg) {
    return mixin_detail::dump_config(mixin_detail::encode(cfg));
}

// Fields config.json lacks keep their defaults; keys it has that the type lacks are ignored.
// Errors: client_errc::invalid_argument naming a mistyped field ("config.json: field 'a.b': ...").
template <class Config>
Config config_from_json(const boost::json::value& v) {
    return mixin_detail::decode<Config>(v, "");
}

template <class Derived>
class model_hub_mixin {
public:
    // save_pretrained's options (Python's config, push_to_hub, repo_id, model_card_kwargs and
    // **push_to_hub_kwargs).
    struct save_options {
        std::optional<typename Derived::config_type> config;  // written instead of the model's
        template_vars card_vars;                               // the card template's placeholders
        bool push_to_hub = false;  // then commit the directory (needs the overload with a client)
        std::string repo_id;       // default: the directory's name
        mixin_push_options push;   // commit_message, is_private, create_pr, revision, token, ...
    };

    // Writes config.json, the weights (save_weights) and README.md (unless there is one) into
    // `dir`, creating it. A config.json left there before is replaced; the weights hook may
    // write its own. `card_vars` fill the card template's placeholders.
    void save_pretrained(const std::filesystem::path& dir, const template_vars& card_vars = {}) const {
        check();
        write_dir(dir, card_vars, nullptr);
    }
    void save_pretrained(const std::filesystem::path& dir, use_defaults) const { save_pretrained(dir); }
    // With a config that replaces the model's. push_to_hub needs the overload with a client
    // (client_errc::invalid_argument here, before anything is written).
    void save_pretrained(const std::filesystem::path& dir, const save_options& o) const {
        check();
        if (o.push_to_hub) mixin_detail::config_error("", "save_pretrained with push_to_hub needs a client: save_pretrained(client, dir, options)");
        write_dir(dir, o.card_vars, o.config ? &*o.config : nullptr);
    }
    // Then, with push_to_hub, one commit of the directory to repo_id (created when missing).
    // Blocking: not on the client's executor thread (would_deadlock).
    std::optional<commit_info> save_pretrained(client& c, const std::filesystem::path& dir, const save_options& o) const {
        check();
        write_dir(dir, o.card_vars, o.config ? &*o.config : nullptr);
        if (!o.push_to_hub) return std::nullopt;
        auto opts = push_options_for(o.push);
        return hfhub::push_to_hub(c, repo_for(o, dir), dir, std::move(opts));
    }

    // The card save_pretrained writes: from Derived::hub_metadata. Derived may define its own,
    // and call this one first to extend its result (card.data(), card.text()).
    model_card generate_model_card(const template_vars& vars = {}) const {
        return hfhub::generate_model_card(mixin_detail::metadata_of<Derived>(), vars);
    }

    // From a local directory written by save_pretrained (no network).
    static Derived from_pretrained(const std::filesystem::path& dir, from_pretrained_options opts = from_pretrained_options()) {
        check();
        pretrained_source src(nullptr, dir.string(), std::move(opts));
        return load(src);
    }

    // From a local directory, when `repo_id_or_dir` is one, else from the Hub through the cache.
    // Only config.json and what the loading hook asks for are fetched (see the top of this
    // file). Without a config.json the config is built from its defaults and opts.kwargs, with
    // a warning. Errors: the downloads', and invalid_argument for a mistyped config field.
    // Blocking: not on the client's executor thread (would_deadlock).
    static Derived from_pretrained(client& c, std::string repo_id_or_dir, from_pretrained_options opts = from_pretrained_options()) {
        check();
        pretrained_source src(&c, std::move(repo_id_or_dir), std::move(opts));
        return load(src);
    }

    // The same, loading on a thread of its own: the hooks' reads and the weights' parsing never
    // stall the awaiting I/O thread. A cancelled caller resumes once the loading has stopped
    // (before its next file, or after the hook), with client_errc::cancelled.
    // (co_spawn with use_future or a handler needs a default-constructible Derived; awaiting
    // it from a coroutine does not.)
    static boost::asio::awaitable<Derived> co_from_pretrained(client& c, std::string repo_id_or_dir,
                                                              from_pretrained_options opts = from_pretrained_options()) {
        check();
        std::optional<Derived> out;
        std::function<void(const std::atomic<bool>&)> job = [&](const std::atomic<bool>& stop) {
            pretrained_source src(&c, std::move(repo_id_or_dir), std::move(opts), &stop);
            out.emplace(load(src));
        };
        co_await mixin_detail::co_on_own_thread(std::move(job));
        co_return std::move(*out);
    }
    // `{}` as the options: the defaults (hfhub::use_defaults).
    static boost::asio::awaitable<Derived> co_from_pretrained(client& c, std::string repo_id_or_dir, use_defaults) {
        return co_from_pretrained(c, std::move(repo_id_or_dir));
    }

    // save_pretrained on the client's blocking pool: serialising and syncing the weights never
    // stall the awaiting I/O thread, which keeps serving its other work meanwhile. It writes the
    // same files as save_pretrained. The model must outlive the operation, and is not to be
    // changed meanwhile: a cancelled caller resumes once the save has ended (it reads from the
    // model), with client_errc::cancelled only if something after it noticed. Errors: what
    // save_pretrained throws, file system errors as hfhub::error(io_error).
    boost::asio::awaitable<void> co_save_pretrained(client& c, std::filesystem::path dir, template_vars card_vars = template_vars()) const {
        check();
        std::function<void()> save = [this, dir = std::move(dir), vars = std::move(card_vars)] { write_dir(dir, vars, nullptr); };
        return mixin_detail::co_off_io_thread(c, std::move(save));
    }
    boost::asio::awaitable<void> co_save_pretrained(client& c, std::filesystem::path dir, use_defaults) const {
        return co_save_pretrained(c, std::move(dir));
    }
    // With save_options: the save, then the push when o.push_to_hub (its commit, else nullopt).
    boost::asio::awaitable<std::optional<commit_info>> co_save_pretrained(client& c, std::filesystem::path dir, save_options o) const {
        check();
        std::function<void()> save = [this, &dir, &o] { write_dir(dir, o.card_vars, o.config ? &*o.config : nullptr); };
        co_await mixin_detail::co_off_io_thread(c, std::move(save));
        if (!o.push_to_hub) co_return std::nullopt;
        auto opts = push_options_for(o.push);
        std::string repo = repo_for(o, dir);
        commit_info info = co_await hfhub::co_push_to_hub(c, std::move(repo), dir, std::move(opts));
        co_return info;
    }

    // co_save_pretrained into a temp dir, then one commit of it (creating the repo if needed).
    // The model must outlive the operation.
    boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, mixin_push_options opts = mixin_push_options(),
                                                       template_vars card_vars = template_vars()) const {
        check();
        return co_push(c, std::move(repo_id), std::move(opts), std::move(card_vars),
                       std::optional<typename Derived::config_type>());
    }
    boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, use_defaults,
                                                       template_vars card_vars = template_vars()) const {
        return co_push_to_hub(c, std::move(repo_id), mixin_push_options(), std::move(card_vars));
    }
    // With a config that replaces the model's in the pushed config.json (Python's config=).
    // (Templates only so that the declaration does not need Derived complete.)
    template <class Config>
        requires mixin_detail::config_of<Config, Derived>
    boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, Config config,
                                                       mixin_push_options opts = mixin_push_options(),
                                                       template_vars card_vars = template_vars()) const {
        check();
        return co_push(c, std::move(repo_id), std::move(opts), std::move(card_vars), std::optional<Config>(std::move(config)));
    }

    commit_info push_to_hub(client& c, std::string repo_id, mixin_push_options opts = mixin_push_options(),
                            const template_vars& card_vars = {}) const {
        check();
        return push(c, std::move(repo_id), std::move(opts), card_vars, static_cast<const typename Derived::config_type*>(nullptr));
    }
    template <class Config>
        requires mixin_detail::config_of<Config, Derived>
    commit_info push_to_hub(client& c, std::string repo_id, const Config& config, mixin_push_options opts = mixin_push_options(),
                            const template_vars& card_vars = {}) const {
        check();
        return push(c, std::move(repo_id), std::move(opts), card_vars, &config);
    }

    // Stateless: lets Derived default its own operator==.
    bool operator==(const model_hub_mixin&) const = default;

private:
    const Derived& derived() const { return static_cast<const Derived&>(*this); }

    template <class C>
    void write_dir(const std::filesystem::path& dir, const template_vars& card_vars, const C* config) const {
        const Derived& self = derived();
        std::filesystem::create_directories(dir);
        mixin_detail::remove_config(dir);
        self.save_weights(dir);
        if constexpr (!std::same_as<typename Derived::config_type, no_config>) {
            if (!std::filesystem::exists(dir / "config.json"))
                mixin_detail::write_config(dir, mixin_detail::encode(config ? *config : self.config()));
        }
        if (!mixin_detail::has_card(dir)) mixin_detail::write_card_if_missing(dir, self.generate_model_card(card_vars));
    }
    void write_dir(const std::filesystem::path& dir, const template_vars& card_vars, std::nullptr_t) const {
        write_dir(dir, card_vars, static_cast<const typename Derived::config_type*>(nullptr));
    }

    static mixin_push_options push_options_for(mixin_push_options opts) {
        mixin_detail::add_weight_patterns<Derived>(opts);
        if (opts.commit_message.empty()) opts.commit_message = "Push model using hfhub";
        return opts;
    }
    static std::string repo_for(const save_options& o, const std::filesystem::path& dir) {
        if (!o.repo_id.empty()) return o.repo_id;
        auto name = std::filesystem::absolute(dir).lexically_normal().filename();
        if (name.empty()) name = std::filesystem::absolute(dir).lexically_normal().parent_path().filename();
        return name.string();
    }

    template <class C>
    commit_info push(client& c, std::string repo_id, mixin_push_options opts, const template_vars& card_vars, const C* config) const {
        mixin_detail::temp_dir tmp(c);
        write_dir(tmp.path(), card_vars, config);
        return hfhub::push_to_hub(c, std::move(repo_id), tmp.path(), push_options_for(std::move(opts)));
    }

    template <class C>
    boost::asio::awaitable<commit_info> co_push(client& c, std::string repo_id, mixin_push_options opts, template_vars card_vars,
                                                std::optional<C> config) const {
        mixin_detail::temp_dir tmp(c);
        std::function<void()> save = [this, &tmp, &card_vars, &config] {
            write_dir(tmp.path(), card_vars, config ? &*config : nullptr);
        };
        co_await mixin_detail::co_off_io_thread(c, std::move(save));
        std::filesystem::path dir = tmp.path();
        auto po = push_options_for(std::move(opts));
        commit_info info = co_await mixin_detail::co_push_dir(c, std::move(repo_id), std::move(dir), std::move(po));
        co_return info;
    }

    static Derived load(pretrained_source& src) {
        using config_type = typename Derived::config_type;
        config_type cfg{};
        if constexpr (!std::same_as<config_type, no_config>) cfg = mixin_detail::load_config<config_type>(src);
        if constexpr (mixin_detail::loads_from_source<Derived>) {
            return Derived::from_source(src, std::move(cfg));
        } else {
            std::filesystem::path dir = src.snapshot(mixin_detail::dir_patterns<Derived>());
            if constexpr (mixin_detail::loads_from_dir_kwargs<Derived>)
                return Derived::from_dir(dir, std::move(cfg), src.kwargs());
            else
                return Derived::from_dir(dir, std::move(cfg));
        }
    }

    // Called where Derived is complete; one readable message per missing piece.
    static void check() {
        static_assert(requires { typename Derived::config_type; },
                      "hfhub::model_hub_mixin<D>: D must declare `using config_type = ...;` (a BOOST_DESCRIBE_STRUCT "
                      "type, a type with Boost.JSON value_from/value_to, or hfhub::no_config)");
        if constexpr (requires { typename Derived::config_type; }) {
            static_assert(config_codable<typename Derived::config_type>,
                          "hfhub::model_hub_mixin<D>: D::config_type must be described with BOOST_DESCRIBE_STRUCT or "
                          "have tag_invoke value_from/value_to coders");
            static_assert(std::same_as<typename Derived::config_type, no_config> || requires(const Derived& d) {
                { d.config() } -> std::convertible_to<const typename Derived::config_type&>;
            }, "hfhub::model_hub_mixin<D>: D must define `const config_type& config() const`");
            static_assert(requires(const Derived& d, const std::filesystem::path& dir) { d.save_weights(dir); },
                          "hfhub::model_hub_mixin<D>: D must define `void save_weights(const std::filesystem::path& dir) const`");
            static_assert(mixin_detail::loads_from_source<Derived> || mixin_detail::loads_from_dir_kwargs<Derived> ||
                              mixin_detail::loads_from_dir<Derived>,
                          "hfhub::model_hub_mixin<D>: D must define a loading hook: `static D from_dir(const "
                          "std::filesystem::path& dir, config_type cfg)` (optionally with a third argument `const "
                          "hfhub::model_kwargs&`), or `static D from_source(hfhub::pretrained_source&, config_type cfg)`");
            static_assert(hub_model<Derived>);
        }
    }
};

// For models that expose named tensors. Derived supplies, besides config_type and config():
//   hfhub::safetensors::tensor_list named_tensors() const;        views of its weights
//   static Derived from_config(config_type cfg);                  an uninitialised model
//                              (or from_config(config_type, const hfhub::model_kwargs&))
//   void load_tensors(const hfhub::safetensors::checkpoint& ckpt);  copy the weights in
//                              (or load_tensors(ckpt, const hfhub::model_kwargs&), e.g. for
//                              Python's strict=)
// and optionally `static constexpr std::uint64_t max_shard_size = ...;` to shard.
// Weights go to one model.safetensors, as Python's PyTorchModelHubMixin writes and reads them,
// with __metadata__ {"format": "pt"}. With max_shard_size, bigger weights go to shards plus
// model.safetensors.index.json the way transformers writes them (transformers reads those;
// PyTorchModelHubMixin does not). Loading fetches config.json and the weights only: the single
// file, else the index and its shards.
template <class Derived>
class safetensors_model_hub_mixin : public model_hub_mixin<Derived> {
public:
    // Added to the card's tags, beside model_hub_mixin.
    static constexpr std::string_view hub_mixin_tag = "safetensors_model_hub_mixin";

    // A push deletes the repo's weight files that the new save did not write.
    static inline const std::vector<std::string> weight_file_patterns = {
        "model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json"};

    void save_weights(const std::filesystem::path& dir) const {
        static_assert(requires(const Derived& d) {
            { d.named_tensors() } -> std::convertible_to<safetensors::tensor_list>;
        }, "hfhub::safetensors_model_hub_mixin<D>: D must define `hfhub::safetensors::tensor_list named_tensors() const`");
        safetensors::save_sharded(static_cast<const Derived&>(*this).named_tensors(), dir, weights_options());
    }

    // What save_weights writes with: one file of any size unless Derived sets max_shard_size
    // (safetensors::save_sharded alone shards at 5 GB), and the "pt" format metadata.
    static safetensors::shard_options weights_options() {
        safetensors::shard_options o;
        o.max_shard_size = std::numeric_limits<std::uint64_t>::max();
        if constexpr (requires { Derived::max_shard_size; }) o.max_shard_size = Derived::max_shard_size;
        o.metadata = safetensors::metadata_map{{"format", "pt"}};
        return o;
    }

    // model.safetensors, else model.safetensors.index.json and its shards. Errors:
    // client_errc::unsupported_format when the weights are only pytorch_model.bin (a pickle),
    // hub_errc::entry_not_found when there are none; the downloads' and safetensors' errors.
    template <class Config>
    static Derived from_source(pretrained_source& src, Config cfg) {
        std::filesystem::path weights;
        if (auto single = src.find("model.safetensors")) {
            weights = *single;
        } else if (auto index = src.find("model.safetensors.index.json")) {
            for (const auto& shard : safetensors::index_shards(*index)) src.get(shard);
            weights = *index;
        } else {
            mixin_detail::no_safetensors_weights(src);
        }
        return from_checkpoint(safetensors::checkpoint::open(weights), std::move(cfg), src.kwargs());
    }

    template <class Config>
    static Derived from_dir(const std::filesystem::path& dir, Config cfg) {
        return from_checkpoint(safetensors::checkpoint::open(dir), std::move(cfg), model_kwargs());
    }

    bool operator==(const safetensors_model_hub_mixin&) const = default;

private:
    template <class Config>
    static Derived from_checkpoint(const safetensors::checkpoint& ckpt, Config cfg, const model_kwargs& kw) {
        static_assert(requires(Config c) { { Derived::from_config(std::move(c)) } -> std::same_as<Derived>; } ||
                          requires(Config c) { { Derived::from_config(std::move(c), kw) } -> std::same_as<Derived>; },
                      "hfhub::safetensors_model_hub_mixin<D>: D must define `static D from_config(config_type cfg)`");
        static_assert(requires(Derived& d, const safetensors::checkpoint& ck) { d.load_tensors(ck); } ||
                          requires(Derived& d, const safetensors::checkpoint& ck) { d.load_tensors(ck, kw); },
                      "hfhub::safetensors_model_hub_mixin<D>: D must define "
                      "`void load_tensors(const hfhub::safetensors::checkpoint&)`");
        Derived d = [&] {
            if constexpr (requires { Derived::from_config(std::move(cfg), kw); })
                return Derived::from_config(std::move(cfg), kw);
            else
                return Derived::from_config(std::move(cfg));
        }();
        if constexpr (requires { d.load_tensors(ckpt, kw); })
            d.load_tensors(ckpt, kw);
        else
            d.load_tensors(ckpt);
        return d;
    }
};

}  // namespace hfhub
