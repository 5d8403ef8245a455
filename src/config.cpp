// The only file in hfhub that reads the environment.
#include <hfhub/config.hpp>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

namespace hfhub {
namespace {

using lookup_fn = config::env_lookup;

// Empty values count as unset: `HF_HOME= cmd` should not make the cache relative.
std::optional<std::string> get(const lookup_fn& env, std::string_view name) {
    auto v = env(name);
    if (!v || v->empty()) return std::nullopt;
    return v;
}

bool is_true(const std::optional<std::string>& v) {
    if (!v) return false;
    std::string s;
    for (char c : *v) s += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    // Python's constants._is_true compares the upper-cased value without stripping.
    return s == "1" || s == "ON" || s == "YES" || s == "TRUE";
}

std::string home_dir(const lookup_fn& env) {
    if (auto h = get(env, "HOME")) return *h;
    // Like Python's expanduser: fall back to the password database.
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* res = nullptr;
    if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &res) == 0 && res && res->pw_dir) return res->pw_dir;
    return {};
}

// os.path.expanduser for "~" and "~/..." only; "~user" is left alone.
std::string expand_user(std::string s, const lookup_fn& env) {
    if (s == "~" || s.starts_with("~/")) {
        auto home = home_dir(env);
        if (!home.empty()) s = home + s.substr(1);
    }
    return s;
}

bool var_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// os.path.expandvars: $NAME and ${NAME}; unknown variables are left as written.
std::string expand_vars(std::string_view s, const lookup_fn& env) {
    std::string out;
    std::size_t i = 0;
    while (i < s.size()) {
        if (s[i] != '$') {
            out += s[i++];
            continue;
        }
        if (i + 1 < s.size() && s[i + 1] == '{') {
            auto close = s.find('}', i + 2);
            if (close != std::string_view::npos && close > i + 2) {
                auto name = s.substr(i + 2, close - i - 2);
                if (auto v = env(name)) {
                    out += *v;
                    i = close + 1;
                    continue;
                }
                out += s.substr(i, close + 1 - i);
                i = close + 1;
                continue;
            }
            out += s[i++];
            continue;
        }
        std::size_t j = i + 1;
        while (j < s.size() && var_char(s[j])) ++j;
        if (j == i + 1) {
            out += s[i++];
            continue;
        }
        if (auto v = env(s.substr(i + 1, j - i - 1)))
            out += *v;
        else
            out += s.substr(i, j - i);
        i = j;
    }
    return out;
}

std::filesystem::path expand(const std::string& s, const lookup_fn& env) {
    return std::filesystem::path(expand_vars(expand_user(s, env), env));
}

// CR/LF removed, then surrounding whitespace trimmed; empty means none (Python's _clean_token).
std::optional<std::string> clean_token(std::string_view raw) {
    std::string t;
    for (char c : raw)
        if (c != '\r' && c != '\n') t += c;
    auto b = t.find_first_not_of(" \t\v\f");
    if (b == std::string::npos) return std::nullopt;
    auto e = t.find_last_not_of(" \t\v\f");
    return t.substr(b, e - b + 1);
}

std::optional<std::string> read_token_file(const std::filesystem::path& p) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) return std::nullopt;
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    return clean_token(ss.str());
}

// Seconds, possibly fractional; missing, malformed or non-positive values keep the default
// (Python: `_as_int(value) or DEFAULT`).
void read_seconds(const lookup_fn& env, std::string_view name, std::chrono::milliseconds& out) {
    auto v = get(env, name);
    if (!v) return;
    std::string_view s = *v;
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    double secs = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), secs, std::chars_format::fixed);
    if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(secs) || secs <= 0) return;
    constexpr double max_secs = 365.0 * 24 * 3600;  // beyond a year is a typo; clamp rather than overflow
    out = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(std::min(secs, max_secs) * 1000.0)));
    if (out.count() == 0) out = std::chrono::milliseconds(1);
}

// A boolean as hf_xet parses its settings: true/false words or numbers; anything else keeps
// the default.
void read_bool(const lookup_fn& env, std::string_view name, bool& out) {
    auto v = get(env, name);
    if (!v) return;
    std::string s;
    for (char c : *v)
        if (!std::isspace(static_cast<unsigned char>(c))) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "1" || s == "true" || s == "yes" || s == "on" || s == "y" || s == "t") out = true;
    else if (s == "0" || s == "false" || s == "no" || s == "off" || s == "n" || s == "f") out = false;
}

// A whole number (digits only, surrounding whitespace allowed); anything else keeps the default.
template <class T>
void read_uint(const lookup_fn& env, std::string_view name, T& out) {
    auto v = get(env, name);
    if (!v) return;
    std::string_view s = *v;
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    T n{};
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return;
    out = n;
}

