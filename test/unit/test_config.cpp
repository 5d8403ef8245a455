#include <hfhub/config.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

using namespace hfhub;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using env_map = std::map<std::string, std::string, std::less<>>;

config load(const env_map& env) {
    return config::from_env([&](std::string_view name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    });
}

// A fresh directory used as HOME / HF_HOME, removed afterwards.
struct temp_home {
    fs::path dir;
    temp_home() {
        std::random_device rd;
        dir = fs::temp_directory_path() / ("hfhub-config-test-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(dir);
    }
    ~temp_home() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    void write(const fs::path& rel, const std::string& content) const {
        fs::create_directories((dir / rel).parent_path());
        std::ofstream(dir / rel, std::ios::binary) << content;
    }
    std::string str() const { return dir.string(); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(config_from_env)

BOOST_AUTO_TEST_CASE(defaults) {
    temp_home h;
    auto c = load({{"HOME", h.str()}});
    BOOST_TEST(c.endpoint == "https://huggingface.co");
    BOOST_TEST(c.hf_home == h.dir / ".cache/huggingface");
    BOOST_TEST(c.hub_cache == h.dir / ".cache/huggingface/hub");
    BOOST_TEST(!c.token.has_value());
    BOOST_TEST(c.implicit_token);
    BOOST_TEST(!c.offline);
    BOOST_TEST(!c.disable_symlinks);
    BOOST_TEST(c.proxies.http.empty());
    BOOST_TEST(c.proxies.https.empty());
    BOOST_TEST(c.proxies.no_proxy.empty());
    BOOST_TEST(!c.ca_bundle.has_value());
    BOOST_TEST(c.timeouts.etag.count() == 10000);
    BOOST_TEST(c.timeouts.download.count() == 10000);
}

BOOST_AUTO_TEST_CASE(hf_home_precedence_and_expansion) {
    struct row {
        env_map env;
        std::string want;
    };
    const row rows[] = {
        {{{"HOME", "/home/u"}}, "/home/u/.cache/huggingface"},
        {{{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg/cache"}}, "/xdg/cache/huggingface"},
        {{{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "/xdg/cache"}, {"HF_HOME", "/data/hf"}}, "/data/hf"},
        {{{"HOME", "/home/u"}, {"HF_HOME", ""}, {"XDG_CACHE_HOME", "/xdg"}}, "/xdg/huggingface"},  // empty = unset
        {{{"HOME", "/home/u"}, {"HF_HOME", "~/hf"}}, "/home/u/hf"},
        {{{"HOME", "/home/u"}, {"HF_HOME", "~"}}, "/home/u"},
        {{{"HOME", "/home/u"}, {"XDG_CACHE_HOME", "~/xdg"}}, "/home/u/xdg/huggingface"},
        {{{"HOME", "/home/u"}, {"HF_HOME", "~other/hf"}}, "~other/hf"},  // ~user is not expanded
        {{{"HOME", "/home/u"}, {"HF_HOME", "a~/hf"}}, "a~/hf"},
        {{{"BASE", "/b"}, {"HF_HOME", "$BASE/hf"}}, "/b/hf"},
        {{{"BASE", "/b"}, {"HF_HOME", "${BASE}x/hf"}}, "/bx/hf"},
        {{{"BASE", "/b"}, {"HF_HOME", "$BASEx/hf"}}, "$BASEx/hf"},  // $BASEx is another, unset variable
        {{{"HF_HOME", "$UNSET/hf"}}, "$UNSET/hf"},
        {{{"HF_HOME", "${UNSET}/hf"}}, "${UNSET}/hf"},
        {{{"EMPTY", ""}, {"HF_HOME", "/a$EMPTY/hf"}}, "/a/hf"},  // set but empty expands to nothing
        {{{"HF_HOME", "/cost/$5/hf"}}, "/cost/$5/hf"},
        {{{"HF_HOME", "/a/$"}}, "/a/$"},
        {{{"HF_HOME", "/a/${"}}, "/a/${"},
        {{{"HOME", "/home/u"}, {"HF_HOME", "~/$SUB"}, {"SUB", "hf"}}, "/home/u/hf"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("want " << r.want) {
            auto c = load(r.env);
            BOOST_TEST(c.hf_home.string() == r.want);
            BOOST_TEST(c.hub_cache.string() == r.want + "/hub");
        }
    }
}

BOOST_AUTO_TEST_CASE(hub_cache_precedence) {
    env_map base{{"HOME", "/home/u"}, {"HF_HOME", "/hf"}};
    BOOST_TEST(load(base).hub_cache == fs::path("/hf/hub"));

    auto legacy = base;
    legacy["HUGGINGFACE_HUB_CACHE"] = "/legacy";
    BOOST_TEST(load(legacy).hub_cache == fs::path("/legacy"));
    BOOST_TEST(load(legacy).hf_home == fs::path("/hf"));  // HF_HOME is unaffected

    auto both = legacy;
    both["HF_HUB_CACHE"] = "/new";
    BOOST_TEST(load(both).hub_cache == fs::path("/new"));

    auto tilde = base;
    tilde["HF_HUB_CACHE"] = "~/c";
    BOOST_TEST(load(tilde).hub_cache == fs::path("/home/u/c"));
    auto legacy_tilde = base;
    legacy_tilde["HUGGINGFACE_HUB_CACHE"] = "$HOME/legacy";
    BOOST_TEST(load(legacy_tilde).hub_cache == fs::path("/home/u/legacy"));
}

BOOST_AUTO_TEST_CASE(endpoint_trailing_slashes) {
    BOOST_TEST(load({{"HF_ENDPOINT", "http://localhost:8080"}}).endpoint == "http://localhost:8080");
    BOOST_TEST(load({{"HF_ENDPOINT", "http://localhost:8080/"}}).endpoint == "http://localhost:8080");
    BOOST_TEST(load({{"HF_ENDPOINT", "https://hub.example///"}}).endpoint == "https://hub.example");
    BOOST_TEST(load({{"HF_ENDPOINT", "https://hub.example/mirror/"}}).endpoint == "https://hub.example/mirror");
    BOOST_TEST(load({{"HF_ENDPOINT", ""}}).endpoint == "https://huggingface.co");
    BOOST_TEST(load({{"HF_ENDPOINT", "/"}}).endpoint == "https://huggingface.co");
}

BOOST_AUTO_TEST_CASE(token_from_file) {
    temp_home h;
    env_map env{{"HF_HOME", h.str()}};
    BOOST_TEST(!load(env).token.has_value());  // missing file: no token

    h.write("token", "hf_fromfile");
    BOOST_TEST(load(env).token.value_or("<none>") == "hf_fromfile");

    h.write("token", "  hf_fromfile\r\n");
    BOOST_TEST(load(env).token.value_or("<none>") == "hf_fromfile");

    h.write("token", "hf_\r\nsplit\n");  // CR/LF removed anywhere, as Python does
    BOOST_TEST(load(env).token.value_or("<none>") == "hf_split");

    h.write("token", " \r\n\t\n");
    BOOST_TEST(!load(env).token.has_value());

    h.write("token", "");
    BOOST_TEST(!load(env).token.has_value());
}

BOOST_AUTO_TEST_CASE(token_precedence) {
    temp_home h;
    h.write("token", "hf_file\n");
    h.write("elsewhere/tok", "hf_custom_path\n");
    env_map env{{"HF_HOME", h.str()}};
    BOOST_TEST(load(env).token.value_or("<none>") == "hf_file");

    auto legacy = env;
    legacy["HUGGING_FACE_HUB_TOKEN"] = "hf_legacy";
    BOOST_TEST(load(legacy).token.value_or("<none>") == "hf_legacy");

    auto both = legacy;
    both["HF_TOKEN"] = " hf_env\r\n";
    BOOST_TEST(load(both).token.value_or("<none>") == "hf_env");

    auto blank = legacy;
    blank["HF_TOKEN"] = "\r\n ";  // cleans to nothing: the next source is used
    BOOST_TEST(load(blank).token.value_or("<none>") == "hf_legacy");

    auto empty_env = env;
    empty_env["HF_TOKEN"] = "";
    BOOST_TEST(load(empty_env).token.value_or("<none>") == "hf_file");

    auto path = env;
    path["HF_TOKEN_PATH"] = h.str() + "/elsewhere/tok";
    BOOST_TEST(load(path).token.value_or("<none>") == "hf_custom_path");

    auto path_tilde = env_map{{"HOME", h.str()}, {"HF_HOME", "/nonexistent"}, {"HF_TOKEN_PATH", "~/elsewhere/tok"}};
    BOOST_TEST(load(path_tilde).token.value_or("<none>") == "hf_custom_path");

    auto missing_path = env;
    missing_path["HF_TOKEN_PATH"] = h.str() + "/nope";  // the default file is not consulted then
    BOOST_TEST(!load(missing_path).token.has_value());

    auto dir_path = env;
    dir_path["HF_TOKEN_PATH"] = h.str() + "/elsewhere";
    BOOST_TEST(!load(dir_path).token.has_value());

    auto env_wins = path;
    env_wins["HF_TOKEN"] = "hf_env";
    BOOST_TEST(load(env_wins).token.value_or("<none>") == "hf_env");

    // Where login writes: the same resolution, whether or not a token is found there.
    BOOST_TEST(load(path_tilde).token_path == h.str() + "/elsewhere/tok");
    BOOST_TEST(load(env_wins).token_path == h.str() + "/elsewhere/tok");
    BOOST_TEST(load(missing_path).token_path == h.str() + "/nope");
    BOOST_TEST(load(env_map{{"HF_HOME", "/x/hf"}}).token_path == "/x/hf/token");
}

BOOST_AUTO_TEST_CASE(token_via_xdg_default_home) {
    temp_home h;
    h.write("xdg/huggingface/token", "hf_xdg\n");
    auto c = load({{"HOME", "/nonexistent"}, {"XDG_CACHE_HOME", h.str() + "/xdg"}});
    BOOST_TEST(c.token.value_or("<none>") == "hf_xdg");

    h.write(".cache/huggingface/token", "hf_home\n");
    BOOST_TEST(load({{"HOME", h.str()}}).token.value_or("<none>") == "hf_home");
}

BOOST_AUTO_TEST_CASE(implicit_token_switch) {
    struct row {
        const char* value;
        bool implicit;
    };
    const row rows[] = {{"1", false},  {"true", false},  {"TRUE", false}, {"YES", false}, {"yes", false},
                        {"On", false}, {"0", true},      {"false", true}, {"no", true},   {"off", true},
                        {"", true},    {"2", true},      {" 1", true},    {"y", true}};
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("HF_HUB_DISABLE_IMPLICIT_TOKEN='" << r.value << "'") {
            auto c = load({{"HF_HUB_DISABLE_IMPLICIT_TOKEN", r.value}, {"HF_TOKEN", "hf_x"}});
            BOOST_TEST(c.implicit_token == r.implicit);
            BOOST_TEST(c.token.value_or("<none>") == "hf_x");  // still loaded, for explicit use
        }
    }
    BOOST_TEST(load({}).implicit_token);
}

BOOST_AUTO_TEST_CASE(offline_values) {
    struct row {
        const char* value;
        bool offline;
    };
    const row rows[] = {{"1", true},   {"ON", true},   {"on", true},    {"Yes", true},  {"TRUE", true},
                        {"true", true}, {"tRuE", true}, {"0", false},    {"false", false}, {"off", false},
                        {"no", false},  {"", false},    {"2", false},    {" 1", false}, {"enabled", false}};
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("HF_HUB_OFFLINE='" << r.value << "'") {
            BOOST_TEST(load({{"HF_HUB_OFFLINE", r.value}}).offline == r.offline);
        }
        BOOST_TEST_CONTEXT("TRANSFORMERS_OFFLINE='" << r.value << "'") {
            BOOST_TEST(load({{"TRANSFORMERS_OFFLINE", r.value}}).offline == r.offline);
        }
        BOOST_TEST_CONTEXT("HF_HUB_DISABLE_SYMLINKS='" << r.value << "'") {
            BOOST_TEST(load({{"HF_HUB_DISABLE_SYMLINKS", r.value}}).disable_symlinks == r.offline);
        }
    }
    // Python's `HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE`: a non-empty HF_HUB_OFFLINE decides.
    BOOST_TEST(!load({{"HF_HUB_OFFLINE", "0"}, {"TRANSFORMERS_OFFLINE", "1"}}).offline);
    BOOST_TEST(load({{"HF_HUB_OFFLINE", "1"}, {"TRANSFORMERS_OFFLINE", "0"}}).offline);
    BOOST_TEST(load({{"HF_HUB_OFFLINE", ""}, {"TRANSFORMERS_OFFLINE", "1"}}).offline);
    BOOST_TEST(!load({}).offline);
}

BOOST_AUTO_TEST_CASE(timeouts_in_seconds) {
    struct row {
        const char* value;
        long long want_ms;
    };
    const row rows[] = {
        {"30", 30000}, {"2.5", 2500}, {"0.25", 250}, {" 7 ", 7000}, {"1.0006", 1001},
        {"0.0001", 1},                               // rounds to 0: kept at the smallest positive wait
        {"abc", 10000}, {"-5", 10000}, {"0", 10000},  // invalid or zero: the default
        {"", 10000},    {"5s", 10000}, {"1e3", 10000}, {"nan", 10000}, {"inf", 10000},
        {"99999999999", 365LL * 24 * 3600 * 1000},  // clamped
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("timeout '" << r.value << "'") {
            auto etag = load({{"HF_HUB_ETAG_TIMEOUT", r.value}});
            BOOST_TEST(etag.timeouts.etag.count() == r.want_ms);
            BOOST_TEST(etag.timeouts.download.count() == 10000);
            auto dl = load({{"HF_HUB_DOWNLOAD_TIMEOUT", r.value}});
            BOOST_TEST(dl.timeouts.download.count() == r.want_ms);
            BOOST_TEST(dl.timeouts.etag.count() == 10000);
        }
    }
    // connect/read are not environment-driven
    auto c = load({{"HF_HUB_ETAG_TIMEOUT", "1"}, {"HF_HUB_DOWNLOAD_TIMEOUT", "2"}});
    BOOST_TEST(c.timeouts.connect.count() == 10000);
    BOOST_TEST(c.timeouts.read.count() == 10000);
}

BOOST_AUTO_TEST_CASE(proxies) {
    auto upper = load({{"HTTPS_PROXY", "http://s:1"}, {"HTTP_PROXY", "http://p:2"}, {"NO_PROXY", "localhost"}});
    BOOST_TEST(upper.proxies.https == "http://s:1");
    BOOST_TEST(upper.proxies.http == "http://p:2");
    BOOST_TEST(upper.proxies.no_proxy == "localhost");

    auto lower = load({{"https_proxy", "http://s:1"}, {"http_proxy", "http://p:2"}, {"no_proxy", ".internal"}});
    BOOST_TEST(lower.proxies.https == "http://s:1");
    BOOST_TEST(lower.proxies.http == "http://p:2");
    BOOST_TEST(lower.proxies.no_proxy == ".internal");

    // both set: lower case wins, as in curl
    auto both = load({{"HTTPS_PROXY", "http://UP:1"},
                      {"https_proxy", "http://low:1"},
                      {"HTTP_PROXY", "http://UP:2"},
                      {"http_proxy", "http://low:2"},
                      {"NO_PROXY", "UP"},
                      {"no_proxy", "low"}});
    BOOST_TEST(both.proxies.https == "http://low:1");
    BOOST_TEST(both.proxies.http == "http://low:2");
    BOOST_TEST(both.proxies.no_proxy == "low");

    // an empty lower-case variable counts as unset
    auto empty_lower = load({{"https_proxy", ""}, {"HTTPS_PROXY", "http://UP:1"}});
    BOOST_TEST(empty_lower.proxies.https == "http://UP:1");

    // only one scheme set: the other stays direct
    auto https_only = load({{"HTTPS_PROXY", "http://s:1"}});
    BOOST_TEST(https_only.proxies.http.empty());

    // ALL_PROXY fills in the schemes without their own variable
    auto all = load({{"ALL_PROXY", "http://all:9"}, {"https_proxy", "http://s:1"}});
    BOOST_TEST(all.proxies.https == "http://s:1");
    BOOST_TEST(all.proxies.http == "http://all:9");
    auto all_lower = load({{"ALL_PROXY", "http://UP:9"}, {"all_proxy", "http://low:9"}});
    BOOST_TEST(all_lower.proxies.https == "http://low:9");
    BOOST_TEST(all_lower.proxies.http == "http://low:9");
}

BOOST_AUTO_TEST_CASE(ca_bundle) {
    BOOST_TEST(load({{"SSL_CERT_FILE", "/etc/ssl/corp.pem"}}).ca_bundle.value_or("<none>") ==
               fs::path("/etc/ssl/corp.pem"));
    BOOST_TEST(!load({{"SSL_CERT_FILE", ""}}).ca_bundle.has_value());
}

BOOST_AUTO_TEST_CASE(process_environment) {
    // from_env() reads the real environment. The variable is one tests never rely on otherwise.
    ::setenv("HF_HUB_DOWNLOAD_TIMEOUT", "42.5", 1);
    auto c = config::from_env();
    ::unsetenv("HF_HUB_DOWNLOAD_TIMEOUT");
    BOOST_TEST(c.timeouts.download.count() == 42500);
    BOOST_TEST(config::from_env().timeouts.download.count() == 10000);
}

BOOST_AUTO_TEST_SUITE_END()
