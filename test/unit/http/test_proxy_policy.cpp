// Proxy selection: the proxy URL forms, NO_PROXY matching, and errors that never leak secrets.
#include "http/policy.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>

using namespace hfhub;
using namespace hfhub::http;

BOOST_AUTO_TEST_SUITE(http_proxies)

BOOST_AUTO_TEST_CASE(no_proxy_forms) {
    struct row {
        const char* no_proxy;
        const char* host;
        const char* port;
        bool want;
    };
    const row rows[] = {
        {"", "a.com", "443", false},
        {"*", "anything.test", "443", true},
        {"a.com,*", "b.com", "443", true},
        // domains
        {"example.com", "example.com", "443", true},
        {"example.com", "sub.example.com", "443", true},
        {"example.com", "a.b.example.com", "443", true},
        {".example.com", "example.com", "443", true},
        {".example.com", "sub.example.com", "443", true},
        {"*.example.com", "sub.example.com", "443", true},
        {"example.com", "notexample.com", "443", false},
        {".example.com", "notexample.com", "443", false},
        {"example.com", "example.org", "443", false},
        {"sub.example.com", "example.com", "443", false},
        {"EXAMPLE.com", "Sub.Example.COM", "443", true},
        {"example.com", "example.com.", "443", true},
        {"example.com.", "example.com", "443", true},
        {"localhost", "localhost", "80", true},
        {".", "a.com", "443", false},
        // separators
        {"a.com, b.com", "b.com", "443", true},
        {"a.com b.com", "b.com", "443", true},
        {" a.com,,\tb.com ", "b.com", "443", true},
        {"a.com, b.com", "c.com", "443", false},
        // IP literals
        {"10.0.0.1", "10.0.0.1", "80", true},
        {"10.0.0.1", "10.0.0.2", "80", false},
        {"0.1", "10.0.0.1", "80", false},  // no suffix matching on addresses
        {"::1", "::1", "80", true},
        {"::1", "[::1]", "80", true},
        {"0:0:0:0:0:0:0:1", "::1", "80", true},
        {"[::1]", "::1", "80", true},
        {"::1", "::2", "80", false},
        // CIDR
        {"10.0.0.0/8", "10.20.30.40", "80", true},
        {"10.0.0.0/8", "11.0.0.1", "80", false},
        {"192.168.1.0/24", "192.168.1.255", "80", true},
        {"192.168.1.0/24", "192.168.2.1", "80", false},
        {"192.168.1.128/25", "192.168.1.127", "80", false},
        {"192.168.1.128/25", "192.168.1.200", "80", true},
        {"0.0.0.0/0", "8.8.8.8", "80", true},
        {"10.0.0.0/33", "10.0.0.1", "80", false},  // bad prefix
        {"10.0.0.0/8", "ten.example", "80", false},  // names are not resolved
        {"10.0.0.0/8", "::1", "80", false},         // other family
        {"fe80::/10", "fe80::1", "80", true},
        {"fe80::/10", "fec0::1", "80", false},
        {"[fe80::]/10", "febf::1", "80", true},
        // ports
        {"example.com:8080", "example.com", "8080", true},
        {"example.com:8080", "example.com", "443", false},
        {"example.com:8080", "sub.example.com", "8080", true},
        {"example.com:8080", "example.com", "", false},
        {"10.0.0.1:8080", "10.0.0.1", "8080", true},
        {"10.0.0.1:8080", "10.0.0.1", "80", false},
        {"[::1]:8080", "::1", "8080", true},
        {"[::1]:8080", "::1", "80", false},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("NO_PROXY '" << r.no_proxy << "' host " << r.host << " port " << r.port) {
            BOOST_TEST(no_proxy_matches(r.no_proxy, r.host, r.port) == r.want);
        }
    }
}

BOOST_AUTO_TEST_CASE(select_by_scheme) {
    proxy_config cfg{.http = "http://p1.corp:3128", .https = "http://p2.corp:3129", .no_proxy = ""};
    auto s = select_proxy(cfg, "https", "hub.test", "");
    BOOST_TEST_REQUIRE(s.has_value());
    BOOST_TEST(s->scheme == "http");
    BOOST_TEST(s->host == "p2.corp");
    BOOST_TEST(s->port == "3129");
    BOOST_TEST(s->authorization.empty());

    auto h = select_proxy(cfg, "HTTP", "hub.test", "8080");
    BOOST_TEST_REQUIRE(h.has_value());
    BOOST_TEST(h->host == "p1.corp");
    BOOST_TEST(h->port == "3128");

    BOOST_TEST(!select_proxy(cfg, "ftp", "hub.test", "").has_value());
    BOOST_TEST(!select_proxy({.http = "http://p1:1", .https = "", .no_proxy = ""}, "https", "hub.test", "").has_value());
    BOOST_TEST(!select_proxy({.http = "", .https = "http://p2:1", .no_proxy = ""}, "http", "hub.test", "").has_value());
}

