// Content-Range as a resumed or ranged answer states it.
#include "http/policy.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

using namespace hfhub;
using namespace hfhub::http;

BOOST_AUTO_TEST_SUITE(http_content_range)

BOOST_AUTO_TEST_CASE(reads_first_last_and_complete_length) {
    auto r = parse_content_range("bytes 100-199/1000");
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(r->first == 100u);
    BOOST_TEST(r->last == 199u);
    BOOST_TEST(r->complete.value_or(0) == 1000u);
    auto star = parse_content_range(" bytes 0-0/* ");
    BOOST_TEST_REQUIRE(star.has_value());
    BOOST_TEST(!star->complete.has_value());
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_one_satisfied_byte_range) {
    for (std::string_view bad : {"", "bytes", "bytes -5/10", "bytes 5-/10", "bytes 5-4/10", "bytes 0-9/9",
                                 "bytes +1-2/10", "bytes 1-2", "bytes */10", "items 0-1/2", "bytes 0x1-2/10",
                                 "bytes 99999999999999999999-1/2", "bytes 1/2-3"})
        BOOST_TEST(!parse_content_range(bad).has_value(), bad);
}

BOOST_AUTO_TEST_SUITE_END()
