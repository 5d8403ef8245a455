// model_hub_mixin<Derived>: save_pretrained / from_pretrained / push_to_hub for any model type,
// the C++ counterpart of Python's ModelHubMixin. safetensors_model_hub_mixin<Derived> does the
// weights too, for models that expose named tensors (PyTorchModelHubMixin's counterpart).
//
// Derived supplies (checked by the hub_model concept, with a static_assert per missing piece):
//   using config_type = ...;   a Boost.Describe'd struct, any type with Boost.JSON
//                              value_from/value_to (tag_invoke coders), or hfhub::no_config
//   const config_type& config() const;                           (not with no_config)
//   void save_weights(const std::filesystem::path& dir) const;   write the weights into dir
//   static Derived from_dir(const std::filesystem::path& dir, config_type cfg);  build from dir
// and optionally:
//   static inline const hfhub::model_card_metadata hub_metadata{...};  library_name, tags, ...
//   static inline const std::vector<std::string> weight_file_patterns{...};  remote files a push
//                              replaces: those the new save did not write are deleted
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
#include <boost/mp11/algorithm.hpp>

#include <concepts>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace hfhub {

// A model without a config: no config.json is written or read.
struct no_config {};

// from_pretrained's options: what snapshot_download takes (token, revision, cache_dir,
// force_download, local_files_only, proxies, allow/ignore patterns, ...).
struct from_pretrained_options : snapshot_options {};

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
            const boost::json::value* f = v.get_object().if_contains(d.name);
            if (!f) config_error(name, "missing");
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
boost::json::value read_config(const std::filesystem::path& dir);  // config.json, parsed
void remove_config(const std::filesystem::path& dir);
void write_card_if_missing(const std::filesystem::path& dir, const model_card& card);
bool has_card(const std::filesystem::path& dir);

// A local directory as is, else a snapshot of the repo (by revision, honouring every option).
boost::asio::awaitable<std::filesystem::path> co_resolve_pretrained(client& c, std::string repo_id_or_dir,
                                                                    from_pretrained_options opts);
std::filesystem::path resolve_pretrained(client& c, std::string repo_id_or_dir, from_pretrained_options opts);

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
    if constexpr (has_metadata<D>)
        return D::hub_metadata;
    else
        return {};
}

}  // namespace mixin_detail

// A config type the mixin can write to config.json and read back.
template <class T>
concept config_codable = std::same_as<T, no_config> || mixin_detail::described_struct<T> ||
                         (boost::json::has_value_from<T>::value && boost::json::has_value_to<T>::value);

// What model_hub_mixin<D> needs from D.
template <class D>
concept hub_model = requires { typename D::config_type; } && config_codable<typename D::config_type> &&
                    requires(const D& d, const std::filesystem::path& dir, typename D::config_type cfg) {
                        d.save_weights(dir);
                        { D::from_dir(dir, std::move(cfg)) } -> std::same_as<D>;
                    } &&
                    (std::same_as<typename D::config_type, no_config> || requires(const D& d) {
                        { d.config() } -> std::convertible_to<const typename D::config_type&>;
                    });

// Writes `cfg` as Python's json.dumps(cfg, sort_keys=True, indent=2) and reads it back; the
// pieces save_pretrained and from_pretrained use, for the helpers approach without the mixin.
template <class Config>
std::string config_to_json_text(const Config& cfg) {
    return mixin_detail::dump_config(mixin_detail::encode(cfg));
}

// Errors: client_errc::invalid_argument naming the field ("config.json: field 'a.b': missing").
template <class Config>
Config config_from_json(const boost::json::value& v) {
    return mixin_detail::decode<Config>(v, "");
}

template <class Derived>
class model_hub_mixin {
public:
    // Writes config.json, the weights (save_weights) and README.md (unless there is one) into
    // `dir`, creating it. A config.json left there before is replaced; the weights hook may
    // write its own. `card_vars` fill the card template's placeholders.
    void save_pretrained(const std::filesystem::path& dir, const template_vars& card_vars = {}) const {
        check();
        const Derived& self = derived();
        std::filesystem::create_directories(dir);
        mixin_detail::remove_config(dir);
        self.save_weights(dir);
        if constexpr (!std::same_as<typename Derived::config_type, no_config>) {
            if (!std::filesystem::exists(dir / "config.json"))
                mixin_detail::write_config(dir, mixin_detail::encode(self.config()));
        }
        if (!mixin_detail::has_card(dir)) mixin_detail::write_card_if_missing(dir, self.generate_model_card(card_vars));
    }

    // The card save_pretrained writes: from Derived::hub_metadata. Derived may define its own.
    model_card generate_model_card(const template_vars& vars = {}) const {
        return hfhub::generate_model_card(mixin_detail::metadata_of<Derived>(), vars);
    }

    // From a local directory written by save_pretrained (no network).
    static Derived from_pretrained(const std::filesystem::path& dir) {
        check();
        return load(dir);
    }

    // From a local directory, when `repo_id_or_dir` is one, else from the Hub through the cache
    // (snapshot_download with `opts`). Errors: the download's, and invalid_argument for a
    // missing or mistyped config field. Blocking: not on the client's executor thread (would_deadlock).
    static Derived from_pretrained(client& c, std::string repo_id_or_dir, from_pretrained_options opts = from_pretrained_options()) {
        check();
        return load(mixin_detail::resolve_pretrained(c, std::move(repo_id_or_dir), std::move(opts)));
    }

