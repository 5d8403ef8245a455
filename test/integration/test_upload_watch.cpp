// `hfhub upload --watch` (the real binary) against the server running in this process:
// checkpoint folders written slowly, marker last, while it runs; then the repo tree at every
// commit. Also `--format json`, and co_preupload_lfs_files, which the watch is built on.
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "transport_util.hpp"

#include <hfhub/commit.hpp>

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <csignal>
#include <fstream>
#include <map>
#include <thread>

using hfhub::test::alice_token;
using hfhub::test::bob_token;
using hfhub::test::file_list;
using hfhub::test::head_of;
using hfhub::test::jstr;
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
using files = std::map<std::string, std::string>;  // relative path → content

struct cli_result {
    int code = -1;
    std::string out, err;
};

void write_file(const fs::path& p, const std::string& content) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
}

// A checkpoint: a small JSON file, an LFS-sized binary, a nested text file; all differ by k.
files checkpoint(int k) {
    std::string weights = pattern_bytes(150000, static_cast<unsigned>(k) + 10);
    weights[0] = '\0';  // binary: the server asks for LFS
    return {{"config.json", "{\"step\": " + std::to_string(k * 100) + "}"},
            {"weights.bin", weights},
            {"extra/notes.txt", "checkpoint " + std::to_string(k) + "\n"}};
}

// The next stdout line, waiting up to `timeout` unless the process exits (a poll that returns
// early does not end the wait).
std::optional<std::string> next_line(child_process& p, std::chrono::milliseconds timeout = 15000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return std::nullopt;
        if (auto l = p.read_line(left)) return l;
        if (p.wait(0ms)) return p.read_line(0ms);
    }
}

// The exit status once the process ends within `timeout`.
std::optional<int> exit_code(child_process& p, std::chrono::milliseconds timeout = 10000ms) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (auto c = p.wait(std::max(left, 0ms))) return c;
        if (left.count() <= 0) return std::nullopt;
    }
}

// For BOOST_FAIL only (a BOOST_TEST message is evaluated even when the check passes): stops
// the process first, so reading its stderr cannot block.
std::string stderr_of(child_process& p) {
    if (!p.wait(0ms)) {
        p.signal(SIGKILL);
        exit_code(p, 5000ms);
    }
    return p.rest_of_stderr();
}

struct watch_fixture {
    test_server s;
    temp_dir local;
    temp_dir home;  // HF_HOME, so no stored token of the machine leaks in
    fs::path dir = local.path() / "runs";

    watch_fixture() { fs::create_directories(dir); }

    strings argv(const strings& args, const std::string& token) const {
        strings a{"/usr/bin/env", "-u", "HF_TOKEN", "-u", "HUGGING_FACE_HUB_TOKEN", "-u", "HF_TOKEN_PATH",
                  "HF_HOME=" + home.path().string(), hfhub_binary(), "upload"};
        a.insert(a.end(), args.begin(), args.end());
        a.insert(a.end(), {"--endpoint", s.url()});
        if (!token.empty()) a.insert(a.end(), {"--token", token});
        return a;
    }
    std::unique_ptr<child_process> spawn(const strings& args, const std::string& token = alice_token) {
        return std::make_unique<child_process>(argv(args, token));
    }
    cli_result run(const strings& args, const std::string& token = alice_token) {
        child_process p(argv(args, token));
        cli_result r;
        r.code = exit_code(p, 30000ms).value_or(-1);
        r.out = p.rest_of_stdout();
        r.err = p.rest_of_stderr();
        return r;
    }
    // Files one at a time with a pause between them; the marker last, when given.
    void write_slowly(const std::string& folder, const files& f, const std::string& marker = ".complete",
                      std::chrono::milliseconds pause = 60ms) {
        for (auto& [path, content] : f) {
            write_file(dir / folder / path, content);
            std::this_thread::sleep_for(pause);
        }
        if (!marker.empty()) write_file(dir / folder / marker, "");
    }
    // The bytes of `path` at `rev`, through resolve (LFS redirects are followed).
    std::string content(const std::string& repo, const std::string& rev, const std::string& path) {
        auto r = s.get("/" + repo + "/resolve/" + hfhub::test::q(rev) + "/" + path, alice_token);
        if (r.status == 302) r = hfhub::test::http_request("GET", r.header("location"), {}, {});
        if (r.status != 200) throw std::runtime_error("resolve " + path + ": " + std::to_string(r.status));
        return r.body;
    }
    // The commits of main, newest first.
    json::array commits(const std::string& api_repo) {
        auto r = s.get("/api/" + api_repo + "/commits/main", alice_token);
        if (r.status != 200) throw std::runtime_error("commits: " + std::to_string(r.status) + " " + r.body);
        return parse_json(r).as_array();
    }
    std::string commit_url(const std::string& repo, const std::string& oid) const {
        return s.url() + "/" + repo + "/commit/" + oid;
    }
    // Settled access-log lines from index `from` on with this listener, method and target part.
    std::size_t count(std::size_t from, const std::string& listener, const std::string& method,
                      const std::string& needle) {
        auto lines = hfhub::test::settled_log(s);
        std::size_t n = 0;
        for (std::size_t i = from; i < lines.size(); ++i) {
            auto v = json::parse(lines[i]).as_object();
            if (v.at("listener").as_string() == listener && v.at("method").as_string() == method &&
                std::string_view(v.at("target").as_string()).find(needle) != std::string_view::npos)
                ++n;
        }
        return n;
    }
};