BOOST_AUTO_TEST_CASE(select_honours_no_proxy) {
    proxy_config cfg{.http = "http://p:3128", .https = "http://p:3128", .no_proxy = "localhost,.internal,hub.test:8443"};
    BOOST_TEST(!select_proxy(cfg, "http", "localhost", "8080").has_value());
    BOOST_TEST(!select_proxy(cfg, "https", "api.internal", "").has_value());
    BOOST_TEST(select_proxy(cfg, "https", "huggingface.co", "").has_value());
    // the default port is filled in before matching "host:port" entries
    BOOST_TEST(!select_proxy(cfg, "https", "hub.test", "8443").has_value());
    BOOST_TEST(select_proxy(cfg, "https", "hub.test", "").has_value());
    proxy_config p443{.http = "", .https = "http://p:3128", .no_proxy = "hub.test:443"};
    BOOST_TEST(!select_proxy(p443, "https", "hub.test", "").has_value());
}

BOOST_AUTO_TEST_CASE(proxy_url_forms) {
    struct row {
        const char* url;
        const char* host;
        const char* port;
        const char* authorization;
    };
    const row rows[] = {
        {"http://proxy.corp:8080", "proxy.corp", "8080", ""},
        {"proxy.corp:8080", "proxy.corp", "8080", ""},     // no scheme: http
        {"http://proxy.corp", "proxy.corp", "80", ""},      // no port: 80
        {"http://proxy.corp/", "proxy.corp", "80", ""},
        {"HTTP://proxy.corp:1", "proxy.corp", "1", ""},
        {"http://10.1.2.3:3128", "10.1.2.3", "3128", ""},
        {"http://[::1]:3128", "::1", "3128", ""},
        {"  http://proxy.corp:8080  ", "proxy.corp", "8080", ""},
        {"http://alice:s3cret@proxy.corp:8080", "proxy.corp", "8080", "Basic YWxpY2U6czNjcmV0"},
        {"http://us%40er:p%3Ass@proxy.corp:8080", "proxy.corp", "8080", "Basic dXNAZXI6cDpzcw=="},  // decoded
        {"http://user@proxy.corp:8080", "proxy.corp", "8080", "Basic dXNlcjo="},
        {"alice:s3cret@proxy.corp:8080", "proxy.corp", "8080", "Basic YWxpY2U6czNjcmV0"},
        {"http://@proxy.corp:8080", "proxy.corp", "8080", ""},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("proxy " << r.url) {
            auto s = select_proxy({.http = r.url, .https = "", .no_proxy = ""}, "http", "hub.test", "");
            BOOST_TEST_REQUIRE(s.has_value());
            BOOST_TEST(s->scheme == "http");
            BOOST_TEST(s->host == r.host);
            BOOST_TEST(s->port == r.port);
            BOOST_TEST(s->authorization == r.authorization);
        }
    }
}

BOOST_AUTO_TEST_CASE(malformed_proxy_throws_without_leaking) {
    for (const char* url : {"http://alice:s3cret@proxy.corp:99999", "socks5://alice:s3cret@proxy.corp:1080",
                            "https://alice:s3cret@proxy.corp:3128", "http://alice:s3cret@:3128", "http://[bad:s3cret"}) {
        BOOST_TEST_CONTEXT("proxy " << url) {
            try {
                select_proxy({.http = "", .https = url, .no_proxy = ""}, "https", "hub.test", "");
                BOOST_FAIL("no exception");
            } catch (const hfhub::error& e) {
                BOOST_TEST(e.code() == make_error_code(client_errc::invalid_url));
                BOOST_TEST(std::string(e.what()).find("s3cret") == std::string::npos);
                BOOST_TEST(std::string(e.what()).find("https") != std::string::npos);  // says which proxy
            }
        }
    }
    // a malformed proxy that no_proxy bypasses is never parsed
    BOOST_TEST(!select_proxy({.http = "", .https = "socks5://x", .no_proxy = "*"}, "https", "h", "").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