    // (co_spawn with use_future or a handler needs a default-constructible Derived; awaiting
    // it from a coroutine does not.)
    static boost::asio::awaitable<Derived> co_from_pretrained(client& c, std::string repo_id_or_dir,
                                                              from_pretrained_options opts = from_pretrained_options()) {
        check();
        std::filesystem::path dir = co_await mixin_detail::co_resolve_pretrained(c, std::move(repo_id_or_dir), std::move(opts));
        co_return load(dir);
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
        std::function<void()> save = [this, dir = std::move(dir), vars = std::move(card_vars)] { save_pretrained(dir, vars); };
        return mixin_detail::co_off_io_thread(c, std::move(save));
    }

    // co_save_pretrained into a temp dir, then one commit of it (creating the repo if needed).
    // The model must outlive the operation.
    boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, mixin_push_options opts = mixin_push_options(),
                                                       template_vars card_vars = template_vars()) const {
        check();
        mixin_detail::temp_dir tmp(c);
        // Named: g++ 12 mishandles temporaries in a co_await expression.
        auto save = co_save_pretrained(c, tmp.path(), std::move(card_vars));
        co_await std::move(save);
        std::filesystem::path dir = tmp.path();
        mixin_detail::add_weight_patterns<Derived>(opts);
        commit_info info = co_await mixin_detail::co_push_dir(c, std::move(repo_id), std::move(dir), std::move(opts));
        co_return info;
    }
    boost::asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, use_defaults,
                                                       template_vars card_vars = template_vars()) const {
        return co_push_to_hub(c, std::move(repo_id), mixin_push_options(), std::move(card_vars));
    }

    commit_info push_to_hub(client& c, std::string repo_id, mixin_push_options opts = mixin_push_options(),
                            const template_vars& card_vars = {}) const {
        check();
        mixin_detail::temp_dir tmp(c);
        save_pretrained(tmp.path(), card_vars);
        mixin_detail::add_weight_patterns<Derived>(opts);
        if (opts.commit_message.empty()) opts.commit_message = "Push model using hfhub";
        return hfhub::push_to_hub(c, std::move(repo_id), tmp.path(), std::move(opts));
    }

    // Stateless: lets Derived default its own operator==.
    bool operator==(const model_hub_mixin&) const = default;

private:
    const Derived& derived() const { return static_cast<const Derived&>(*this); }

    static Derived load(const std::filesystem::path& dir) {
        if constexpr (std::same_as<typename Derived::config_type, no_config>) {
            return Derived::from_dir(dir, no_config{});
        } else {
            auto cfg = mixin_detail::decode<typename Derived::config_type>(mixin_detail::read_config(dir), "");
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
            static_assert(requires(const std::filesystem::path& dir, typename Derived::config_type cfg) {
                { Derived::from_dir(dir, std::move(cfg)) } -> std::same_as<Derived>;
            }, "hfhub::model_hub_mixin<D>: D must define `static D from_dir(const std::filesystem::path& dir, config_type cfg)`");
            static_assert(hub_model<Derived>);
        }
    }
};

// For models that expose named tensors. Derived supplies, besides config_type and config():
//   hfhub::safetensors::tensor_list named_tensors() const;        views of its weights
//   static Derived from_config(config_type cfg);                  an uninitialised model
//   void load_tensors(const hfhub::safetensors::checkpoint& ckpt);  copy the weights in
// and optionally `static constexpr std::uint64_t max_shard_size = ...;` (default 5 GB).
// Weights go to model.safetensors (or shards plus model.safetensors.index.json) with
// __metadata__ {"format": "pt"}, so Python's safetensors, PyTorchModelHubMixin and transformers
// load them.
template <class Derived>
class safetensors_model_hub_mixin : public model_hub_mixin<Derived> {
public:
    // A push deletes the repo's weight files that the new save did not write.
    static inline const std::vector<std::string> weight_file_patterns = {
        "model.safetensors", "model-*-of-*.safetensors", "model.safetensors.index.json"};

    void save_weights(const std::filesystem::path& dir) const {
        static_assert(requires(const Derived& d) {
            { d.named_tensors() } -> std::convertible_to<safetensors::tensor_list>;
        }, "hfhub::safetensors_model_hub_mixin<D>: D must define `hfhub::safetensors::tensor_list named_tensors() const`");
        safetensors::shard_options o;
        if constexpr (requires { Derived::max_shard_size; }) o.max_shard_size = Derived::max_shard_size;
        o.metadata = safetensors::metadata_map{{"format", "pt"}};
        safetensors::save_sharded(static_cast<const Derived&>(*this).named_tensors(), dir, o);
    }

    template <class Config>
    static Derived from_dir(const std::filesystem::path& dir, Config cfg) {
        static_assert(requires(Config c) { { Derived::from_config(std::move(c)) } -> std::same_as<Derived>; },
                      "hfhub::safetensors_model_hub_mixin<D>: D must define `static D from_config(config_type cfg)`");
        static_assert(requires(Derived& d, const safetensors::checkpoint& ck) { d.load_tensors(ck); },
                      "hfhub::safetensors_model_hub_mixin<D>: D must define "
                      "`void load_tensors(const hfhub::safetensors::checkpoint&)`");
        auto ckpt = safetensors::checkpoint::open(dir);
        Derived d = Derived::from_config(std::move(cfg));
        d.load_tensors(ckpt);
        return d;
    }

    bool operator==(const safetensors_model_hub_mixin&) const = default;
};

}  // namespace hfhub
