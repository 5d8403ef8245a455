#include "test_server.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

using namespace hfhub::test;

BOOST_AUTO_TEST_SUITE(smoke)

BOOST_AUTO_TEST_CASE(create_commit_resolve) {
    test_server s;
    s.create_repo("alice/smoke", alice_token);
    auto c = s.commit("models/alice/smoke", "main", {test_server::add_file("a/b.txt", "hello\n")}, alice_token);
    BOOST_TEST_REQUIRE(c.status == 200u, c.body);
    auto commit = boost::json::value_to<std::string>(boost::json::parse(c.body).at("commitOid"));
    auto r = s.get("/alice/smoke/resolve/main/a/b.txt");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == "hello\n");
    BOOST_TEST(r.header("etag") == "\"ce013625030ba8dba906f756967f9e9ca394464a\"");
    BOOST_TEST(r.header("x-repo-commit") == commit);
}

BOOST_AUTO_TEST_SUITE_END()
