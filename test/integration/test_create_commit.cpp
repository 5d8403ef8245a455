// co_create_commit and the upload helpers against the local server: every operation kind,
// regular + LFS basic + multipart in one commit, PRs and branches, stale parents and rebasing,
// failures that must leave no commit, a lost commit answer, and a big folder.
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "test_server.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <thread>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::head_of;
using hfhub::test::pattern_bytes;
using hfhub::test::error_of;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& data) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
}

// LFS objects above 2 MiB go multipart in 512 KiB parts, so small files exercise every path.
struct up_fixture {
    test_server srv{[](server::options& o) {
        o.multipart_threshold = 2 << 20;
        o.multipart_chunk = 512 << 10;
    }};
    temp_dir work;
    temp_dir cache;
    asio::io_context ioc;
    std::unique_ptr<client> c;

    up_fixture() {
        srv.create_repo("alice/m", alice_token);
        auto cfg = quick_config(srv.url());
        cfg.token = alice_token;
        c = std::make_unique<client>(ioc.get_executor(), cfg);
    }
    commit_options opts(std::string message = "test") const {
        commit_options o;
        o.commit_message = std::move(message);
        return o;
    }
    commit_info commit(std::vector<commit_operation> ops, commit_options o) {
        return run(ioc, co_create_commit(*c, "alice/m", std::move(ops), std::move(o)));
    }
    commit_info commit(std::vector<commit_operation> ops) { return commit(std::move(ops), opts()); }
    // The file's bytes at `rev`, through the client's own download path.
    std::string fetch(const std::string& file, const std::string& rev = "main") {
        download_options o;
        o.cache_dir = cache.path();
        o.revision = rev;
        o.force_download = true;
        return *util::read_file(run(ioc, co_hf_hub_download(*c, "alice/m", file, o)));
    }
    bool exists(const std::string& file, const std::string& rev = "main") {
        repo_query q;
        q.revision = rev;
        return run(ioc, co_file_exists(*c, "alice/m", file, q));
    }
    std::size_t commits(const std::string& rev = "main") {
        repo_query q;
        q.revision = rev;
        return run(ioc, co_list_repo_commits(*c, "alice/m", q)).size();
    }
    std::string head(const std::string& rev = "main") { return head_of(srv, "models/alice/m", rev); }
    void faults(const std::string& rules) {
        auto r = srv.post("/admin/faults", rules);
        BOOST_REQUIRE(r.status == 200);
    }
    // Access-log lines from index `from` on whose method and target match.
    std::size_t count(std::size_t from, const std::string& method, const std::string& needle) {
        auto lines = hfhub::test::settled_log(srv);
        std::size_t n = 0;
        for (std::size_t i = from; i < lines.size(); ++i) {
            auto v = json::parse(lines[i]).as_object();
            if (v.at("method").as_string() == method &&
                std::string_view(v.at("target").as_string()).find(needle) != std::string_view::npos)
                ++n;
        }
        return n;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(create_commit_api)

BOOST_FIXTURE_TEST_CASE(every_operation_kind, up_fixture) {
    std::string big = pattern_bytes(1 << 20, 1);  // binary: LFS
    write(work.path() / "local.txt", "from a file\n");
    auto first = commit({commit_add::bytes("keep.txt", "keep\n"), commit_add::bytes("old.txt", "old\n"),
                         commit_add::bytes("logs/a.log", "a\n"), commit_add::bytes("logs/deep/b.log", "b\n"),
                         commit_add::bytes("w.bin", big), commit_add::file("dir/local.txt", work.path() / "local.txt")});
    BOOST_TEST(first.changed);
    BOOST_TEST(first.oid.size() == 40u);
    BOOST_TEST(first.oid == head());
    BOOST_TEST(first.url == srv.url() + "/alice/m/commit/" + first.oid);
    BOOST_TEST(first.files_uploaded == 1u);
    BOOST_TEST(fetch("dir/local.txt") == "from a file\n");
    BOOST_TEST((fetch("w.bin") == big));

    auto second = commit({commit_delete{"old.txt"}, commit_delete{"logs/"}, commit_copy{"keep.txt", "keep2.txt"},
                          commit_copy{"w.bin", "copies/w2.bin"}, commit_copy{"old.txt", "old-at-first.txt", first.oid}},
                         opts("second"));
    BOOST_TEST(second.oid == head());
    BOOST_TEST(second.files_uploaded == 0u);  // a copy of an LFS file sends no bytes
    BOOST_TEST(!exists("old.txt"));
    BOOST_TEST(!exists("logs/a.log"));
    BOOST_TEST(!exists("logs/deep/b.log"));
    BOOST_TEST(fetch("keep2.txt") == "keep\n");
    BOOST_TEST(fetch("old-at-first.txt") == "old\n");
    BOOST_TEST((fetch("copies/w2.bin") == big));
    auto info = run(ioc, co_get_paths_info(*c, "alice/m", {"copies/w2.bin"}));
    BOOST_REQUIRE(info.size() == 1u);
    BOOST_TEST(std::get<repo_file>(info[0]).lfs.has_value());  // still LFS, by reference
    BOOST_TEST(commits() == 3u);  // the initial commit and ours
}

BOOST_FIXTURE_TEST_CASE(regular_basic_and_multipart_in_one_commit, up_fixture) {
    std::string small = "hello\n", basic = pattern_bytes(700 << 10, 2), multi = pattern_bytes((5 << 20) + 123, 3);
    write(work.path() / "multi.bin", multi);
    auto from = srv.log_lines().size();
    std::vector<commit_progress> seen;
    auto o = opts();
    o.progress = [&](const commit_progress& p) { seen.push_back(p); };
    auto r = commit({commit_add::bytes("a.txt", small), commit_add::bytes("b.bin", basic),
                     commit_add::file("c.bin", work.path() / "multi.bin")}, o);
    BOOST_TEST(r.files_uploaded == 2u);
    BOOST_TEST(r.bytes_uploaded == basic.size() + multi.size());
    BOOST_TEST(fetch("a.txt") == small);
    BOOST_TEST((fetch("b.bin") == basic));
    BOOST_TEST((fetch("c.bin") == multi));
    // 11 parts of 512 KiB, then one completion; the basic object is one PUT.
    BOOST_TEST(count(from, "PUT", "/multipart/") == 11u);
    BOOST_TEST(count(from, "POST", "/complete") == 1u);
    BOOST_TEST(count(from, "PUT", "/upload/") == 1u);
    BOOST_TEST(count(from, "POST", "/alice/m.git/info/lfs/objects/verify") == 2u);
    BOOST_TEST(count(from, "POST", "/commit/") == 1u);
    BOOST_REQUIRE(!seen.empty());
    BOOST_TEST((seen.back().what == commit_progress::stage::done));
    bool hashed_all = false;
    for (auto& p : seen) hashed_all |= p.what == commit_progress::stage::hashing && p.files_done == 3;
    BOOST_TEST(hashed_all);
}

BOOST_FIXTURE_TEST_CASE(unchanged_files_are_not_sent_again, up_fixture) {
    std::string big = pattern_bytes(1 << 20, 4);
    commit({commit_add::bytes("a.txt", "a\n"), commit_add::bytes("w.bin", big)});
    auto before = head();
    auto n = commits();
    auto from = srv.log_lines().size();
    auto r = commit({commit_add::bytes("a.txt", "a\n"), commit_add::bytes("w.bin", big)}, opts("again"));
    BOOST_TEST(!r.changed);
    BOOST_TEST(r.oid == before);
    BOOST_TEST(commits() == n);
    BOOST_TEST(count(from, "POST", "/commit/") == 0u);
    BOOST_TEST(count(from, "POST", "objects/batch") == 0u);
    // One changed file among unchanged ones: only it is committed.
    auto r2 = commit({commit_add::bytes("a.txt", "a\n"), commit_add::bytes("w.bin", big), commit_add::bytes("b.txt", "new\n")},
                     opts("one more"));
    BOOST_TEST(r2.changed);
    BOOST_TEST(commits() == n + 1);
    BOOST_TEST(fetch("b.txt") == "new\n");
}

BOOST_FIXTURE_TEST_CASE(create_pr_and_a_branch, up_fixture) {
    commit({commit_add::bytes("a.txt", "main\n")});
    auto main_head = head();
    auto o = opts("proposal");
    o.create_pr = true;
    auto pr = commit({commit_add::bytes("a.txt", "proposed\n"), commit_add::bytes("w.bin", pattern_bytes(300 << 10, 5))}, o);
    BOOST_REQUIRE(pr.pr_num.has_value());
    BOOST_TEST(pr.pr_url.value_or("").ends_with("/discussions/" + std::to_string(*pr.pr_num)));
    std::string ref = "refs/pr/" + std::to_string(*pr.pr_num);
    BOOST_TEST(head() == main_head);  // main is untouched
    BOOST_TEST(head(ref) == pr.oid);
    BOOST_TEST(fetch("a.txt", ref) == "proposed\n");
    BOOST_TEST(fetch("a.txt") == "main\n");

    // Committing to refs/pr/N adds to the same pull request.
    auto o2 = opts("more");
    o2.revision = ref;
    auto more = commit({commit_add::bytes("b.txt", "b\n")}, o2);
    BOOST_TEST(head(ref) == more.oid);
    BOOST_TEST(more.pr_num.value_or(*pr.pr_num) == *pr.pr_num);

    auto br = srv.send("POST", "/api/models/alice/m/branch/dev", "{}", alice_token, {{"Content-Type", "application/json"}});
    BOOST_REQUIRE(br.status == 200);
    auto o3 = opts("on dev");
    o3.revision = "dev";
    auto dev = commit({commit_add::bytes("dev.txt", "dev\n")}, o3);
    BOOST_TEST(head("dev") == dev.oid);
    BOOST_TEST(fetch("dev.txt", "dev") == "dev\n");
    BOOST_TEST(!exists("dev.txt"));
}

BOOST_FIXTURE_TEST_CASE(stale_parent_is_a_typed_error_and_lands_nothing, up_fixture) {
    auto first = commit({commit_add::bytes("a.txt", "1\n")});
    commit({commit_add::bytes("b.txt", "2\n")}, opts("moves the head"));
    auto now = head();
    auto o = opts("stale");
    o.parent_commit = first.oid;
    BOOST_TEST(error_of([&] { commit({commit_add::bytes("c.txt", "3\n")}, o); }) ==
               make_error_code(hub_errc::precondition_failed));
    BOOST_TEST(head() == now);
    o.parent_commit = now;  // the current head is fine
    auto landed = commit({commit_add::bytes("c.txt", "3\n")}, o);
    BOOST_TEST(landed.oid == head());
}

BOOST_FIXTURE_TEST_CASE(rebase_on_conflict_with_disjoint_and_overlapping_paths, up_fixture) {
    auto base = commit({commit_add::bytes("mine.txt", "0\n"), commit_add::bytes("theirs.txt", "0\n"),
                        commit_add::bytes("dir/x.txt", "0\n")});
    commit({commit_add::bytes("theirs.txt", "1\n")}, opts("someone else"));
    auto o = opts("mine");
    o.parent_commit = base.oid;
    o.rebase_on_conflict = true;
    auto r = commit({commit_add::bytes("mine.txt", "2\n"), commit_delete{"dir/", true}}, o);
    BOOST_TEST(r.oid == head());
    BOOST_TEST(fetch("mine.txt") == "2\n");
    BOOST_TEST(fetch("theirs.txt") == "1\n");  // their change survives
    BOOST_TEST(!exists("dir/x.txt"));

    // Overlapping: they changed a path we touch, so no rebase.
    auto parent = head();
    commit({commit_add::bytes("mine.txt", "3\n")}, opts("someone else again"));
    auto now = head();
    o.parent_commit = parent;
    std::string what;
    try {
        commit({commit_add::bytes("mine.txt", "4\n")}, o);
    } catch (const hfhub::error& e) {
        BOOST_TEST(e.code() == make_error_code(hub_errc::precondition_failed));
        what = e.what();
    }
    BOOST_TEST(what.find("mine.txt") != std::string::npos);
    BOOST_TEST(head() == now);
    BOOST_TEST(fetch("mine.txt") == "3\n");
    // A change inside a folder we delete overlaps too.
    commit({commit_add::bytes("d2/y.txt", "0\n")}, opts("d2"));
    parent = head();
    commit({commit_add::bytes("d2/z.txt", "0\n")}, opts("into d2"));
    o.parent_commit = parent;
    BOOST_TEST(error_of([&] { commit({commit_delete{"d2", true}}, o); }) == make_error_code(hub_errc::precondition_failed));
    BOOST_TEST(exists("d2/z.txt"));
}

BOOST_FIXTURE_TEST_CASE(a_failed_part_commits_nothing_and_the_rerun_sends_only_what_is_missing, up_fixture) {
    std::string a = pattern_bytes(600 << 10, 6), b = pattern_bytes(700 << 10, 7), m = pattern_bytes(3 << 20, 8);
    auto before = head();
    auto n = commits();
    // Every part PUT from the third on fails, retries included.
    faults(R"({"rules":[{"listener":"storage","method":"PUT","match":"/multipart/","nth":3,"times":0,"status":500}]})");
    auto o = opts("three objects");
    o.max_workers = 1;  // a then b then m's parts: the failure comes last
    std::vector<commit_operation> ops{commit_add::bytes("a.bin", a), commit_add::bytes("b.bin", b),
                                      commit_add::bytes("m.bin", m)};
    auto ec = error_of([&] { commit(ops, o); });
    BOOST_TEST(ec == make_error_code(hub_errc::server_error));
    BOOST_TEST(head() == before);
    BOOST_TEST(commits() == n);
    faults(R"({"rules":[]})");

    auto from = srv.log_lines().size();
    auto r = commit(ops, o);
    BOOST_TEST(r.files_uploaded == 1u);  // a and b were stored by the failed run
    BOOST_TEST(r.bytes_uploaded == m.size());
    BOOST_TEST(count(from, "PUT", "/upload/") == 0u);
    BOOST_TEST(count(from, "PUT", "/multipart/") == 6u);
    BOOST_TEST(commits() == n + 1);
    BOOST_TEST((fetch("m.bin") == m));
    BOOST_TEST((fetch("a.bin") == a));
}

BOOST_FIXTURE_TEST_CASE(a_lost_commit_answer_does_not_commit_twice, up_fixture) {
    commit({commit_add::bytes("a.txt", "0\n")});
    auto n = commits();
    // The commit applies, then its answer is cut after 5 bytes.
    faults(R"({"rules":[{"listener":"api","method":"POST","match":"/commit/","nth":1,"times":1,"drop_after_bytes":5}]})");
    auto r = commit({commit_add::bytes("a.txt", "1\n"), commit_add::bytes("b.txt", "b\n")}, opts("answer lost"));
    BOOST_TEST(commits() == n + 1);
    BOOST_TEST(r.oid == head());
    BOOST_TEST(fetch("a.txt") == "1\n");
    BOOST_TEST(count(0, "POST", "/commit/") == 2u);  // the first commit and this one, once

    // A 502 before the commit applies: it did not land, so one pinned retry lands it once.
    faults(R"({"rules":[{"listener":"api","method":"POST","match":"/commit/","nth":1,"times":1,"status":502}]})");
    auto from = srv.log_lines().size();
    auto r2 = commit({commit_add::bytes("c.txt", "c\n")}, opts("gateway hiccup"));
    BOOST_TEST(commits() == n + 2);
    BOOST_TEST(r2.oid == head());
    BOOST_TEST(count(from, "POST", "/commit/") == 2u);
    BOOST_TEST(fetch("c.txt") == "c\n");
}

BOOST_FIXTURE_TEST_CASE(bad_input_fails_before_any_request, up_fixture) {
    auto from = srv.log_lines().size();
    BOOST_TEST(error_of([&] { commit({commit_add::bytes("../x", "x")}); }) == make_error_code(client_errc::invalid_path));
    BOOST_TEST(error_of([&] { commit({commit_add::bytes(".git/config", "x")}); }) == make_error_code(client_errc::invalid_path));
    BOOST_TEST(error_of([&] { commit({commit_add::bytes("a", "x")}, opts("")); }) == make_error_code(client_errc::invalid_argument));
    auto o = opts();
    o.parent_commit = "not-a-sha";
    BOOST_TEST(error_of([&] { commit({commit_add::bytes("a", "x")}, o); }) == make_error_code(client_errc::invalid_argument));
    BOOST_TEST(error_of([&] { run(ioc, co_create_commit(*c, "bad//id", {}, opts())); }) ==
               make_error_code(client_errc::invalid_repo_id));
    BOOST_TEST(error_of([&] { commit({commit_add::file("x", work.path() / "missing")}); }) ==
               make_error_code(client_errc::io_error));
    BOOST_TEST(srv.log_lines().size() == from);
    // Deleting a missing file is the server's typed error, and lands nothing.
    auto n = commits();
    BOOST_TEST(error_of([&] { commit({commit_delete{"nope.txt"}}); }) == make_error_code(hub_errc::entry_not_found));
    BOOST_TEST(error_of([&] { commit({commit_copy{"nope.txt", "x.txt"}}); }) == make_error_code(hub_errc::entry_not_found));
    BOOST_TEST(commits() == n);
}

BOOST_FIXTURE_TEST_CASE(upload_folder_with_patterns_and_deletes, up_fixture) {
    commit({commit_add::bytes("ckpt/old.bin", "old"), commit_add::bytes("ckpt/notes.md", "n"),
            commit_add::bytes("other.txt", "o")});
    write(work.path() / "f" / "model.bin", pattern_bytes(100 << 10, 9));
    write(work.path() / "f" / "config.json", "{}");
    write(work.path() / "f" / "logs" / "train.log", "log");
    write(work.path() / "f" / ".git" / "HEAD", "ref");
    write(work.path() / "f" / ".cache" / "huggingface" / "x", "meta");
    folder_options o;
    o.path_in_repo = "ckpt";
    o.ignore_patterns = {"logs/"};
    o.delete_patterns = {"*.bin"};
    auto r = run(ioc, co_upload_folder(*c, "alice/m", work.path() / "f", o));
    BOOST_TEST(r.changed);
    BOOST_TEST(exists("ckpt/model.bin"));
    BOOST_TEST(fetch("ckpt/config.json") == "{}");
    BOOST_TEST(!exists("ckpt/logs/train.log"));
    tree_query all;
    all.recursive = true;
    for (auto& e : run(ioc, co_list_repo_tree(*c, "alice/m", all)))
        if (auto* f = std::get_if<repo_file>(&e)) {
            BOOST_TEST(f->path.find(".git/") == std::string::npos);
            BOOST_TEST(f->path.find(".cache/") == std::string::npos);
        }
    BOOST_TEST(!exists("ckpt/old.bin"));   // deleted by pattern
    BOOST_TEST(exists("ckpt/notes.md"));   // not matched
    BOOST_TEST(exists("other.txt"));       // outside path_in_repo
    auto log = run(ioc, co_list_repo_commits(*c, "alice/m"));
    BOOST_TEST(log.front().title == "Upload folder using hfhub");

    auto one = run(ioc, co_upload_file(*c, "alice/m", commit_add::bytes("single.txt", "1")));
    BOOST_TEST(one.changed);
    BOOST_TEST(run(ioc, co_list_repo_commits(*c, "alice/m")).front().title == "Upload single.txt with hfhub");
}

BOOST_FIXTURE_TEST_CASE(ten_thousand_small_files_in_one_commit, up_fixture) {
    for (int i = 0; i < 10000; ++i)
        write(work.path() / "many" / ("d" + std::to_string(i % 50)) / ("f" + std::to_string(i) + ".txt"),
              "file " + std::to_string(i) + "\n");
    auto from = srv.log_lines().size();
    auto n = commits();
    auto r = run(ioc, co_upload_folder(*c, "alice/m", work.path() / "many"));
    BOOST_TEST(r.changed);
    BOOST_TEST(commits() == n + 1);
    BOOST_TEST(count(from, "POST", "/preupload/") == 40u);  // batches of 256
    tree_query q;
    q.recursive = true;
    std::size_t files = 0;
    for (auto& e : run(ioc, co_list_repo_tree(*c, "alice/m", q))) files += std::holds_alternative<repo_file>(e);
    BOOST_TEST(files == 10000u + 1u);  // and .gitattributes
    BOOST_TEST(fetch("d7/f9957.txt") == "file 9957\n");
}

BOOST_FIXTURE_TEST_CASE(multi_commit_splits_and_resumes, up_fixture) {
    commit({commit_add::bytes("gone.txt", "x")});
    auto n = commits();
    std::vector<commit_operation> ops;
    for (int i = 0; i < 7; ++i) ops.push_back(commit_add::bytes("p/" + std::to_string(i) + ".txt", std::to_string(i)));
    ops.push_back(commit_delete{"gone.txt"});
    auto o = opts("big upload");
    o.multi_commit = true;
    o.max_files_per_commit = 3;
    // The third commit fails once: the first two stay, and the rerun finishes the rest.
    faults(R"({"rules":[{"listener":"api","method":"POST","match":"/commit/","nth":3,"times":0,"status":400}]})");
    BOOST_TEST(error_of([&] { commit(ops, o); }) == make_error_code(hub_errc::bad_request));
    BOOST_TEST(commits() == n + 2);
    BOOST_TEST(!exists("gone.txt"));  // deletes went first
    faults(R"({"rules":[]})");
    auto r = commit(ops, o);
    BOOST_TEST(r.commits == 1u);  // only the last three files were missing
    BOOST_TEST(commits() == n + 3);
    for (int i = 0; i < 7; ++i) BOOST_TEST(fetch("p/" + std::to_string(i) + ".txt") == std::to_string(i));
    auto log = run(ioc, co_list_repo_commits(*c, "alice/m"));
    BOOST_TEST(log[2].title == "big upload (part 1 of 3)");
    BOOST_TEST(log[1].title == "big upload (part 2 of 3)");
}

BOOST_FIXTURE_TEST_CASE(push_to_hub_creates_the_repo_and_branch, up_fixture) {
    write(work.path() / "p" / "config.json", "{\"hidden_size\": 8}");
    write(work.path() / "p" / "model.bin", pattern_bytes(300 << 10, 11));
    push_options o;
    o.is_private = true;
    o.revision = "v2-branch";
    auto r = run(ioc, co_push_to_hub(*c, "alice/fresh", work.path() / "p", o));
    BOOST_TEST(r.changed);
    BOOST_TEST(head_of(srv, "models/alice/fresh", "v2-branch") == r.oid);
    BOOST_TEST(srv.get("/api/models/alice/fresh").status != 200u);  // private: anonymous can't see it
    repo_query q;
    q.revision = "v2-branch";
    BOOST_TEST(run(ioc, co_file_exists(*c, "alice/fresh", "model.bin", q)));
    BOOST_TEST(!run(ioc, co_file_exists(*c, "alice/fresh", "model.bin")));  // main has only the initial commit
    BOOST_TEST(run(ioc, co_list_repo_commits(*c, "alice/fresh", q)).front().title == "Push model using hfhub");
    // Again into the existing repo and branch: nothing changed.
    BOOST_TEST(!run(ioc, co_push_to_hub(*c, "alice/fresh", work.path() / "p", o)).changed);
}

BOOST_FIXTURE_TEST_CASE(blocking_twins_from_another_thread, up_fixture) {
    auto guard = asio::make_work_guard(ioc);
    std::thread io([&] { ioc.run(); });
    write(work.path() / "b" / "x.txt", "x");
    commit_info a, b, f;
    std::error_code err;
    try {
        a = create_commit(*c, "alice/m", {commit_add::bytes("a.txt", "a")}, opts("twin"));
        b = upload_file(*c, "alice/m", commit_add::bytes("b.txt", "b"));
        f = upload_folder(*c, "alice/m", work.path() / "b");
    } catch (const hfhub::error& e) {
        err = e.code();
    }
    guard.reset();
    io.join();
    BOOST_TEST(!err);
    BOOST_TEST(a.changed);
    BOOST_TEST(b.changed);
    BOOST_TEST(f.oid == head());
    BOOST_TEST(fetch("x.txt") == "x");
}

BOOST_AUTO_TEST_SUITE_END()
