// The pure helpers of the request loop: what an I/O exception means, and the Range arithmetic
// of a resumed body.
#include "http/request_fsm.hpp"

#include <hfhub/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/system/system_error.hpp>

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <stdexcept>

using namespace hfhub;
using namespace hfhub::http;

namespace {

template <class E>
std::exception_ptr ptr(E e) {
    return std::make_exception_ptr(std::move(e));
}

boost::system::system_error boost_error(boost::system::error_code ec) { return boost::system::system_error(ec); }

}  // namespace

BOOST_AUTO_TEST_SUITE(http_request_helpers)

BOOST_AUTO_TEST_CASE(classify_io_failures) {
    namespace bhttp = boost::beast::http;
    struct row {
        const char* name;
        std::exception_ptr ep;
        client_errc code;
        bool retryable;
    };
    const row rows[] = {
        {"connection_failed from below", ptr(hfhub::error(client_errc::connection_failed, {})), client_errc::connection_failed, true},
        {"timeout from below", ptr(hfhub::error(client_errc::timeout, {})), client_errc::timeout, true},
        {"another library error", ptr(hfhub::error(client_errc::tls_error, {})), client_errc::tls_error, false},
        {"Beast's timeout", ptr(boost_error(boost::beast::error::timeout)), client_errc::timeout, true},
        {"an aborted operation", ptr(boost_error(boost::asio::error::operation_aborted)), client_errc::cancelled, false},
        {"TLS stream truncated", ptr(boost_error(boost::asio::ssl::error::stream_truncated)), client_errc::tls_error, false},
        {"an HTTP parse error", ptr(boost_error(bhttp::error::bad_version)), client_errc::protocol_error, true},
        {"end of stream mid-answer", ptr(boost_error(bhttp::error::end_of_stream)), client_errc::connection_failed, true},
        {"a partial message", ptr(boost_error(bhttp::error::partial_message)), client_errc::connection_failed, true},
        {"a reset connection", ptr(boost_error(boost::asio::error::connection_reset)), client_errc::connection_failed, true},
        {"a local file", ptr(std::filesystem::filesystem_error("read", std::make_error_code(std::errc::io_error))),
         client_errc::io_error, false},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.name) {
            auto f = classify(r.ep);
            BOOST_TEST(f.code == make_error_code(r.code));
            BOOST_TEST(f.retryable == r.retryable);
        }
    }
    auto msg = classify(ptr(hfhub::error(client_errc::connection_failed, {.client_message = "refused"})));
    BOOST_TEST(msg.message == "refused");
    // A sink's own exception is none of the transport's business.
    BOOST_CHECK_THROW(classify(ptr(std::runtime_error("sink"))), std::runtime_error);
}

BOOST_AUTO_TEST_CASE(ranges_of_a_resumed_body) {
    struct row {
        std::optional<std::string_view> range;
        std::uint64_t n;
        std::string shifted;
        std::uint64_t start;
    };
    const row rows[] = {
        {std::nullopt, 100, "bytes=100-", 100},
        {"bytes=500-999", 100, "bytes=600-999", 600},
        {"bytes=500-", 10, "bytes=510-", 510},
        {"bytes=-300", 100, "bytes=-200", 100},  // a suffix: the start is unknown, the count shrinks
        {"items=0-5", 3, "items=0-5", 3},        // another unit is passed on as is
        {"bytes=7", 3, "bytes=7", 10},           // no dash: passed on as is, read as a start
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT((r.range ? *r.range : "no range") << " after " << r.n) {
            BOOST_TEST(shifted_range(r.range, r.n) == r.shifted);
            BOOST_TEST(resume_start(r.range, r.n) == r.start);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
