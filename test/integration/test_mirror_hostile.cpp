// co_mirror against a destination whose LFS batch answers misbehave. The destination is a real
// in-process Hub behind a scripted server that forwards every request but the batch, whose
// answer the script rewrites: the mirror reads it with the upload's parser, so an object not
// asked for, an object named twice and a 422 for an object end as they do for uploads, before
// any byte is stored or any commit is made.
#include "client_util.hpp"
#include "hostile_server.hpp"
#include "http_client.hpp"
#include "hub_helpers.hpp"
#include "test_server.hpp"

#include <hfhub/mirror.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <strings.h>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::bob_token;
using hfhub::test::hostile_conn;
using hfhub::test::hostile_request;
using hfhub::test::http_answer;
using hfhub::test::must_commit;
using hfhub::test::pattern_bytes;
using hfhub::test::test_server;
using hostile = hfhub::test::hostile_server;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// Rewrites the destination's real batch answer.
using batch_script = std::function<json::object(json::object real)>;

bool named(const std::string& header, std::initializer_list<const char*> names) {
    for (const char* n : names)
        if (::strcasecmp(header.c_str(), n) == 0) return true;
    return false;
}

// Sends `r` on to `base` and returns the answer, unchanged but for its framing.
hfhub::test::http_response forward(const std::string& base, const hostile_request& r) {
    hfhub::test::header_pairs h;
    for (auto& [k, v] : r.headers)
        if (named(k, {"Authorization", "Content-Type", "Accept", "Range"})) h.emplace_back(k, v);
    return hfhub::test::http_request(r.method, base + r.target, r.body, h);
}

void send(hostile_conn& c, const hfhub::test::http_response& resp, const std::string& body) {
    std::vector<std::pair<std::string, std::string>> h;
    for (auto& [k, v] : resp.headers)
        if (!named(k, {"Content-Length", "Transfer-Encoding", "Connection"})) h.emplace_back(k, v);
    c.send(http_answer(resp.status, h, body));
}

// alice/src on one Hub with a regular file and two LFS objects (one multipart on the way in);
// the destination Hub reached through the scripted server.
struct mirror_hostile_fixture {
    test_server src;
    test_server dst{[](server::options& o) {
        o.multipart_threshold = 1 << 20;
        o.multipart_chunk = 256 << 10;
    }};
    std::mutex mu;
    batch_script script;  // none: the real answer
    hostile front{[this](const hostile_request& r, hostile_conn& c) {
        auto resp = forward(dst.url(), r);
        if (!r.path().ends_with(".git/info/lfs/objects/batch") || resp.status != 200) return send(c, resp, resp.body);
        batch_script s;
        {
            std::lock_guard lk(mu);
            s = script;
        }
        std::string body = s ? json::serialize(s(json::parse(resp.body).as_object())) : resp.body;
        // Actions on the Hub's own origin (verify) come back through here, with the token.
        for (auto at = body.find(dst.url()); at != std::string::npos; at = body.find(dst.url(), at))
            body.replace(at, dst.url().size(), front.url());
        send(c, resp, body);
    }};
    asio::io_context ioc;
    std::unique_ptr<client> sc, dc;

    mirror_hostile_fixture() {
        src.create_repo("alice/src", alice_token);
        std::vector<std::string> ops{test_server::add_file("README.md", "# source\n")};
        for (auto [path, bytes] : {std::pair<std::string, std::string>{"a.bin", pattern_bytes(3000, 1)},
                                   {"m.bin", pattern_bytes((3 << 19) - 17, 2)}})
            ops.push_back(test_server::add_lfs(path, src.upload_lfs("alice/src", bytes, alice_token), bytes.size()));
        must_commit(src, "models/alice/src", "main", ops, "source files");
        auto scfg = hfhub::test::quick_config(src.url());
        scfg.token = alice_token;
        sc = std::make_unique<client>(ioc.get_executor(), scfg);
        auto dcfg = hfhub::test::quick_config(front.url());
        dcfg.token = bob_token;
        dc = std::make_unique<client>(ioc.get_executor(), dcfg);
    }

    void set_script(batch_script s) {
        std::lock_guard lk(mu);
        script = std::move(s);
    }

