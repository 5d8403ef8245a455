// hfhub's own client through the Hub workflows the server now has: a pull request uploaded by a
// user who can't write the repo (the batch gives no verify action, so none is sent), and a
// renamed repo reached by its old id. The server's move records outlive a restart.
#include "client_util.hpp"
#include "hub_helpers.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>

#include "util/fs.hpp"

#include <boost/test/unit_test.hpp>

using namespace hfhub;
using namespace hfhub::test;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// LFS objects above 1 MiB go multipart, in 256 KiB parts.
struct client_fixture {
    test_server s{[](server::options& o) {
        o.multipart_threshold = 1 << 20;
        o.multipart_chunk = 256 << 10;
    }};
    temp_dir cache;
    asio::io_context ioc;

    client make(const std::string& token) { return client(ioc.get_executor(), user_config(s.url(), token, cache.path())); }
    std::string fetch(client& c, const std::string& repo, const std::string& file, const std::string& rev = "main") {
        download_options o;
        o.revision = rev;
        o.force_download = true;
        return *util::read_file(run(ioc, co_hf_hub_download(c, repo, file, o)));
    }
    std::size_t verifies() { return api_lines(s, "POST", "/info/lfs/objects/verify").size(); }
};

json::value move(test_server& s, const std::string& from, const std::string& to) {
    auto r = s.post("/api/repos/move", json::serialize(json::object{{"fromRepo", from}, {"toRepo", to}}), alice_token);
    if (r.status != 200) throw std::runtime_error("move: " + std::to_string(r.status) + " " + r.body);
    return parse_json(r);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_hub_flows)

BOOST_FIXTURE_TEST_CASE(pull_request_upload_from_a_non_writer, client_fixture) {
    s.create_repo("alice/m", alice_token);
    std::string basic = pattern_bytes(300 << 10, 1), multi = pattern_bytes(1536 << 10, 2);

    // The writer's upload is verified: the check below can see a verify call.
    auto alice = make(alice_token);
    commit_options mine;
    mine.commit_message = "base";
    auto base = run(ioc, co_create_commit(alice, "alice/m", {commit_add::bytes("base.bin", pattern_bytes(200 << 10, 3))}, mine));
    BOOST_TEST_REQUIRE(base.files_uploaded == 1u);
    BOOST_TEST_REQUIRE(verifies() == 1u);

    auto bob = make(bob_token);
    commit_options o;
    o.commit_message = "bob's proposal";
    o.create_pr = true;
    auto pr = run(ioc, co_create_commit(bob, "alice/m",
                                        {commit_add::bytes("w.bin", basic), commit_add::bytes("big.bin", multi),
                                         commit_add::bytes("notes.txt", "from bob\n")},
                                        o));
    BOOST_TEST_REQUIRE(pr.pr_num.has_value());
    BOOST_TEST(pr.files_uploaded == 2u);
    BOOST_TEST(verifies() == 1u);  // bob's batch named no verify, and bob sent none
    std::string ref = "refs/pr/" + std::to_string(*pr.pr_num);
    BOOST_TEST(head_of(s, "models/alice/m", ref) == pr.oid);
    BOOST_TEST(head_of(s, "models/alice/m") == base.oid);  // main is untouched
    BOOST_TEST((fetch(alice, "alice/m", "w.bin", ref) == basic));
    BOOST_TEST((fetch(alice, "alice/m", "big.bin", ref) == multi));
    BOOST_TEST(fetch(bob, "alice/m", "notes.txt", ref) == "from bob\n");

    // Bob may not push to main itself.
    commit_options direct;
    direct.commit_message = "direct";
    BOOST_TEST(error_of([&] {
                   run(ioc, co_create_commit(bob, "alice/m", {commit_add::bytes("x.bin", pattern_bytes(100 << 10, 4))},
                                             direct));
               }) == make_error_code(hub_errc::forbidden));
}

BOOST_FIXTURE_TEST_CASE(old_id_after_a_move_reaches_the_repo, client_fixture) {
    s.create_repo("alice/old", alice_token);
    auto alice = make(alice_token);
    commit_options o;
    o.commit_message = "files";
    std::string weights = pattern_bytes(400 << 10, 9);
    run(ioc, co_create_commit(alice, "alice/old",
                              {commit_add::bytes("a.txt", "a\n"), commit_add::bytes("w.bin", weights)}, o));
    move(s, "alice/old", "acme/new");
    BOOST_TEST_REQUIRE(s.head("/alice/old/resolve/main/a.txt", alice_token).status == 307u);

    // resolve (regular and LFS) and info through the old id, by the relative 307.
    BOOST_TEST(fetch(alice, "alice/old", "a.txt") == "a\n");
    BOOST_TEST((fetch(alice, "alice/old", "w.bin") == weights));
    auto info = run(ioc, co_repo_info(alice, "alice/old"));
    BOOST_TEST(info.id == "acme/new");
    BOOST_TEST(info.sha == head_of(s, "models/acme/new"));
    BOOST_TEST(run(ioc, co_file_exists(alice, "alice/old", "w.bin")));
    BOOST_TEST(!run(ioc, co_file_exists(alice, "alice/old", "missing.bin")));
    auto anon = make("");
    BOOST_TEST(fetch(anon, "alice/old", "a.txt") == "a\n");
}

BOOST_AUTO_TEST_CASE(moves_outlive_a_restart) {
    temp_dir dir;
    auto on_root = [&](server::options& o) { o.root = dir.path() / "root"; };
    {
        test_server s(on_root);
        s.create_repo("alice/w", alice_token);
        must_commit(s, "models/alice/w", "main", {test_server::add_file("f.txt", "one")});
        move(s, "alice/w", "acme/w2");
    }
    {
        test_server s(on_root);
        auto r = s.get("/api/models/alice/w?blobs=true", alice_token);
        BOOST_TEST(r.status == 307u);
        BOOST_TEST(r.header("location") == "/api/models/acme/w2?blobs=true");
        r = s.head("/alice/w/resolve/main/f.txt");
        BOOST_TEST(r.status == 307u);
        BOOST_TEST(r.header("location") == "/acme/w2/resolve/main/f.txt");
        BOOST_TEST(s.get("/acme/w2/resolve/main/f.txt").body == "one");
        move(s, "acme/w2", "acme/w3");  // a chain, across restarts
    }
    test_server s(on_root);
    BOOST_TEST(s.head("/alice/w/resolve/main/f.txt").header("location") == "/acme/w3/resolve/main/f.txt");
    BOOST_TEST(s.head("/acme/w2/resolve/main/f.txt").header("location") == "/acme/w3/resolve/main/f.txt");
    BOOST_TEST(s.get("/api/models/acme/w3").status == 200u);
    // Our client follows it on the restarted server too.
    temp_dir cache;
    asio::io_context ioc;
    client c(ioc.get_executor(), user_config(s.url(), alice_token, cache.path()));
    BOOST_TEST(*util::read_file(run(ioc, co_hf_hub_download(c, "alice/w", "f.txt"))) == "one");
}

BOOST_AUTO_TEST_SUITE_END()
