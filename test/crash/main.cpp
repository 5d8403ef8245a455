#define BOOST_TEST_MODULE hfhub_crash_tests
#include <boost/test/unit_test.hpp>
