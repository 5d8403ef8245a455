#define BOOST_TEST_MODULE hfhub_usage_tests
#include <boost/test/unit_test.hpp>
