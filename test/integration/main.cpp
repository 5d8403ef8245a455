#define BOOST_TEST_MODULE hfhub_integration_tests
#include <boost/test/unit_test.hpp>
