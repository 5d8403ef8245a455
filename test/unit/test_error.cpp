// hfhub::error's text: the code's name and message, where the request went, then the client's
// own account and the server's words, each kept in its own field.
#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

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