// .gitattributes and every file of the given checkpoints, under prefix/<folder>/.
strings expected_paths(const strings& folders, const std::string& prefix = "", const strings& extra = {}) {
    strings out{".gitattributes"};
    for (auto& f : folders) {
        for (auto& [p, _] : checkpoint(1)) out.push_back(prefix + f + "/" + p);
        for (auto& e : extra) out.push_back(prefix + f + "/" + e);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string all_of(const cli_result& r) { return "exit " + std::to_string(r.code) + "\nout: " + r.out + "\nerr: " + r.err; }

}  // namespace

BOOST_AUTO_TEST_SUITE(upload_watch)

BOOST_FIXTURE_TEST_CASE(three_checkpoints_written_slowly_make_three_complete_commits, watch_fixture) {
    // Only inotify can see the folders in time: the rescan comes once a minute.
    auto p = spawn({"--watch", dir.string(), "alice/w", "--max-commits", "3", "--poll-interval", "60",
                    "--idle-exit", "20"});
    strings lines;
    for (int k = 1; k <= 3; ++k) {
        std::string name = "ckpt-" + std::to_string(k);
        auto f = checkpoint(k);
        write_slowly(name, f, "");
        // The next checkpoint is half written before this one is complete.
        if (k < 3) write_file(dir / ("ckpt-" + std::to_string(k + 1)) / "config.json", "half written");
        std::this_thread::sleep_for(60ms);
        write_file(dir / name / ".complete", "");
        auto line = next_line(*p);
        if (!line) BOOST_FAIL("no commit line for " << name << "; stderr: " << stderr_of(*p));
        lines.push_back(*line);
    }
    auto code = exit_code(*p, 10000ms);
    BOOST_TEST_REQUIRE(code.has_value());
    BOOST_TEST(*code == 0, p->rest_of_stderr());
    BOOST_TEST(p->rest_of_stdout().empty());

    auto list = commits("models/alice/w");
    BOOST_TEST_REQUIRE(list.size() == 4u);  // the repo's initial commit and three
    for (int k = 1; k <= 3; ++k) {
        std::string oid = jstr(list.at(3 - k), "id");
        std::string name = "ckpt-" + std::to_string(k);
        BOOST_TEST(lines.at(k - 1) == commit_url("alice/w", oid));
        BOOST_TEST(jstr(list.at(3 - k), "title") == "Upload checkpoint " + name + " with hfhub");
        // Everything of this checkpoint and the earlier ones; nothing of the half-written next
        // one, and no marker.
        strings folders;
        for (int j = 1; j <= k; ++j) folders.push_back("ckpt-" + std::to_string(j));
        BOOST_TEST(file_list(s, "models/alice/w", oid) == expected_paths(folders), name);
        for (auto& [path, bytes] : checkpoint(k)) BOOST_TEST(content("alice/w", oid, name + "/" + path) == bytes);
    }
    BOOST_TEST(head_of(s, "models/alice/w") == jstr(list.at(0), "id"));
}

BOOST_FIXTURE_TEST_CASE(rescan_without_inotify_orders_by_completion_and_applies_the_options, watch_fixture) {
    // Two complete before the start: checkpoint-10 finished first, so it is pushed first.
    auto now = fs::file_time_type::clock::now();
    write_slowly("checkpoint-10", checkpoint(10), "step.done", 0ms);
    write_slowly("checkpoint-2", checkpoint(2), "step.done", 0ms);
    fs::last_write_time(dir / "checkpoint-10" / "step.done", now - 20s);
    fs::last_write_time(dir / "checkpoint-2" / "step.done", now - 10s);
    write_slowly("other", checkpoint(4), "step.done", 0ms);          // not a checkpoint name
    write_slowly("checkpoint-20", checkpoint(20), "", 0ms);          // never complete
    write_slowly("checkpoint-21", checkpoint(21), ".complete", 0ms);  // not this marker

    auto p = spawn({"--watch", dir.string(), "alice/p", "--no-inotify", "--poll-interval", "0.1", "--folders",
                    "checkpoint-*", "--marker", "*.done", "--upload-marker", "--path-in-repo", "ckpts",
                    "--commit-message", "step {folder} ({folder})", "--idle-exit", "2"});
    auto first = next_line(*p);
    if (!first) BOOST_FAIL("no line; stderr: " << stderr_of(*p));
    write_slowly("checkpoint-30", checkpoint(30), "step.done");
    auto code = exit_code(*p, 15000ms);
    BOOST_TEST_REQUIRE(code.has_value());
    std::string err = p->rest_of_stderr();
    BOOST_TEST(*code == 0, err);
    BOOST_TEST(err.find("stopped: nothing new for 2000 ms") != std::string::npos, err);
    BOOST_TEST(err.find("rescanning it every 100 ms") != std::string::npos, err);

    auto list = commits("models/alice/p");
    BOOST_TEST_REQUIRE(list.size() == 4u);
    BOOST_TEST(jstr(list.at(2), "title") == "step checkpoint-10 (checkpoint-10)");
    BOOST_TEST(jstr(list.at(1), "title") == "step checkpoint-2 (checkpoint-2)");
    BOOST_TEST(jstr(list.at(0), "title") == "step checkpoint-30 (checkpoint-30)");
    BOOST_TEST(*first == commit_url("alice/p", jstr(list.at(2), "id")));
    BOOST_TEST(file_list(s, "models/alice/p", jstr(list.at(2), "id")) ==
               expected_paths({"checkpoint-10"}, "ckpts/", {"step.done"}));
    BOOST_TEST(file_list(s, "models/alice/p") ==
               expected_paths({"checkpoint-10", "checkpoint-2", "checkpoint-30"}, "ckpts/", {"step.done"}));
    BOOST_TEST(content("alice/p", "main", "ckpts/checkpoint-30/weights.bin") == checkpoint(30).at("weights.bin"));
}

BOOST_FIXTURE_TEST_CASE(a_restart_pushes_only_the_later_checkpoints, watch_fixture) {
    write_slowly("ckpt-1", checkpoint(1), ".complete", 0ms);
    auto first = run({"--watch", dir.string(), "alice/r", "--max-commits", "1", "--idle-exit", "10"});
    BOOST_TEST_REQUIRE(first.code == 0, all_of(first));
    std::string h1 = head_of(s, "models/alice/r");
    BOOST_TEST(first.out == commit_url("alice/r", h1) + "\n");
    BOOST_TEST(file_list(s, "models/alice/r") == expected_paths({"ckpt-1"}));

    auto from = hfhub::test::settled_log(s).size();
    auto p = spawn({"--watch", dir.string(), "alice/r", "--max-commits", "2", "--idle-exit", "10"});
    write_slowly("ckpt-2", checkpoint(2));
    auto l2 = next_line(*p);
    if (!l2) BOOST_FAIL("no line; stderr: " << stderr_of(*p));
    write_slowly("ckpt-3", checkpoint(3));
    auto l3 = next_line(*p);
    if (!l3) BOOST_FAIL("no line; stderr: " << stderr_of(*p));
    auto code = exit_code(*p, 10000ms);
    BOOST_TEST_REQUIRE(code.has_value());
    std::string err = p->rest_of_stderr();
    BOOST_TEST(*code == 0, err);
    BOOST_TEST(err.find("ckpt-1: already on the Hub") != std::string::npos, err);

    auto list = commits("models/alice/r");
    BOOST_TEST_REQUIRE(list.size() == 4u);  // initial, ckpt-1, ckpt-2, ckpt-3
    BOOST_TEST(jstr(list.at(2), "id") == h1);
    BOOST_TEST(*l2 == commit_url("alice/r", jstr(list.at(1), "id")));
    BOOST_TEST(*l3 == commit_url("alice/r", jstr(list.at(0), "id")));
    BOOST_TEST(file_list(s, "models/alice/r", jstr(list.at(1), "id")) == expected_paths({"ckpt-1", "ckpt-2"}));
    BOOST_TEST(file_list(s, "models/alice/r") == expected_paths({"ckpt-1", "ckpt-2", "ckpt-3"}));
    // The second run committed twice and sent only the two new weights files.
    BOOST_TEST(count(from, "api", "POST", "/commit/") == 2u);
    BOOST_TEST(count(from, "storage", "PUT", "") == 2u);
}

BOOST_FIXTURE_TEST_CASE(format_json_names_the_commits, watch_fixture) {
    // One upload: one object.
    write_slowly("single", checkpoint(1), "", 0ms);
    auto one = run({"alice/j", (dir / "single").string(), "--format", "json"});
    BOOST_TEST_REQUIRE(one.code == 0, all_of(one));
    json::value v = json::parse(one.out);
    std::string h1 = head_of(s, "models/alice/j");
    BOOST_TEST(jstr(v, "oid") == h1);
    BOOST_TEST(jstr(v, "commit_url") == commit_url("alice/j", h1));
    BOOST_TEST(jstr(v, "repo_id") == "alice/j");
    BOOST_TEST(v.at("changed").as_bool());
    BOOST_TEST(v.at("operations").to_number<int>() == 3);
    BOOST_TEST(v.at("lfs_files_uploaded").to_number<int>() == 1);
    BOOST_TEST(v.at("lfs_bytes_uploaded").to_number<std::uint64_t>() == checkpoint(1).at("weights.bin").size());
    BOOST_TEST(v.at("pr_url").is_null());
    // Again: nothing changed, the same head.
    auto again = run({"alice/j", (dir / "single").string(), "--format", "json", "--quiet"});
    BOOST_TEST_REQUIRE(again.code == 0, all_of(again));
    json::value v2 = json::parse(again.out);
    BOOST_TEST(!v2.at("changed").as_bool());
    BOOST_TEST(jstr(v2, "oid") == h1);
    BOOST_TEST(v2.at("operations").to_number<int>() == 0);
    // A pull request names itself.
    write_file(local.path() / "pr.txt", "proposal");
    auto pr = run({"alice/j", (local.path() / "pr.txt").string(), "--create-pr", "--format", "json"});
    BOOST_TEST_REQUIRE(pr.code == 0, all_of(pr));
    json::value pv = json::parse(pr.out);
    BOOST_TEST_REQUIRE(pv.at("pr_num").is_number());
    std::string n = std::to_string(pv.at("pr_num").to_number<int>());
    BOOST_TEST(jstr(pv, "pr_url") == s.url() + "/alice/j/discussions/" + n);
    BOOST_TEST(jstr(pv, "oid") == head_of(s, "models/alice/j", "refs/pr/" + n));
    fs::remove_all(dir / "single");

    // --watch: one line per commit.
    // (Contents the server has not stored yet: its LFS store is shared by all repos.)
    write_slowly("ckpt-1", checkpoint(5), ".complete", 0ms);
    write_slowly("ckpt-2", checkpoint(6), ".complete", 0ms);
    fs::last_write_time(dir / "ckpt-1" / ".complete", fs::file_time_type::clock::now() - 5s);
    auto w = run({"--watch", dir.string(), "alice/jw", "--format", "json", "--idle-exit", "0", "--quiet"});
    BOOST_TEST_REQUIRE(w.code == 0, all_of(w));
    BOOST_TEST(w.err.empty(), w.err);
    auto list = commits("models/alice/jw");
    BOOST_TEST_REQUIRE(list.size() == 3u);
    std::istringstream lines(w.out);
    std::string line;
    for (int k = 1; k <= 2; ++k) {
        BOOST_TEST_REQUIRE(static_cast<bool>(std::getline(lines, line)));
        json::value c = json::parse(line);
        std::string oid = jstr(list.at(2 - k), "id");
        BOOST_TEST(jstr(c, "folder") == "ckpt-" + std::to_string(k));
        BOOST_TEST(jstr(c, "path_in_repo") == "ckpt-" + std::to_string(k));
        BOOST_TEST(jstr(c, "oid") == oid);
        BOOST_TEST(jstr(c, "commit_url") == commit_url("alice/jw", oid));
        BOOST_TEST(c.at("files").to_number<int>() == 3);
        BOOST_TEST(c.at("operations").to_number<int>() == 3);
        BOOST_TEST(c.at("lfs_files_uploaded").to_number<int>() == 1);
    }
    BOOST_TEST(!std::getline(lines, line));
}

BOOST_FIXTURE_TEST_CASE(bad_repo_or_missing_dir_fails_clearly, watch_fixture) {
    write_slowly("ckpt-1", checkpoint(1), ".complete", 0ms);
    std::size_t log_before = hfhub::test::settled_log(s).size();
    struct usage_case {
        strings args;
        std::string says;
    };
    for (auto& c : std::vector<usage_case>{
             {{"--watch", (local.path() / "missing").string(), "alice/w"}, "is not a folder to watch"},
             {{"--watch", (dir / "ckpt-1" / "config.json").string(), "alice/w"}, "is not a folder to watch"},
             {{"--watch", dir.string(), "alice/bad--name"}, "invalid repo id"},
             {{"--watch", dir.string(), "a/b/c"}, "invalid repo id"},
             {{"--watch", dir.string()}, "needs a repo id"},
             {{"--watch", dir.string(), "alice/w", "extra"}, "one argument too many"},
             {{"--watch", dir.string(), "alice/w", "--delete", "*"}, "--delete does not apply"},
             {{"--watch", dir.string(), "alice/w", "--max-commits", "0"}, "--max-commits"},
             {{"--watch", dir.string(), "alice/w", "--idle-exit", "-1"}, "--idle-exit"},
             {{"--watch", dir.string(), "alice/w", "--path-in-repo", "../up"}, "--path-in-repo"},
             {{"--watch", dir.string(), "alice/w", "--format", "yaml"}, "--format"},
             {{"alice/w", dir.string(), "--marker", "x"}, "applies to --watch only"}}) {
        auto r = run(c.args);
        std::string joined;
        for (auto& a : c.args) joined += a + " ";
        BOOST_TEST(r.code == 2, joined << all_of(r));
        BOOST_TEST(r.err.starts_with("hfhub upload: "), joined << all_of(r));
        BOOST_TEST(r.err.find(c.says) != std::string::npos, joined << all_of(r));
        BOOST_TEST(r.out.empty(), joined << all_of(r));
    }
    BOOST_TEST(hfhub::test::settled_log(s).size() == log_before);  // nothing reached the server

    // A repo the token may not write to: exit 1 before anything is pushed.
    s.create_repo("alice/w", alice_token);
    std::string head = head_of(s, "models/alice/w");
    auto bob = run({"--watch", dir.string(), "alice/w", "--idle-exit", "5"}, bob_token);
    BOOST_TEST(bob.code == 1, all_of(bob));
    BOOST_TEST(bob.err.starts_with("hfhub upload: "), all_of(bob));
    BOOST_TEST(bob.out.empty());
    BOOST_TEST(head_of(s, "models/alice/w") == head);
    // With --format json the same failure is a typed error object, for the watch and for a
    // single upload.
    for (auto args : {std::vector<std::string>{"--watch", dir.string(), "alice/w", "--idle-exit", "5"},
                      std::vector<std::string>{"alice/w", dir.string()}}) {
        args.insert(args.end(), {"--format", "json"});
        auto r = run(args, bob_token);
        BOOST_TEST(r.code == 1, all_of(r));
        auto e = json::parse(r.out).at("error").as_object();
        BOOST_TEST(e.at("code").as_string() == "forbidden", all_of(r));
        BOOST_TEST(e.at("status").as_int64() == 403, all_of(r));
    }
    BOOST_TEST(head_of(s, "models/alice/w") == head);

    // --help shows --watch with an example.
    auto help = run({"--help"});
    BOOST_TEST(help.code == 0);
    BOOST_TEST(help.out.find("hfhub upload --watch ./ckpt alice/model") != std::string::npos, help.out);
    BOOST_TEST(help.out.find("--max-commits") != std::string::npos, help.out);
}

BOOST_FIXTURE_TEST_CASE(sigterm_abandons_the_checkpoint_not_yet_committing, watch_fixture) {
    auto p = spawn({"--watch", dir.string(), "alice/t", "--idle-exit", "30"});
    write_slowly("ckpt-1", checkpoint(1), ".complete", 0ms);
    auto l1 = next_line(*p);
    if (!l1) BOOST_FAIL("no line; stderr: " << stderr_of(*p));
    std::string h1 = head_of(s, "models/alice/t");
    BOOST_TEST(*l1 == commit_url("alice/t", h1));
    // ckpt-2's LFS upload hangs on the storage side; SIGTERM must not wait for it.
    auto f = s.post("/admin/faults", R"({"rules":[{"listener":"storage","method":"PUT","times":0,"stall_ms":15000}]})");
    BOOST_TEST_REQUIRE(f.status == 200u, f.body);
    write_slowly("ckpt-2", checkpoint(2), ".complete", 0ms);
    std::this_thread::sleep_for(700ms);
    auto t0 = std::chrono::steady_clock::now();
    p->signal(SIGTERM);
    auto code = exit_code(*p, 8000ms);
    BOOST_TEST_REQUIRE(code.has_value(), "still running 8 s after SIGTERM");
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    BOOST_TEST(took.count() < 5000);
    std::string err = p->rest_of_stderr();
    BOOST_TEST(*code == 0, err);
    BOOST_TEST(err.find("ckpt-2: not committed") != std::string::npos, err);
    BOOST_TEST(err.find("stopped: SIGTERM") != std::string::npos, err);
    BOOST_TEST(p->rest_of_stdout().empty());
    BOOST_TEST(head_of(s, "models/alice/t") == h1);
    BOOST_TEST(file_list(s, "models/alice/t") == expected_paths({"ckpt-1"}));
    s.send("DELETE", "/admin/faults", {});
}

BOOST_AUTO_TEST_SUITE_END()

// The library piece under the watch: hash and store LFS objects now, commit later.
BOOST_AUTO_TEST_SUITE(preupload_lfs_api)

BOOST_FIXTURE_TEST_CASE(a_later_commit_sends_no_object_again, watch_fixture) {
    using namespace hfhub;
    s.create_repo("alice/m", alice_token);
    std::string head = head_of(s, "models/alice/m");
    auto files_of = checkpoint(1);
    write_file(local.path() / "w.bin", files_of.at("weights.bin"));
    write_file(local.path() / "config.json", files_of.at("config.json"));
    boost::asio::io_context ioc;
    auto cfg = hfhub::test::quick_config(s.url());
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);
    commit_options o;
    o.commit_message = "later";
    std::vector<commit_add> adds{commit_add::file("w.bin", local.path() / "w.bin"),
                                 commit_add::file("config.json", local.path() / "config.json"),
                                 commit_add::bytes("b.txt", "bytes")};

    auto from = hfhub::test::settled_log(s).size();
    auto pre = hfhub::test::run(ioc, co_preupload_lfs_files(c, "alice/m", adds, o));
    BOOST_TEST_REQUIRE(pre.size() == 3u);
    for (auto& a : pre) BOOST_TEST(a.preuploaded != nullptr);
    BOOST_TEST(count(from, "storage", "PUT", "") == 1u);
    BOOST_TEST(count(from, "api", "POST", "/commit/") == 0u);
    BOOST_TEST(head_of(s, "models/alice/m") == head);

    auto mid = hfhub::test::settled_log(s).size();
    std::vector<commit_operation> ops(pre.begin(), pre.end());
    auto info = hfhub::test::run(ioc, co_create_commit(c, "alice/m", ops, o));
    BOOST_TEST(info.changed);
    BOOST_TEST(info.files_uploaded == 1u);  // sent by the preupload, counted here
    BOOST_TEST(info.bytes_uploaded == files_of.at("weights.bin").size());
    BOOST_TEST(info.operations == 3u);
    BOOST_TEST(count(mid, "storage", "PUT", "") == 0u);
    BOOST_TEST(count(mid, "api", "POST", "/commit/") == 1u);
    BOOST_TEST(head_of(s, "models/alice/m") == info.oid);
    BOOST_TEST(content("alice/m", "main", "w.bin") == files_of.at("weights.bin"));
    BOOST_TEST(content("alice/m", "main", "config.json") == files_of.at("config.json"));
    BOOST_TEST(content("alice/m", "main", "b.txt") == "bytes");

    // A regular file changed after its preupload: the commit refuses it, and nothing lands.
    std::vector<commit_add> again{commit_add::file("config.json", local.path() / "config.json")};
    write_file(local.path() / "config.json", "{\"step\": 1}");
    auto pre2 = hfhub::test::run(ioc, co_preupload_lfs_files(c, "alice/m", again, o));
    write_file(local.path() / "config.json", "{\"step\": 2}");
    std::vector<commit_operation> ops2(pre2.begin(), pre2.end());
    auto ec = hfhub::test::error_of([&] { hfhub::test::run(ioc, co_create_commit(c, "alice/m", ops2, o)); });
    BOOST_TEST(ec == client_errc::local_file_changed);
    BOOST_TEST(head_of(s, "models/alice/m") == info.oid);
}

BOOST_AUTO_TEST_SUITE_END()


