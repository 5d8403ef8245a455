// server::stop() in-process: requests in flight finish before on_drained, nothing new is
// accepted or processed, idle keep-alive connections are closed.
#include "transport_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <future>

using namespace hfhub::test;
using namespace hfhub::test::transport;
namespace json = boost::json;

namespace {

bool connect_refused(const std::string& url) {
    try {
        raw_conn c(url);
        return false;
    } catch (const std::exception&) {
        return true;
    }
}

// Bounded wait for the listener to be gone (its close runs on the acceptor's strand).
bool refused_within(const std::string& url, std::chrono::milliseconds limit) {
    auto t0 = clock_type::now();
    while (ms_since(t0) < limit.count()) {
        if (connect_refused(url)) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_shutdown)

BOOST_AUTO_TEST_CASE(request_in_flight_finishes_before_on_drained) {
    test_server s;
    admin_set_faults(s, R"({"rules":[{"match":"whoami","stall_ms":600,"stall_after_bytes":5}]})");
    raw_conn c(s.url());
    c.send(c.request("GET", "/api/whoami-v2", {{"Authorization", bearer(alice_token)}}));
    auto head = c.read_head();
    BOOST_TEST_REQUIRE(head.status == 200u);
    BOOST_TEST_REQUIRE(c.fill(5));  // stalled mid-body: in flight
    // The faults request's answer can reach us a moment before the server counts it done.
    for (int i = 0; i < 100 && s.get().in_flight() > 1u; ++i) std::this_thread::sleep_for(10ms);
    BOOST_TEST(s.get().in_flight() == 1u);

    std::promise<void> drained;
    auto done = drained.get_future();
    s.get().stop([&] { drained.set_value(); });
    BOOST_TEST((done.wait_for(0ms) == std::future_status::timeout));  // not while a request runs
    BOOST_TEST(refused_within(s.url(), 2000ms));
    BOOST_TEST(refused_within(s.storage_url(), 2000ms));

    BOOST_TEST_REQUIRE(c.fill(head.content_length()));
    BOOST_TEST(json::parse(c.buf.substr(0, head.content_length())).at("name") == "alice");
    BOOST_TEST((done.wait_for(3s) == std::future_status::ready));
    BOOST_TEST(s.get().in_flight() == 0u);
    // The connection is not reused for another request.
    c.buf.clear();
    try {
        c.send(c.request("GET", "/api/whoami-v2", {{"Authorization", bearer(alice_token)}}));
        c.read_to_eof(3000ms);
    } catch (const std::runtime_error&) {
        // already closed: fine
    }
    BOOST_TEST(c.buf.find("200 OK") == std::string::npos, c.buf);
}

BOOST_AUTO_TEST_CASE(idle_keep_alive_connections_are_closed_on_stop) {
    test_server s;  // read_timeout stays 30 s: a close within the test is stop()'s doing
    raw_conn idle(s.url());
    idle.send(idle.request("GET", "/api/whoami-v2", {{"Authorization", bearer(alice_token)}}));
    BOOST_TEST_REQUIRE(idle.read_response().status == 200u);
    raw_conn fresh(s.url());  // connected, nothing sent yet

    std::promise<void> drained;
    auto done = drained.get_future();
    s.get().stop([&] { drained.set_value(); });
    BOOST_TEST((done.wait_for(3s) == std::future_status::ready));  // nothing was in flight
    auto t0 = clock_type::now();
    idle.read_to_eof(3000ms);
    fresh.read_to_eof(3000ms);
    BOOST_TEST(ms_since(t0) < 3000);
    BOOST_TEST(idle.buf.empty());
}

BOOST_AUTO_TEST_CASE(nothing_is_processed_after_on_drained) {
    test_server s;
    s.create_repo("alice/keep", alice_token);
    raw_conn c(s.url());
    c.send(c.request("GET", "/api/whoami-v2", {{"Authorization", bearer(alice_token)}}));
    BOOST_TEST_REQUIRE(c.read_response().status == 200u);
    std::promise<void> drained;
    auto done = drained.get_future();
    s.get().stop([&] { drained.set_value(); });
    BOOST_TEST_REQUIRE((done.wait_for(3s) == std::future_status::ready));
    // A write sent on the old connection after the drain must not happen.
    try {
        c.send(c.request("DELETE", "/api/repos/delete", {{"Authorization", bearer(alice_token)}},
                         R"({"name":"keep","organization":"alice","type":"model"})"));
        c.read_to_eof(3000ms);
    } catch (const std::runtime_error&) {
        // already closed: fine
    }
    BOOST_TEST(c.buf.find("200 OK") == std::string::npos, c.buf);
    // A processed request is logged before its connection closes; this one is not there.
    BOOST_TEST(read_text(s.access_log()).find("\"DELETE\"") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