    // The mirror's error code; empty when it succeeded.
    std::error_code mirror_to(const std::string& repo) {
        return hfhub::test::error_of([&] { hfhub::test::run(ioc, co_mirror(*sc, *dc, "alice/src", repo), 30s); });
    }

    std::size_t dst_puts() {
        std::size_t n = 0;
        for (auto& line : hfhub::test::settled_log(dst)) n += json::parse(line).at("method").as_string() == "PUT";
        return n;
    }
};

json::array& objects_of(json::object& answer) { return answer.at("objects").as_array(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(mirror_hostile)

BOOST_FIXTURE_TEST_CASE(batch_answers_end_as_they_do_for_uploads, mirror_hostile_fixture) {
    struct row {
        const char* name;
        batch_script rewrite;
        std::error_code want;
    };
    const std::vector<row> rows{
        {"an object not asked for",
         [](json::object a) {
             objects_of(a)[0].as_object()["oid"] = std::string(64, 'e');
             return a;
         },
         make_error_code(client_errc::protocol_error)},
        {"the same object twice, the other left out",
         [](json::object a) {
             auto& objs = objects_of(a);
             objs[1] = objs[0];
             return a;
         },
         make_error_code(client_errc::protocol_error)},
        {"an object left out",
         [](json::object a) {
             objects_of(a).pop_back();
             return a;
         },
         make_error_code(client_errc::protocol_error)},
        {"a 422 for one object",
         [](json::object a) {
             auto& o = objects_of(a)[1].as_object();
             o.erase("actions");
             o["error"] = json::object{{"code", 422}, {"message", "no such object here"}};
             return a;
         },
         make_error_code(hub_errc::unprocessable)},
        {"a 404 for one object",
         [](json::object a) {
             auto& o = objects_of(a)[0].as_object();
             o.erase("actions");
             o["error"] = json::object{{"code", 404}, {"message", "gone"}};
             return a;
         },
         make_error_code(hub_errc::http_error)},
    };
    int n = 0;
    for (auto& rw : rows) {
        BOOST_TEST_CONTEXT("batch answer: " << rw.name) {
            set_script(rw.rewrite);
            std::string repo = "bob/dst" + std::to_string(n++);
            std::size_t puts = dst_puts();
            BOOST_TEST(mirror_to(repo) == rw.want);
            BOOST_TEST(dst_puts() == puts);  // nothing stored before the whole answer was checked
            BOOST_TEST(front.count("POST", "/api/models/" + repo + "/commit/") == 0u);
        }
    }
}

// The same harness, answering as the Hub does: the mirror lands, so the rows above fail for
// what their answers say and not for the harness.
BOOST_FIXTURE_TEST_CASE(the_real_answer_through_the_same_harness_lands, mirror_hostile_fixture) {
    BOOST_TEST(!mirror_to("bob/ok"));
    BOOST_TEST(dst_puts() == 1u + 6u);  // a.bin whole, m.bin in six parts
    BOOST_TEST(front.count("POST", "/api/models/bob/ok/commit/") == 1u);
    BOOST_TEST(hfhub::test::file_list(dst, "models/bob/ok", "main", bob_token) ==
               hfhub::test::file_list(src, "models/alice/src"));
}

// The batch size is the option's: two objects at one per call make two batch calls.
BOOST_FIXTURE_TEST_CASE(the_batch_size_option_sets_objects_per_call, mirror_hostile_fixture) {
    struct row {
        std::size_t batch_size;
        std::size_t calls;
    };
    int n = 0;
    for (auto rw : {row{1, 2}, row{2, 1}, row{256, 1}}) {
        std::string repo = "bob/batch" + std::to_string(n++);
        std::size_t before = front.count("POST", "/" + repo + ".git/info/lfs/objects/batch");
        mirror_options o;
        o.batch_size = rw.batch_size;
        hfhub::test::run(ioc, co_mirror(*sc, *dc, "alice/src", repo, o), 30s);
        BOOST_TEST(front.count("POST", "/" + repo + ".git/info/lfs/objects/batch") - before == rw.calls,
                   "batch_size " << rw.batch_size);
    }
}

BOOST_AUTO_TEST_SUITE_END()
