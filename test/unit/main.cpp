#define BOOST_TEST_MODULE hfhub_unit_tests
#include <boost/test/unit_test.hpp>
