// `hfhub upload ...` (the real binary) against the server running in this process. Every case
// checks what landed on the server, not only what the command printed.
#include "hub_helpers.hpp"
#include "transport_util.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <map>
#include <regex>

using hfhub::test::alice_token;
using hfhub::test::bob_token;
using hfhub::test::file_list;
using hfhub::test::head_of;
using hfhub::test::jstr;
using hfhub::test::must_commit;
using hfhub::test::parse_json;
using hfhub::test::pattern_bytes;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
using hfhub::test::transport::child_process;
using hfhub::test::transport::hfhub_binary;
using namespace std::chrono_literals;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

using strings = std::vector<std::string>;

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

cli_result run_argv(const strings& argv) {
    child_process p(argv);
    cli_result r;
    r.code = p.wait(30000ms).value_or(-1);
    r.out = p.rest_of_stdout();
    r.err = p.rest_of_stderr();
    return r;
}

void write_file(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

struct upload_fixture {
    test_server s;
    temp_dir local;  // folders and files to upload
    temp_dir home;   // HF_HOME, so no stored token of the machine leaks in

    // `hfhub upload ARGS --endpoint <server> [--token <token>]`.
    cli_result upload(strings args, const std::string& token = alice_token) {
        strings argv{"/usr/bin/env", "-u", "HF_TOKEN", "-u", "HUGGING_FACE_HUB_TOKEN", "-u", "HF_TOKEN_PATH",
                     "HF_HOME=" + home.path().string(), hfhub_binary(), "upload"};
        argv.insert(argv.end(), args.begin(), args.end());
        argv.insert(argv.end(), {"--endpoint", s.url()});
        if (!token.empty()) argv.insert(argv.end(), {"--token", token});
        return run_argv(argv);
    }
    fs::path file(const std::string& rel, const std::string& content) {
        write_file(local.path() / rel, content);
        return local.path() / rel;
    }
    // The bytes of `path` at `rev`, through resolve (LFS redirects are followed).
    std::string content(const std::string& repo, const std::string& rev, const std::string& path,
                        const std::string& token = alice_token) {
        auto r = s.get("/" + repo + "/resolve/" + hfhub::test::q(rev) + "/" + path, token);
        if (r.status == 302) r = hfhub::test::http_request("GET", r.header("location"), {}, {});
        if (r.status != 200) throw std::runtime_error("resolve " + path + ": " + std::to_string(r.status));
        return r.body;
    }
    // The commits of `rev`, newest first.
    json::array commits(const std::string& api_repo, const std::string& rev = "main") {
        auto r = s.get("/api/" + api_repo + "/commits/" + hfhub::test::q(rev), alice_token);
        if (r.status != 200) throw std::runtime_error("commits: " + std::to_string(r.status) + " " + r.body);
        return parse_json(r).as_array();
    }
    // Commit POSTs in the access log so far.
    std::size_t commit_posts() const {
        std::size_t n = 0;
        for (auto& l : s.log_lines())
            if (l.find("\"POST\"") != std::string::npos && l.find("/commit/") != std::string::npos) ++n;
        return n;
    }
    std::string commit_url(const std::string& repo, const std::string& oid) const {
        return s.url() + "/" + repo + "/commit/" + oid;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(upload_cli)

BOOST_FIXTURE_TEST_CASE(creates_the_repo_and_prints_the_commit_url_last, upload_fixture) {
    BOOST_TEST_REQUIRE(s.get("/api/models/alice/fresh", alice_token).status == 404u);
    file("ckpt/config.json", R"({"a": 1})");
    std::string weights = pattern_bytes(200000, 7);
    weights[0] = '\0';  // binary: the server asks for LFS
    file("ckpt/weights.bin", weights);

    auto r = upload({"alice/fresh", (local.path() / "ckpt").string()});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    std::string head = head_of(s, "models/alice/fresh");
    BOOST_TEST(r.last_line() == commit_url("alice/fresh", head));
    BOOST_TEST(file_list(s, "models/alice/fresh") == (strings{".gitattributes", "config.json", "weights.bin"}));
    BOOST_TEST(content("alice/fresh", "main", "weights.bin") == weights);
    // weights.bin went through the LFS batch API, and its tree entry says so.
    auto tree = parse_json(s.get("/api/models/alice/fresh/tree/main", alice_token));
    bool lfs = false;
    for (auto& e : tree.as_array())
        if (jstr(e, "path") == "weights.bin") lfs = e.as_object().contains("lfs");
    BOOST_TEST(lfs);
}

BOOST_FIXTURE_TEST_CASE(single_file_with_and_without_path_in_repo, upload_fixture) {
    s.create_repo("alice/r", alice_token);
    auto f = file("model.safetensors", "first file");

    auto r = upload({"alice/r", f.string()});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    std::string h1 = head_of(s, "models/alice/r");
    BOOST_TEST(r.last_line() == commit_url("alice/r", h1));
    BOOST_TEST(content("alice/r", "main", "model.safetensors") == "first file");

    auto r2 = upload({"alice/r", f.string(), "weights/renamed.safetensors"});
    BOOST_TEST_REQUIRE(r2.code == 0, r2.err);
    std::string h2 = head_of(s, "models/alice/r");
    BOOST_TEST(h2 != h1);
    BOOST_TEST(r2.last_line() == commit_url("alice/r", h2));
    BOOST_TEST(file_list(s, "models/alice/r") ==
               (strings{".gitattributes", "model.safetensors", "weights/renamed.safetensors"}));
    BOOST_TEST(content("alice/r", "main", "weights/renamed.safetensors") == "first file");
    BOOST_TEST(jstr(commits("models/alice/r").at(0), "title") == "Upload weights/renamed.safetensors with hfhub");
}

BOOST_FIXTURE_TEST_CASE(folder_with_include_exclude_delete, upload_fixture) {
    s.create_repo("alice/r", alice_token);
    must_commit(s, "models/alice/r", "main",
                {test_server::add_file("keep.txt", "k"), test_server::add_file("old.log", "top"),
                 test_server::add_file("dst/old.log", "o"), test_server::add_file("dst/keep.md", "m")});
    file("src/a.json", "{}");
    file("src/b.txt", "excluded by --exclude");
    file("src/c.log", "not included");
    file("src/sub/d.json", "[1]");
    file("src/.git/config", "never uploaded");
    file("src/.cache/huggingface/upload.lock", "never uploaded");

    auto r = upload({"alice/r", (local.path() / "src").string(), "dst", "--include", "*.json", "--include", "*.txt",
                     "--exclude", "b*", "--delete", "*.log"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    BOOST_TEST(r.last_line() == commit_url("alice/r", head_of(s, "models/alice/r")));
    // Uploads land under dst/; deletes only touch dst/ (the top-level old.log stays).
    BOOST_TEST(file_list(s, "models/alice/r") ==
               (strings{".gitattributes", "dst/a.json", "dst/keep.md", "dst/sub/d.json", "keep.txt", "old.log"}));
    BOOST_TEST(content("alice/r", "main", "dst/sub/d.json") == "[1]");
}

BOOST_FIXTURE_TEST_CASE(revision_creates_the_branch_from_main, upload_fixture) {
    s.create_repo("alice/r", alice_token);
    std::string main_head = must_commit(s, "models/alice/r", "main", {test_server::add_file("a.txt", "1")});
    auto f = file("dev.txt", "on dev");

    auto r = upload({"alice/r", f.string(), "--revision", "dev"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    std::string dev_head = head_of(s, "models/alice/r", "dev");
    BOOST_TEST(dev_head != main_head);
    BOOST_TEST(r.last_line() == commit_url("alice/r", dev_head));
    BOOST_TEST(head_of(s, "models/alice/r") == main_head);
    auto dev = commits("models/alice/r", "dev");
    BOOST_TEST_REQUIRE(dev.size() >= 2u);
    BOOST_TEST(jstr(dev.at(1), "id") == main_head);  // branched from main's head
    BOOST_TEST(file_list(s, "models/alice/r", "dev") == (strings{".gitattributes", "a.txt", "dev.txt"}));
    BOOST_TEST(file_list(s, "models/alice/r") == (strings{".gitattributes", "a.txt"}));

    // A folder to a branch that does not exist yet, in a repo that does not exist yet.
    file("dir/x.txt", "x");
    auto r2 = upload({"alice/new", (local.path() / "dir").string(), "--revision", "feature"});
    BOOST_TEST_REQUIRE(r2.code == 0, r2.err);
    BOOST_TEST(r2.last_line() == commit_url("alice/new", head_of(s, "models/alice/new", "feature")));
    BOOST_TEST(file_list(s, "models/alice/new", "feature") == (strings{".gitattributes", "x.txt"}));
    BOOST_TEST(file_list(s, "models/alice/new") == (strings{".gitattributes"}));
}

BOOST_FIXTURE_TEST_CASE(create_pr_commits_to_refs_pr, upload_fixture) {
    s.create_repo("alice/r", alice_token);
    std::string main_head = must_commit(s, "models/alice/r", "main", {test_server::add_file("a.txt", "1")});
    file("pr/proposal.txt", "please merge");

    auto r = upload({"alice/r", (local.path() / "pr").string(), "--create-pr", "--commit-message", "Proposal"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    std::smatch m;
    std::string last = r.last_line();
    BOOST_TEST_REQUIRE(std::regex_match(last, m, std::regex(R"((.*)/alice/r/discussions/(\d+))")), last);
    BOOST_TEST(m[1].str() == s.url());
    std::string pr_ref = "refs/pr/" + m[2].str();
    BOOST_TEST(file_list(s, "models/alice/r", pr_ref) == (strings{".gitattributes", "a.txt", "proposal.txt"}));
    BOOST_TEST(content("alice/r", pr_ref, "proposal.txt") == "please merge");
    BOOST_TEST(head_of(s, "models/alice/r") == main_head);
    BOOST_TEST(file_list(s, "models/alice/r") == (strings{".gitattributes", "a.txt"}));
    auto d = s.get("/api/models/alice/r/discussions/" + m[2].str(), alice_token);
    BOOST_TEST_REQUIRE(d.status == 200u, d.body);
    json::value dv = parse_json(d);
    BOOST_TEST(dv.at("isPullRequest").as_bool());
    BOOST_TEST(jstr(dv, "title") == "Proposal");
}

BOOST_FIXTURE_TEST_CASE(commit_message_and_description, upload_fixture) {
    file("m/a.txt", "a");
    auto r = upload({"alice/r", (local.path() / "m").string(), "--commit-message", "Add the weights",
                     "--commit-description", "Trained for 3 epochs"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    auto list = commits("models/alice/r");
    BOOST_TEST_REQUIRE(!list.empty());
    BOOST_TEST(jstr(list.at(0), "id") == head_of(s, "models/alice/r"));
    BOOST_TEST(jstr(list.at(0), "title") == "Add the weights");
    BOOST_TEST(jstr(list.at(0), "message") == "Trained for 3 epochs");
}

BOOST_FIXTURE_TEST_CASE(private_creates_a_private_repo, upload_fixture) {
    file("p/secret.txt", "s3cret");
    auto r = upload({"alice/p", (local.path() / "p").string(), "--private"});
    BOOST_TEST_REQUIRE(r.code == 0, r.err);
    BOOST_TEST(s.get("/api/models/alice/p").status == 401u);
    BOOST_TEST(s.get("/api/models/alice/p", bob_token).status == 404u);
    BOOST_TEST(s.get("/alice/p/resolve/main/secret.txt").status == 401u);
    auto info = s.get("/api/models/alice/p", alice_token);
    BOOST_TEST_REQUIRE(info.status == 200u);
    BOOST_TEST(parse_json(info).at("private").as_bool());
    BOOST_TEST(content("alice/p", "main", "secret.txt") == "s3cret");

    // Without --private a new repo is public.
    auto pub = upload({"alice/pub", (local.path() / "p").string()});
    BOOST_TEST_REQUIRE(pub.code == 0, pub.err);
    BOOST_TEST(s.get("/api/models/alice/pub").status == 200u);
}

BOOST_FIXTURE_TEST_CASE(reupload_makes_no_new_commit, upload_fixture) {
    file("same/a.txt", "a");
    std::string big = pattern_bytes(300000, 3);
    big[0] = '\0';
    file("same/w.bin", big);
    auto first = upload({"alice/r", (local.path() / "same").string()});
    BOOST_TEST_REQUIRE(first.code == 0, first.err);
    std::string head = head_of(s, "models/alice/r");
    std::size_t posts = commit_posts();
    BOOST_TEST(posts == 1u);

    auto again = upload({"alice/r", (local.path() / "same").string()});
    BOOST_TEST_REQUIRE(again.code == 0, again.err);
    BOOST_TEST(head_of(s, "models/alice/r") == head);
    BOOST_TEST(again.last_line() == commit_url("alice/r", head));
    BOOST_TEST(commit_posts() == posts);
    BOOST_TEST(commits("models/alice/r").size() == 2u);  // the repo's initial commit and ours
}


// A fork or a mirror: the same folder to a second repo, whose bytes the store holds already.
// 30 MB is over the server's default 20 MiB multipart threshold; the 1 MB file goes basic.
BOOST_FIXTURE_TEST_CASE(the_same_folder_to_a_second_repo, upload_fixture) {
    std::string big = pattern_bytes(30u << 20, 61), small = pattern_bytes(1u << 20, 62);
    file("fork/w.bin", big);
    file("fork/small.bin", small);
    file("fork/config.json", R"({"a": 1})");
    for (std::string repo : {"alice/a", "alice/b"}) {
        std::size_t mark = s.log_lines().size();
        auto r = upload({repo, (local.path() / "fork").string()});
        BOOST_TEST_REQUIRE(r.code == 0, repo << ": " << r.err);
        std::string head = head_of(s, "models/" + repo);
        BOOST_TEST(r.last_line() == commit_url(repo, head));
        BOOST_TEST((content(repo, "main", "w.bin") == big), repo);
        BOOST_TEST((content(repo, "main", "small.bin") == small), repo);
        // Both transfers ran for this repo, so both must grant it.
        auto lines = s.log_lines();
        std::size_t completions = 0, basic_puts = 0;
        for (std::size_t i = mark; i < lines.size(); ++i) {
            auto e = json::parse(lines[i]).as_object();
            std::string target = jstr(e.at("target"));
            if (target.starts_with("/multipart/") && target.find("/complete?") != std::string::npos) ++completions;
            if (target.starts_with("/upload/")) ++basic_puts;
        }
        BOOST_TEST(completions == 1u, repo);
        BOOST_TEST(basic_puts == 1u, repo);
    }
}
BOOST_FIXTURE_TEST_CASE(usage_errors_exit_2, upload_fixture) {
    auto f = file("one.txt", "1");
    file("dir/a.txt", "a");
    std::string dir = (local.path() / "dir").string();
    auto help = upload({"--help"});
    BOOST_TEST(help.code == 0);
    BOOST_TEST(help.out.find("usage: hfhub upload") != std::string::npos, help.out);

    std::size_t log_before = s.log_lines().size();
    for (auto args : std::vector<strings>{
             {},
             {"alice/r"},
             {"alice/r", f.string(), "x.txt", "extra"},
             {"alice/r", (local.path() / "missing").string()},
             {"alice/r", f.string(), "--include", "*.txt"},
             {"alice/r", f.string(), "--exclude", "*.txt"},
             {"alice/r", f.string(), "--delete", "*.txt"},
             {"alice/r", dir, "--repo-type", "nope"},
             {"alice/r", dir, "--no-such-flag"},
             {"alice/r", dir, "--max-workers", "many"}}) {
        auto r = upload(args);
        std::string joined;
        for (auto& a : args) joined += a + " ";
        BOOST_TEST(r.code == 2, joined << "→ " << r.code << " " << r.err);
        BOOST_TEST(r.err.starts_with("hfhub upload: "), joined << "→ " << r.err);
        BOOST_TEST(r.out.empty(), joined << "→ " << r.out);
    }
    // Nothing reached the server.
    BOOST_TEST(s.log_lines().size() == log_before);
    BOOST_TEST(s.get("/api/models/alice/r", alice_token).status == 404u);
}

BOOST_FIXTURE_TEST_CASE(server_errors_exit_1, upload_fixture) {
    s.create_repo("alice/r", alice_token);
    std::string head = head_of(s, "models/alice/r");
    file("e/a.txt", "a");
    std::string dir = (local.path() / "e").string();

    // bob may not write to alice's repo.
    auto bob = upload({"alice/r", dir}, bob_token);
    BOOST_TEST(bob.code == 1);
    BOOST_TEST(bob.err.starts_with("hfhub upload: "), bob.err);
    BOOST_TEST(bob.out.empty(), bob.out);

    // An unknown token.
    auto bad = upload({"alice/r", dir}, "hf_not_a_token");
    BOOST_TEST(bad.code == 1);
    BOOST_TEST(bad.err.starts_with("hfhub upload: "), bad.err);

    // The commit POST fails: exit 1 and nothing lands.
    auto f = s.post("/admin/faults", R"({"rules":[{"match":"/commit/","method":"POST","times":0,"status":500}]})");
    BOOST_TEST_REQUIRE(f.status == 200u, f.body);
    auto failed = upload({"alice/r", dir});
    BOOST_TEST(failed.code == 1);
    BOOST_TEST(failed.err.starts_with("hfhub upload: "), failed.err);
    BOOST_TEST(failed.out.empty(), failed.out);
    BOOST_TEST(commit_posts() >= 1u);  // it got as far as the commit
    BOOST_TEST(head_of(s, "models/alice/r") == head);
    BOOST_TEST(file_list(s, "models/alice/r") == (strings{".gitattributes"}));

    // Anonymous: the server refuses to create a repo.
    s.send("DELETE", "/admin/faults", {});
    auto anon = upload({"alice/anon", dir}, "");
    BOOST_TEST(anon.code == 1);
    BOOST_TEST(anon.err.starts_with("hfhub upload: "), anon.err);
    BOOST_TEST(s.get("/api/models/alice/anon", alice_token).status == 404u);
}

BOOST_AUTO_TEST_SUITE_END()
