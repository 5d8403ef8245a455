// The real `hfhub serve` process: flags, open mode, SIGTERM and graceful drain.
#include "transport_util.hpp"

#include <boost/test/unit_test.hpp>

using namespace hfhub::test;
using namespace hfhub::test::transport;
namespace json = boost::json;

namespace {

// `hfhub serve` on free ports over a fresh root; waits for its `listening on` line.
struct serve_process {
    temp_dir dir;
    std::unique_ptr<child_process> p;
    std::string url;

    explicit serve_process(std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{hfhub_binary(), "serve", "--root", (dir.path() / "root").string(), "--port",
                                      "0", "--threads", "2"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        p = std::make_unique<child_process>(argv);
        auto line = p->read_line(8000ms);
        if (!line) BOOST_FAIL("no 'listening on' line; stderr: " << p->rest_of_stderr());
        BOOST_TEST_REQUIRE(line->starts_with("listening on http://127.0.0.1:"), *line);
        url = line->substr(std::string("listening on ").size());
    }
};

int run_hfhub(const std::vector<std::string>& args, std::string* out = nullptr) {
    std::vector<std::string> argv{hfhub_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transport_cli)

BOOST_AUTO_TEST_CASE(binary_is_there) {
    BOOST_TEST_REQUIRE(std::filesystem::exists(hfhub_binary()), hfhub_binary() << " (set HFHUB_BINARY)");
}

BOOST_AUTO_TEST_CASE(help_and_bad_flags) {
    std::string out;
    BOOST_TEST(run_hfhub({"serve", "--help"}, &out) == 0);
    BOOST_TEST(out.find("usage: hfhub serve") != std::string::npos, out);
    BOOST_TEST(out.find("--tls-cert") != std::string::npos);
    BOOST_TEST(run_hfhub({"--help"}, &out) == 0);
    BOOST_TEST(run_hfhub({"serve", "--no-such-flag"}, &out) == 2);
    BOOST_TEST(out.find("no-such-flag") != std::string::npos, out);
    BOOST_TEST(run_hfhub({"serve", "--port", "not-a-number"}) == 2);
    BOOST_TEST(run_hfhub({"serve", "--port", "70000"}) == 2);
    BOOST_TEST(run_hfhub({"serve", "--port", "-1"}) == 2);
    BOOST_TEST(run_hfhub({"serve", "stray"}) == 2);
    BOOST_TEST(run_hfhub({"frobnicate"}) == 2);
    BOOST_TEST(run_hfhub({}) == 2);
}

BOOST_AUTO_TEST_CASE(bad_setup_exits_1_with_a_message) {
    temp_dir d;
    std::string out;
    BOOST_TEST(run_hfhub({"serve", "--root", (d.path() / "r").string(), "--tls-cert", "x.pem"}, &out) == 1);
    BOOST_TEST(out.find("tls") != std::string::npos, out);
    BOOST_TEST(run_hfhub({"serve", "--root", (d.path() / "r").string(), "--tokens", (d.path() / "none.json").string()},
                         &out) == 1);
}

BOOST_AUTO_TEST_CASE(open_mode_announces_itself_and_sigterm_exits_0) {
    serve_process s;
    auto err = s.p->read_err_line(5000ms);
    BOOST_TEST_REQUIRE(err.has_value());
    BOOST_TEST(err->find("open single-user mode") != std::string::npos, *err);
    auto who = http_request("GET", s.url + "/api/whoami-v2");
    BOOST_TEST(who.status == 200u);
    BOOST_TEST(json::parse(who.body).at("name") == "local");
    auto t0 = clock_type::now();
    s.p->signal(SIGTERM);
    auto code = s.p->wait(5000ms);
    BOOST_TEST_REQUIRE(code.has_value(), "still running 5 s after SIGTERM");
    BOOST_TEST(*code == 0);
    BOOST_TEST(ms_since(t0) < 3000);
    BOOST_CHECK_THROW(http_request("GET", s.url + "/api/whoami-v2"), std::exception);  // nobody listens
}

BOOST_AUTO_TEST_CASE(tokens_mode_is_not_open) {
    temp_dir d;
    auto tokens = d.path() / "tokens.json";
    std::ofstream(tokens) << R"({"users":[{"name":"carol","token":"hf_carol_secret_1234","orgs":[]}]})";
    serve_process s({"--tokens", tokens.string()});
    BOOST_TEST(http_request("GET", s.url + "/api/whoami-v2").status == 401u);
    auto who = http_request("GET", s.url + "/api/whoami-v2", {}, {{"Authorization", bearer("hf_carol_secret_1234")}});
    BOOST_TEST(json::parse(who.body).at("name") == "carol");
    s.p->signal(SIGINT);
    auto code = s.p->wait(5000ms);
    BOOST_TEST_REQUIRE(code.has_value());
    BOOST_TEST(*code == 0);
    BOOST_TEST(s.p->rest_of_stderr().find("open single-user") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(sigterm_right_after_startup_is_graceful) {
    // The signal handler must be in place by the time the URL is printed.
    for (int i = 0; i < 5; ++i) {
        serve_process s;
        s.p->signal(SIGTERM);
        auto code = s.p->wait(5000ms);
        BOOST_TEST_REQUIRE(code.has_value());
        BOOST_TEST(*code == 0, "run " << i << " ended with " << *code);
    }
}

BOOST_AUTO_TEST_CASE(sigterm_lets_a_request_in_flight_finish) {
    temp_dir d;
    auto faults = d.path() / "faults.json";
    std::ofstream(faults) << R"({"rules":[{"match":"whoami","stall_ms":800,"stall_after_bytes":5}]})";
    serve_process s({"--faults", faults.string()});
    raw_conn c(s.url);
    c.send(c.request("GET", "/api/whoami-v2"));
    auto head = c.read_head();
    BOOST_TEST_REQUIRE(head.status == 200u);
    BOOST_TEST_REQUIRE(c.fill(5));  // the request is now stalled mid-body
    auto t0 = clock_type::now();
    s.p->signal(SIGTERM);
    c.read_to_eof();  // the rest of the body, then the server closes
    BOOST_TEST(c.buf.size() == head.content_length());
    BOOST_TEST(json::parse(c.buf).at("name") == "local");
    auto code = s.p->wait(5000ms);
    BOOST_TEST_REQUIRE(code.has_value());
    BOOST_TEST(*code == 0);
    BOOST_TEST(ms_since(t0) < 4000);
}

BOOST_AUTO_TEST_CASE(idle_keep_alive_connections_do_not_hold_up_exit) {
    serve_process s;
    raw_conn idle(s.url);
    idle.send(idle.request("GET", "/api/whoami-v2"));
    BOOST_TEST(idle.read_response().status == 200u);
    auto t0 = clock_type::now();
    s.p->signal(SIGTERM);
    auto code = s.p->wait(5000ms);
    BOOST_TEST_REQUIRE(code.has_value());
    BOOST_TEST(*code == 0);
    BOOST_TEST(ms_since(t0) < 3000);
    idle.read_to_eof();
}

BOOST_AUTO_TEST_SUITE_END()