// curl's order: the lower-case variable first, then the upper-case one.
std::optional<std::string> proxy_var(const lookup_fn& env, const char* lower, const char* upper) {
    if (auto v = get(env, lower)) return v;
    return get(env, upper);
}

}  // namespace

config config::from_env() {
    return from_env([](std::string_view name) -> std::optional<std::string> {
        const char* v = std::getenv(std::string(name).c_str());
        if (!v) return std::nullopt;
        return std::string(v);
    });
}

config config::from_env(const env_lookup& env) {
    config cfg;

    if (auto e = get(env, "HF_ENDPOINT")) {
        std::string ep = *e;
        while (!ep.empty() && ep.back() == '/') ep.pop_back();
        if (!ep.empty()) cfg.endpoint = ep;
    }

    std::string home_raw;
    if (auto h = get(env, "HF_HOME"))
        home_raw = *h;
    else if (auto x = get(env, "XDG_CACHE_HOME"))
        home_raw = *x + "/huggingface";
    else
        home_raw = "~/.cache/huggingface";
    cfg.hf_home = expand(home_raw, env);

    if (auto c = get(env, "HF_HUB_CACHE"))
        cfg.hub_cache = expand(*c, env);
    else if (auto l = get(env, "HUGGINGFACE_HUB_CACHE"))
        cfg.hub_cache = expand(*l, env);
    else
        cfg.hub_cache = cfg.hf_home / "hub";

    // HF_TOKEN → HUGGING_FACE_HUB_TOKEN → token file; a value that cleans to nothing falls through.
    for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
        if (auto v = get(env, name)) {
            if (auto t = clean_token(*v)) {
                cfg.token = std::move(t);
                break;
            }
        }
    }
    cfg.token_path = cfg.hf_home / "token";
    if (auto p = get(env, "HF_TOKEN_PATH")) cfg.token_path = expand(*p, env);
    if (!cfg.token) cfg.token = read_token_file(cfg.token_path);
    cfg.implicit_token = !is_true(get(env, "HF_HUB_DISABLE_IMPLICIT_TOKEN"));
    cfg.disable_symlinks = is_true(get(env, "HF_HUB_DISABLE_SYMLINKS"));

    // Python: `HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE`, so a set HF_HUB_OFFLINE=0 wins.
    auto offline = get(env, "HF_HUB_OFFLINE");
    if (!offline) offline = get(env, "TRANSFORMERS_OFFLINE");
    cfg.offline = is_true(offline);

    auto all = proxy_var(env, "all_proxy", "ALL_PROXY");
    if (auto p = proxy_var(env, "https_proxy", "HTTPS_PROXY"))
        cfg.proxies.https = *p;
    else if (all)
        cfg.proxies.https = *all;
    if (auto p = proxy_var(env, "http_proxy", "HTTP_PROXY"))
        cfg.proxies.http = *p;
    else if (all)
        cfg.proxies.http = *all;
    if (auto p = proxy_var(env, "no_proxy", "NO_PROXY")) cfg.proxies.no_proxy = *p;

    if (auto ca = get(env, "SSL_CERT_FILE")) cfg.ca_bundle = std::filesystem::path(*ca);  // taken literally, as OpenSSL does

    // Xet: HF_XET_CACHE wins over HF_HOME (hf_xet's xet_cache_root).
    cfg.xet.enabled = !is_true(get(env, "HF_HUB_DISABLE_XET"));
    read_bool(env, "HF_XET_DEDUPLICATION_GLOBAL_DEDUP_QUERY_ENABLED", cfg.xet.dedup);
    cfg.xet.cache_dir = cfg.hf_home / "xet";
    if (auto x = get(env, "HF_XET_CACHE")) cfg.xet.cache_dir = expand(*x, env);
    // hfhub's own format: beside hf_xet's folders, never inside them.
    cfg.xet.chunk_cache_dir = cfg.xet.cache_dir / "hfhub-chunk-cache";
    read_uint(env, "HF_XET_CHUNK_CACHE_SIZE_BYTES", cfg.xet.chunk_cache_size);
    read_bool(env, "HFHUB_XET_VERIFY_SHA256", cfg.xet.verify_sha256);
    unsigned parallel = 0;
    read_uint(env, "HF_XET_FIXED_DOWNLOAD_CONCURRENCY", parallel);
    if (parallel > 0) cfg.xet.max_parallel = std::min(parallel, 256u);

    read_seconds(env, "HF_HUB_ETAG_TIMEOUT", cfg.timeouts.etag);
    read_seconds(env, "HF_HUB_DOWNLOAD_TIMEOUT", cfg.timeouts.download);
    return cfg;
}

}  // namespace hfhub
