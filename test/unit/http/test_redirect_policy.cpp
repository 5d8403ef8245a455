// Redirect decisions by mode: follow, relative only, none; the hop limit.
#include "http/policy.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

using namespace hfhub;
using namespace hfhub::http;

BOOST_AUTO_TEST_SUITE(http_redirects)

namespace {
using act = redirect_decision::action;
struct redirect_row {
    const char* current;
    const char* location;
    redirect_mode mode;
    act what;
    const char* url = "";  // when following
    bool keep_auth = true;
    client_errc error{};  // when failing
    unsigned hops = 0;
};

void check(const redirect_row& r) {
    BOOST_TEST_CONTEXT(r.current << " -> '" << r.location << "' mode " << static_cast<int>(r.mode) << " hops "
                                 << r.hops) {
        auto d = decide_redirect(r.current, r.location, r.hops, 10, r.mode);
        BOOST_TEST(static_cast<int>(d.what) == static_cast<int>(r.what));
        if (r.what == act::follow) {
            BOOST_TEST(d.url == r.url);
            BOOST_TEST(d.keep_auth == r.keep_auth);
            BOOST_TEST(!d.error);
        } else if (r.what == act::fail) {
            BOOST_TEST(d.error == make_error_code(r.error));
        } else {
            BOOST_TEST(!d.error);
        }
    }
}
}  // namespace

BOOST_AUTO_TEST_CASE(follow_mode) {
    const auto F = redirect_mode::follow;
    const redirect_row rows[] = {
        // relative, same origin
        {"https://hub.test/api/models/a/b", "/api/models/c/d", F, act::follow, "https://hub.test/api/models/c/d", true},
        {"https://hub.test/a/b/c", "d", F, act::follow, "https://hub.test/a/b/d", true},
        {"https://hub.test/a/b/c", "../x", F, act::follow, "https://hub.test/a/x", true},
        {"https://hub.test/a", "/x/../y", F, act::follow, "https://hub.test/y", true},
        {"https://hub.test/a", "/b#frag", F, act::follow, "https://hub.test/b", true},
        // absolute, other origin: auth dropped
        {"https://hub.test/m/resolve/main/w.bin", "https://cdn.test/blob?X-Sig=abc", F, act::follow,
         "https://cdn.test/blob?X-Sig=abc", false},
        {"https://hub.test/a", "//cdn.test/b", F, act::follow, "https://cdn.test/b", false},
        {"https://hub.test/a", "https://hub.test:8443/b", F, act::follow, "https://hub.test:8443/b", false},
        {"http://hub.test/a", "https://hub.test/b", F, act::follow, "https://hub.test/b", false},  // upgrade
        // absolute, same origin: auth kept
        {"https://hub.test/a", "https://hub.test/b", F, act::follow, "https://hub.test/b", true},
        {"https://HUB.test/a", "https://hub.TEST/b", F, act::follow, "https://hub.TEST/b", true},
        // default ports
        {"http://h:80/a", "http://h/b", F, act::follow, "http://h/b", true},
        {"http://h/a", "http://h:80/b", F, act::follow, "http://h:80/b", true},
        {"https://h/a", "https://h:443/b", F, act::follow, "https://h:443/b", true},
        {"http://h/a", "http://h:8080/b", F, act::follow, "http://h:8080/b", false},
        {"http://h:443/a", "https://h/b", F, act::follow, "https://h/b", false},  // scheme differs
        {"http://127.0.0.1:8080/a", "/b", F, act::follow, "http://127.0.0.1:8080/b", true},
        {"http://[::1]:8080/a", "/b", F, act::follow, "http://[::1]:8080/b", true},
        // query: follow takes the Location's query
        {"https://hub.test/a?x=1", "/b?y=2", F, act::follow, "https://hub.test/b?y=2", true},
        {"https://hub.test/a?x=1", "/b", F, act::follow, "https://hub.test/b", true},
        // refusals
        {"https://hub.test/a", "http://hub.test/b", F, act::fail, "", true, client_errc::insecure_redirect},
        {"https://hub.test/a", "http://cdn.test/b", F, act::fail, "", true, client_errc::insecure_redirect},
        {"https://hub.test/a", "ftp://hub.test/b", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "javascript:alert(1)", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "file:///etc/passwd", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "http://[bad", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "/a b", F, act::fail, "", true, client_errc::invalid_url},
        {"https://hub.test/a", "https:///nohost", F, act::fail, "", true, client_errc::invalid_url},
        {"not a url", "/b", F, act::fail, "", true, client_errc::invalid_url},
        // no Location: the 3xx is the answer
        {"https://hub.test/a", "", F, act::stop},
        {"https://hub.test/a", "   ", F, act::stop},
    };
    for (const auto& r : rows) check(r);
}

BOOST_AUTO_TEST_CASE(relative_only_mode) {
    const auto R = redirect_mode::relative_only;
    const redirect_row rows[] = {
        {"https://hub.test/api/models/old/name", "/api/models/new/name", R, act::follow,
         "https://hub.test/api/models/new/name", true},
        // the Location's query is dropped, the original one kept (protocol 1.2)
        {"https://hub.test/api/models/a?x=1", "/api/models/b?y=2", R, act::follow, "https://hub.test/api/models/b?x=1",
         true},
        {"https://hub.test/a", "/b?y=2", R, act::follow, "https://hub.test/b", true},
        {"http://h:8080/a/resolve/main/f", "/api/resolve-cache/models/a/f", R, act::follow,
         "http://h:8080/api/resolve-cache/models/a/f", true},
        // absolute Locations are not followed, whatever they point to
        {"https://hub.test/a", "https://cdn.test/b", R, act::stop},
        {"https://hub.test/a", "https://hub.test/b", R, act::stop},
        {"https://hub.test/a", "//cdn.test/b", R, act::stop},
        {"https://hub.test/a", "http://cdn.test/b", R, act::stop},
        {"https://hub.test/a", "ftp://cdn.test/b", R, act::stop},
        {"https://hub.test/a", "/a b", R, act::fail, "", true, client_errc::invalid_url},
    };
    for (const auto& r : rows) check(r);
}

BOOST_AUTO_TEST_CASE(none_mode_and_hop_limit) {
    check({"https://hub.test/a", "/b", redirect_mode::none, act::stop});
    check({"https://hub.test/a", "https://cdn.test/b", redirect_mode::none, act::stop});
    check({"https://hub.test/a", "/b", redirect_mode::follow, act::follow, "https://hub.test/b", true, {}, 9});
    check({"https://hub.test/a", "/b", redirect_mode::follow, act::fail, "", true, client_errc::too_many_redirects, 10});
    check({"https://hub.test/a", "/b", redirect_mode::relative_only, act::fail, "", true,
           client_errc::too_many_redirects, 11});
    auto d = decide_redirect("https://hub.test/a", "/b", 0, 0, redirect_mode::follow);
    BOOST_TEST(d.error == make_error_code(client_errc::too_many_redirects));
}

BOOST_AUTO_TEST_SUITE_END()
