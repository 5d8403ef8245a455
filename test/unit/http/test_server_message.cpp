// The server's message for an error answer: X-Error-Message, JSON error fields, plain text.
#include "http/policy.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

using namespace hfhub;
using namespace hfhub::http;

BOOST_AUTO_TEST_SUITE(http_server_message)

BOOST_AUTO_TEST_CASE(server_message_forms) {
    struct row {
        const char* x_error_message;
        const char* content_type;
        std::string body;
        std::string want;
    };
    const row rows[] = {
        {"", "application/json", R"({"error":"boom"})", "boom"},
        {"Repository not found", "application/json", R"({"error":"Repository not found"})", "Repository not found"},
        {"header says", "application/json", R"({"error":"body says"})", "header says; body says"},
        {"header only", "", "", "header only"},
        {"header only", "text/plain", "ignored when the header says it", "header only"},
        {"", "application/json", R"({"error":["first","second"]})", "first; second"},
        {"", "application/json", R"({"error_description":"the description"})", "the description"},
        {"", "application/json", R"({"error":"e","error_description":"d"})", "e; d"},
        {"", "application/json", R"({"errors":[{"message":"m1"},{"code":3},{"message":"m2"}]})", "m1; m2"},
        {"", "application/json", R"({"error":{"code":5}})", R"({"code":5})"},
        {"", "application/json", R"({"error":"multi\nline"})", "multi line"},
        {"", "application/json", " \n" R"({"error":"padded"})" "\n", "padded"},
        {"", "application/json", R"({"other":1})", R"({"other":1})"},  // nothing known: the text
        {"", "application/json", "{not json", "{not json"},
        {"", "text/plain; charset=utf-8", "plain failure\r\n", "plain failure"},
        {"", "", "Bad Gateway", "Bad Gateway"},
        {"", "text/html", "<html>\n  <body>502</body>\n</html>", "<html> <body>502</body> </html>"},
        {"", "application/octet-stream", std::string("\x00\x01\x02binary", 9), ""},
        {"", "image/png", "PNG...", ""},
        {"", "", "", ""},
        {"", "application/json", "[1,2,3]", "[1,2,3]"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("X-Error-Message '" << r.x_error_message << "' type '" << r.content_type << "' body '"
                                               << r.body << "'") {
            BOOST_TEST(server_message(r.x_error_message, r.content_type, r.body) == r.want);
        }
    }
}

BOOST_AUTO_TEST_CASE(server_message_never_throws_and_truncates) {
    std::string deep(200, '{');  // nesting beyond Boost.JSON's limit
    BOOST_CHECK_NO_THROW(server_message("", "application/json", deep));
    BOOST_TEST(server_message("", "application/json", deep).size() <= 500u);

    std::string nested;
    for (int i = 0; i < 100; ++i) nested += R"({"a":)";
    nested += "1" + std::string(100, '}');
    BOOST_CHECK_NO_THROW(server_message("", "application/json", nested));

    auto long_text = server_message("", "text/html", std::string(5000, 'x'));
    BOOST_TEST(long_text.size() == 500u);
    BOOST_TEST(long_text.ends_with("..."));
    BOOST_TEST(long_text.starts_with("xxxx"));

    // 2-byte characters: the cut never splits one
    std::string accents;
    for (int i = 0; i < 400; ++i) accents += "\xC3\xA9";
    auto cut = server_message("", "text/plain", accents);
    BOOST_TEST(cut.size() <= 500u);
    BOOST_TEST(cut.ends_with("..."));
    BOOST_TEST((cut.size() - 3) % 2 == 0u);
    BOOST_TEST(static_cast<unsigned char>(cut[cut.size() - 4]) == 0xA9u);
}

BOOST_AUTO_TEST_SUITE_END()
