// `hfhub repo ...` (the real binary) against the server running in this process.
#include "hub_helpers.hpp"
#include "transport_util.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <map>

using hfhub::test::alice_token;
using hfhub::test::bob_token;
using hfhub::test::jstr;
using hfhub::test::must_commit;
using hfhub::test::parse_json;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
using hfhub::test::transport::child_process;
using hfhub::test::transport::hfhub_binary;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

struct cli_result {
    int code = -1;
    std::string out, err;
    std::string last_line() const {
        std::string o = out;
        while (!o.empty() && o.back() == '\n') o.pop_back();
        auto nl = o.rfind('\n');
        return nl == std::string::npos ? o : o.substr(nl + 1);
    }
};

// Runs `argv` (argv[0] a path) to completion, stdout and stderr apart.
cli_result run_argv(const std::vector<std::string>& argv) {
    child_process p(argv);
    cli_result r;
    r.code = p.wait(20000ms).value_or(-1);
    r.out = p.rest_of_stdout();
    r.err = p.rest_of_stderr();
    return r;
}

struct cli_fixture {
    test_server s;
    std::string c1, c2;
    cli_fixture() {
        s.create_repo("alice/r", alice_token);
        c1 = must_commit(s, "models/alice/r", "main", {test_server::add_file("a.txt", "1")}, "First");
        c2 = must_commit(s, "models/alice/r", "main", {test_server::add_file("a.txt", "2")}, "Second");
    }
    // `hfhub repo ARGS --endpoint <server> --token <token>`.
    cli_result repo(std::vector<std::string> args, const std::string& token = alice_token) {
        std::vector<std::string> argv{hfhub_binary(), "repo"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--endpoint", s.url(), "--token", token});
        return run_argv(argv);
    }
    // name → target commit of the repo's branches or tags.
    std::map<std::string, std::string> refs(const std::string& kind, const std::string& api_repo = "models/alice/r") {
        auto r = s.get("/api/" + api_repo + "/refs", alice_token);
        if (r.status != 200) throw std::runtime_error("refs: " + r.body);
        std::map<std::string, std::string> out;
        json::value v = parse_json(r);
        for (auto& e : v.at(kind).as_array()) out[jstr(e, "name")] = jstr(e, "targetCommit");
        return out;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(repo_cli)

BOOST_AUTO_TEST_CASE(usage_errors_exit_2) {
    auto hf = [](std::vector<std::string> args) {
        args.insert(args.begin(), hfhub_binary());
        return run_argv(args);
    };
    auto help = hf({"repo", "--help"});
    BOOST_TEST(help.code == 0);
    BOOST_TEST(help.out.find("branch create REPO BRANCH") != std::string::npos, help.out);
    auto top = hf({"--help"});
    BOOST_TEST(top.out.find("repo ") != std::string::npos, top.out);
    auto create_help = hf({"repo", "create", "--help"});
    BOOST_TEST(create_help.code == 0);
    BOOST_TEST(create_help.out.find("--exist-ok") != std::string::npos, create_help.out);
    BOOST_TEST(hf({"repo", "tag", "create", "--help"}).out.find("--message") != std::string::npos);

    for (auto args : std::vector<std::vector<std::string>>{
             {"repo"},
             {"repo", "frobnicate"},
             {"repo", "create"},
             {"repo", "create", "a/b", "extra"},
             {"repo", "create", "a/b", "--no-such-flag"},
             {"repo", "create", "a/b", "--repo-type", "nope"},
             {"repo", "create", "a/b", "--space-sdk", "docker"},
             {"repo", "delete"},
             {"repo", "branch"},
             {"repo", "branch", "move", "a/b", "x"},
             {"repo", "branch", "create", "a/b"},
             {"repo", "branch", "delete", "a/b", "x", "--revision", "main"},
             {"repo", "tag", "create", "a/b"},
             {"repo", "tag", "delete", "a/b"},
             {"repo", "settings", "a/b"},
             {"repo", "settings", "a/b", "--private", "--public"}}) {
        auto r = hf(args);
        std::string joined;
        for (auto& a : args) joined += a + " ";
        BOOST_TEST(r.code == 2, joined << "→ " << r.code << " " << r.err);
        BOOST_TEST(!r.err.empty(), joined);
        BOOST_TEST(r.out.empty(), joined << "→ " << r.out);
    }
}

BOOST_FIXTURE_TEST_CASE(create_prints_the_url_last, cli_fixture) {
    auto r = repo({"create", "alice/cli"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    BOOST_TEST(r.last_line() == s.url() + "/alice/cli");
    BOOST_TEST(s.get("/api/models/alice/cli").status == 200u);

    // Again: a conflict, exit 1 with the error on stderr; --exist-ok prints the URL.
    auto dup = repo({"create", "alice/cli"});
    BOOST_TEST(dup.code == 1);
    BOOST_TEST(dup.err.starts_with("hfhub: conflict"), dup.err);
    BOOST_TEST(dup.out.empty());
    auto ok = repo({"create", "alice/cli", "--exist-ok"});
    BOOST_TEST(ok.code == 0, ok.err);
    BOOST_TEST(ok.last_line() == s.url() + "/alice/cli");

    auto priv = repo({"create", "alice/d", "--repo-type", "dataset", "--private"});
    BOOST_TEST_REQUIRE(priv.code == 0, priv.err);
    BOOST_TEST(priv.last_line() == s.url() + "/datasets/alice/d");
    BOOST_TEST(s.get("/api/datasets/alice/d").status == 401u);
    BOOST_TEST(s.get("/api/datasets/alice/d", alice_token).status == 200u);

    auto space = repo({"create", "app", "--repo-type", "space", "--space-sdk", "docker"});
    BOOST_TEST_REQUIRE(space.code == 0, space.err);
    BOOST_TEST(space.last_line() == s.url() + "/spaces/alice/app");
    BOOST_TEST(s.get("/api/spaces/alice/app").status == 200u);

    auto bad = repo({"create", "a--b/c"});
    BOOST_TEST(bad.code == 1);
    BOOST_TEST(bad.err.starts_with("hfhub: invalid_repo_id"), bad.err);
}

BOOST_FIXTURE_TEST_CASE(endpoint_and_token_from_the_environment, cli_fixture) {
    temp_dir home;
    auto r = run_argv({"/usr/bin/env", "HF_ENDPOINT=" + s.url() + "/", "HF_TOKEN=" + bob_token,
                       "HF_HOME=" + home.path().string(), hfhub_binary(), "repo", "create", "from-env"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    BOOST_TEST(r.last_line() == s.url() + "/bob/from-env");
    BOOST_TEST(s.get("/api/models/bob/from-env").status == 200u);
}

BOOST_FIXTURE_TEST_CASE(delete_and_missing_ok, cli_fixture) {
    auto bob = repo({"delete", "alice/r"}, bob_token);
    BOOST_TEST(bob.code == 1);
    BOOST_TEST(bob.err.starts_with("hfhub: forbidden"), bob.err);
    BOOST_TEST(s.get("/api/models/alice/r").status == 200u);

    auto r = repo({"delete", "alice/r"});
    BOOST_TEST(r.code == 0, r.err);
    BOOST_TEST(s.get("/api/models/alice/r", alice_token).status == 404u);
    auto again = repo({"delete", "alice/r"});
    BOOST_TEST(again.code == 1);
    BOOST_TEST(again.err.starts_with("hfhub: repo_not_found"), again.err);
    BOOST_TEST(repo({"delete", "alice/r", "--missing-ok"}).code == 0);

    s.create_repo("alice/ds", alice_token, false, "dataset");
    BOOST_TEST(repo({"delete", "alice/ds"}).code == 1);  // no model of that name
    BOOST_TEST(repo({"delete", "alice/ds", "--repo-type", "dataset"}).code == 0);
    BOOST_TEST(s.get("/api/datasets/alice/ds", alice_token).status == 404u);
}

BOOST_FIXTURE_TEST_CASE(branches, cli_fixture) {
    auto r = repo({"branch", "create", "alice/r", "dev", "--revision", c1});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    BOOST_TEST(refs("branches")["dev"] == c1);
    BOOST_TEST(repo({"branch", "create", "alice/r", "feat/x"}).code == 0);
    BOOST_TEST(refs("branches")["feat/x"] == c2);

    auto dup = repo({"branch", "create", "alice/r", "dev"});
    BOOST_TEST(dup.code == 1);
    BOOST_TEST(dup.err.starts_with("hfhub: conflict"), dup.err);
    BOOST_TEST(repo({"branch", "create", "alice/r", "dev", "--exist-ok"}).code == 0);
    BOOST_TEST(refs("branches")["dev"] == c1);

    BOOST_TEST(repo({"branch", "delete", "alice/r", "dev"}).code == 0);
    BOOST_TEST(refs("branches").count("dev") == 0u);
    auto main = repo({"branch", "delete", "alice/r", "main"});
    BOOST_TEST(main.code == 1);
    BOOST_TEST(main.err.starts_with("hfhub: forbidden"), main.err);
    BOOST_TEST(refs("branches").count("main") == 1u);
    auto bad = repo({"branch", "create", "alice/r", "a..b"});
    BOOST_TEST(bad.code == 1);
    BOOST_TEST(bad.err.find("branch name 'a..b'") != std::string::npos, bad.err);
}

BOOST_FIXTURE_TEST_CASE(tags, cli_fixture) {
    auto r = repo({"tag", "create", "alice/r", "v1", "--revision", c1, "-m", "first"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    BOOST_TEST(refs("tags")["v1"] == c1);
    BOOST_TEST(repo({"tag", "create", "alice/r", "v2"}).code == 0);
    BOOST_TEST(refs("tags")["v2"] == c2);
    auto dup = repo({"tag", "create", "alice/r", "v1"});
    BOOST_TEST(dup.code == 1);
    BOOST_TEST(dup.err.starts_with("hfhub: conflict"), dup.err);
    BOOST_TEST(repo({"tag", "delete", "alice/r", "v1"}).code == 0);
    BOOST_TEST(refs("tags").count("v1") == 0u);
    auto gone = repo({"tag", "delete", "alice/r", "v1"});
    BOOST_TEST(gone.code == 1);
    BOOST_TEST(gone.err.starts_with("hfhub: revision_not_found"), gone.err);
}

BOOST_FIXTURE_TEST_CASE(settings_visibility, cli_fixture) {
    auto r = repo({"settings", "alice/r", "--private"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    BOOST_TEST(s.get("/api/models/alice/r").status == 401u);
    BOOST_TEST(s.get("/api/models/alice/r", alice_token).status == 200u);
    BOOST_TEST(repo({"settings", "alice/r", "--public"}, bob_token).code == 1);
    BOOST_TEST(repo({"settings", "alice/r", "--public"}).code == 0);
    BOOST_TEST(s.get("/api/models/alice/r").status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
