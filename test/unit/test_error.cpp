// hfhub::error's text: the code's name and message, where the request went, then the client's
// own account and the server's words, each kept in its own field.
#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <set>
#include <string>

using namespace hfhub;

BOOST_AUTO_TEST_SUITE(error_text)

BOOST_AUTO_TEST_CASE(client_and_server_messages_stay_apart) {
    error e(hub_errc::entry_not_found, {.status = 404,
                                        .method = "GET",
                                        .url = "https://u:pw@hub.example/acme/m/resolve/main/x",
                                        .request_id = "r-1",
                                        .server_message = "Entry not found",
                                        .client_message = "while probing x"});
    BOOST_TEST(e.diag().server_message == "Entry not found");
    BOOST_TEST(e.diag().client_message == "while probing x");
    BOOST_TEST(std::string(e.what()) ==
               "entry_not_found: " + e.code().message() +
                   " (404 GET https://hub.example/acme/m/resolve/main/x, request id r-1): while probing x: Entry not found");
}

BOOST_AUTO_TEST_CASE(a_client_side_error_has_no_server_message) {
    error e(client_errc::invalid_path, {.client_message = "not a commit hash: 'zz'"});
    BOOST_TEST(e.diag().server_message.empty());
    BOOST_TEST(std::string(e.what()) == "invalid_path: " + e.code().message() + ": not a commit hash: 'zz'");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hfhub_errors)

BOOST_AUTO_TEST_CASE(categories_and_messages) {
    BOOST_TEST(hub_category().name() == std::string("hfhub.hub"));
    BOOST_TEST(client_category().name() == std::string("hfhub.client"));
    std::error_code hub = hub_errc::rate_limited;  // implicit, via is_error_code_enum
    BOOST_TEST(&hub.category() == &hub_category());
    std::error_code cl = client_errc::offline;
    BOOST_TEST(&cl.category() == &client_category());
    BOOST_TEST(hub != std::error_code(static_cast<int>(hub_errc::rate_limited), client_category()));

    std::set<std::string> seen;
    for (int v = static_cast<int>(hub_errc::repo_not_found); v <= static_cast<int>(hub_errc::http_error); ++v) {
        auto m = hub_category().message(v);
        BOOST_TEST(!m.empty());
        BOOST_TEST(seen.insert(m).second, "duplicate message " << m);
    }
    for (int v = static_cast<int>(client_errc::invalid_repo_id); v <= static_cast<int>(client_errc::invalid_url); ++v) {
        auto m = client_category().message(v);
        BOOST_TEST(!m.empty());
        BOOST_TEST(seen.insert(m).second, "duplicate message " << m);
    }
    BOOST_TEST(seen.size() == 34u);
    BOOST_TEST(hub_category().message(9999) == "Unknown Hub error");
    BOOST_TEST(make_error_code(hub_errc::repo_not_found).message() == "Repository not found");
}

BOOST_AUTO_TEST_CASE(what_carries_diagnostics) {
    hfhub::error e(hub_errc::repo_not_found, {404, "GET", "http://host/api/models/x/y", "abc", ""});
    BOOST_TEST(std::string(e.what()) ==
               "repo_not_found: Repository not found (404 GET http://host/api/models/x/y, request id abc)");
    BOOST_TEST(e.code() == make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(e.diag().status == 404u);
    BOOST_TEST(e.diag().request_id == "abc");

    hfhub::error m(hub_errc::precondition_failed,
                   {412, "POST", "https://hub.test/api/models/a/b/commit/main", "", "The branch was updated"});
    BOOST_TEST(std::string(m.what()) ==
               "precondition_failed: Precondition failed (the branch moved since the parent commit) (412 POST "
               "https://hub.test/api/models/a/b/commit/main): The branch was updated");

    hfhub::error bare(client_errc::offline, {});
    BOOST_TEST(std::string(bare.what()) == "offline: Offline mode is enabled");

    hfhub::error conn(client_errc::connection_failed, {0, "HEAD", "https://hub.test/x", "", ""});
    BOOST_TEST(std::string(conn.what()) == "connection_failed: Connection failed (HEAD https://hub.test/x)");

    hfhub::error foreign(std::make_error_code(std::errc::timed_out), {});
    BOOST_TEST(std::string(foreign.what()).starts_with("generic:"));

    // catchable as std::system_error with the same text
    try {
        throw hfhub::error(hub_errc::rate_limited, {429, "GET", "https://hub.test/a", "", ""});
    } catch (const std::system_error& se) {
        BOOST_TEST(std::string(se.what()).starts_with("rate_limited: "));
    }
}

BOOST_AUTO_TEST_CASE(what_never_shows_userinfo) {
    const char* urls[] = {"https://user:hf_secret@hub.test/api/x", "https://hf_secret@hub.test/api/x",
                          "https://a:b@c:hf_secret@hub.test/api/x"};
    for (const char* u : urls) {
        BOOST_TEST_CONTEXT(u) {
            hfhub::error e(hub_errc::unauthorized, {401, "GET", u, "", ""});
            std::string w = e.what();
            BOOST_TEST(w.find("hf_secret") == std::string::npos);
            BOOST_TEST(w.find("https://hub.test/api/x") != std::string::npos);
            BOOST_TEST(e.diag().url == "https://hub.test/api/x");
        }
    }
    // an '@' in the path is not userinfo
    hfhub::error p(hub_errc::not_found, {404, "GET", "https://hub.test/a@b", "", ""});
    BOOST_TEST(p.diag().url == "https://hub.test/a@b");
}

BOOST_AUTO_TEST_SUITE_END()
