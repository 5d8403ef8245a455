// `hfhub whoami | login | logout` (the real binary): the token file Python reads, mode 0600.
#include "hub_helpers.hpp"
#include "transport_util.hpp"

#include "util/fs.hpp"

#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

using hfhub::test::alice_token;
using hfhub::test::bob_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
using hfhub::test::transport::child_process;
using hfhub::test::transport::hfhub_binary;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

struct result {
    int code = -1;
    std::string out, err;
};

struct account_fixture {
    test_server s;
    temp_dir home;
    // Runs hfhub with a private HF_HOME and no token in the environment.
    result hf(std::vector<std::string> args, std::vector<std::string> env = {}) {
        std::vector<std::string> argv{"/usr/bin/env", "-u", "HF_TOKEN", "-u", "HUGGING_FACE_HUB_TOKEN", "-u", "HF_TOKEN_PATH",
                                      "HF_HOME=" + home.path().string(), "HF_ENDPOINT=" + s.url()};
        argv.insert(argv.end(), env.begin(), env.end());
        argv.push_back(hfhub_binary());
        argv.insert(argv.end(), args.begin(), args.end());
        child_process p(argv);
        result r;
        r.code = p.wait(20000ms).value_or(-1);
        r.out = p.rest_of_stdout();
        r.err = p.rest_of_stderr();
        return r;
    }
    fs::path token_file() const { return home.path() / "token"; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(account_cli)

BOOST_FIXTURE_TEST_CASE(login_whoami_logout, account_fixture) {
    auto none = hf({"whoami"});
    BOOST_TEST(none.code == 1);
    BOOST_TEST(none.err.find("not logged in") != std::string::npos);

    auto bad = hf({"login", "--token", "hf_not_a_real_token"});
    BOOST_TEST(bad.code == 1);
    BOOST_TEST(!fs::exists(token_file()));  // a refused token is never stored

    auto in = hf({"login", "--token", alice_token});
    BOOST_TEST(in.code == 0);
    BOOST_TEST(in.out.find("logged in as alice") != std::string::npos);
    BOOST_TEST(hfhub::util::read_file(token_file()).value_or("") == alice_token);
    struct stat st {};
    BOOST_REQUIRE(::stat(token_file().c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);

    auto me = hf({"whoami"});
    BOOST_TEST(me.code == 0);
    BOOST_TEST(me.out == "alice\norgs: acme\n");
    // $HF_TOKEN wins over the stored token, as in Python.
    BOOST_TEST(hf({"whoami"}, {"HF_TOKEN=" + bob_token}).out == "bob\n");

    auto out = hf({"logout"});
    BOOST_TEST(out.code == 0);
    BOOST_TEST(!fs::exists(token_file()));
    BOOST_TEST(hf({"whoami"}).code == 1);
    BOOST_TEST(hf({"logout"}).out == "not logged in\n");
}

BOOST_FIXTURE_TEST_CASE(login_honours_hf_token_path, account_fixture) {
    fs::path custom = home.path() / "elsewhere" / "tok";
    auto in = hf({"login", "--token", bob_token}, {"HF_TOKEN_PATH=" + custom.string()});
    BOOST_TEST(in.code == 0);
    BOOST_TEST(hfhub::util::read_file(custom).value_or("") == bob_token);
    BOOST_TEST(!fs::exists(token_file()));
    BOOST_TEST(hf({"whoami"}, {"HF_TOKEN_PATH=" + custom.string()}).out == "bob\n");
    // No token on an empty stdin: a usage error, and nothing written.
    child_process p({"/bin/sh", "-c", "exec \"$0\" login </dev/null", hfhub_binary()});
    BOOST_TEST(p.wait(20000ms).value_or(-1) == 2);
}

BOOST_AUTO_TEST_SUITE_END()
