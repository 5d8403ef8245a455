// Checkpoints from many ranks: each process stores its own shards and writes receipts, one
// process commits them all. Ranks are real processes (the hfhub CLI); the commit is atomic.
#include "node_script.hpp"
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "test_server.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/receipts.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <map>
#include <set>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::error_of;
using hfhub::test::file_list;
using hfhub::test::message_of;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string hfhub_binary() {
    const char* b = std::getenv("HFHUB_BINARY");
    if (!b) throw std::runtime_error("HFHUB_BINARY is not set (ctest sets it)");
    return b;
}

// A process with stdout to `out` (or /dev/null) and stderr to `err` (or inherited).
pid_t spawn(const std::vector<std::string>& args, const fs::path& out = {}, const fs::path& err = {},
            const fs::path& in = {}) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string o = out.empty() ? "/dev/null" : out.string(), e = err.string();
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, o.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (!e.empty()) posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, e.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string i = in.string();
    if (!i.empty()) posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, i.c_str(), O_RDONLY, 0);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) throw std::runtime_error("posix_spawn failed");
    return pid;
}

int wait_exit(pid_t pid) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string slurp(const fs::path& p) { return util::read_file(p).value_or(""); }

// Deterministic, incompressible-enough bytes, written in 4 MiB pieces; returns the sha256.
std::string write_shard(const fs::path& p, std::uint64_t size, std::uint32_t seed) {
    fs::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary);
    util::hasher sha(util::hash_algo::sha256);
    std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    std::string buf;
    for (std::uint64_t done = 0; done < size;) {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(4u << 20, size - done));
        buf.resize(n);
        for (std::size_t i = 0; i + 8 <= n; i += 8) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            std::memcpy(&buf[i], &x, 8);
        }
        for (std::size_t i = n & ~std::size_t(7); i < n; ++i) buf[i] = static_cast<char>(i);
        f.write(buf.data(), static_cast<std::streamsize>(n));
        sha.update(buf);
        done += n;
    }
    return sha.hex_digest();
}

std::string sha256_of_file(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    util::hasher sha(util::hash_algo::sha256);
    std::vector<char> buf(4 << 20);
    while (f) {
        f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        sha.update(buf.data(), static_cast<std::size_t>(f.gcount()));
    }
    return sha.hex_digest();
}

std::vector<std::string> rank_upload_args(const test_server& s, const std::string& repo, const fs::path& folder,
                                          const fs::path& receipts, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{hfhub_binary(), "upload", repo, folder.string(), "ckpt", "--receipts-out",
                               receipts.string(), "--endpoint", s.url(), "--token", alice_token, "--quiet"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

// Storage PUTs (basic or multipart parts) whose target names `oid`, in access-log lines.
std::size_t puts_of(const std::vector<std::string>& lines, std::size_t from, const std::string& oid) {
    std::size_t n = 0;
    for (std::size_t i = from; i < lines.size(); ++i) {
        auto e = json::parse(lines[i]).as_object();
        if (e.at("listener") == "storage" && e.at("method") == "PUT" &&
            std::string(e.at("target").as_string()).find(oid) != std::string::npos)
            ++n;
    }
    return n;
}

std::size_t commits_of(test_server& s, const std::string& api_repo) {
    auto r = s.get("/api/" + api_repo + "/commits/main", alice_token);
    if (r.status != 200) throw std::runtime_error("commits: " + r.body);
    return json::parse(r.body).as_array().size();
}

// The JS client's sha256 of each file it downloads, when node and test/interop are set up.
std::optional<std::map<std::string, std::string>> js_sha256(const std::string& endpoint, const std::string& repo,
                                                            const std::vector<std::string>& files) {
    std::vector<std::string> args{endpoint, alice_token, repo};
    args.insert(args.end(), files.begin(), files.end());
    auto out = test::run_interop_script("receipts_readback.mjs", args);
    if (!out) return std::nullopt;
    std::map<std::string, std::string> got;
    json::value parsed = json::parse(*out);
    for (auto& [k, v] : parsed.as_object()) got[std::string(k)] = std::string(v.as_string());
    return got;
}

struct lib_fixture {
    test_server srv;
    temp_dir work;
    asio::io_context ioc;
    std::unique_ptr<client> c;
    lib_fixture() {
        srv.create_repo("alice/ranks", alice_token);
        auto cfg = quick_config(srv.url());
        cfg.token = alice_token;
        c = std::make_unique<client>(ioc.get_executor(), cfg);
    }
    std::vector<upload_receipt> preupload(std::vector<commit_add> adds, commit_options o = {}) {
        return run(ioc, co_preupload(*c, "alice/ranks", std::move(adds), o));
    }
    commit_info commit(std::vector<commit_operation> ops, commit_options o = {}) {
        if (o.commit_message.empty()) o.commit_message = "from receipts";
        return run(ioc, co_create_commit(*c, "alice/ranks", std::move(ops), o));
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(receipts)

BOOST_AUTO_TEST_CASE(four_ranks_upload_two_64_mib_shards_each_and_a_fifth_process_commits_them_at_once) {
    test_server srv;
    srv.create_repo("alice/ckpt", alice_token);
    temp_dir work;
    const std::uint64_t shard = 64ull << 20;
    std::map<std::string, std::string> expect;  // path in repo → sha256
    std::vector<fs::path> receipt_files;
    for (int r = 0; r < 4; ++r)
        for (int k = 0; k < 2; ++k) {
            std::string name = "model-rank" + std::to_string(r) + "-" + std::to_string(k) + ".safetensors";
            expect["ckpt/" + name] = write_shard(work.path() / ("rank" + std::to_string(r)) / name, shard,
                                                 static_cast<std::uint32_t>(10 * r + k + 1));
        }
    std::size_t commits_before = commits_of(srv, "models/alice/ckpt");
    std::size_t log_before = srv.log_lines().size();

    std::vector<pid_t> ranks;
    for (int r = 0; r < 4; ++r) {
        receipt_files.push_back(work.path() / "shared" / ("rank" + std::to_string(r) + ".jsonl"));
        fs::create_directories(receipt_files.back().parent_path());
        ranks.push_back(spawn(rank_upload_args(srv, "alice/ckpt", work.path() / ("rank" + std::to_string(r)),
                                               receipt_files.back(), {"--format", "json"}),
                              work.path() / ("rank" + std::to_string(r) + ".out")));
    }
    for (auto p : ranks) BOOST_TEST_REQUIRE(wait_exit(p) == 0);
    // Stored, not committed: nobody sees a half checkpoint.
    BOOST_TEST(commits_of(srv, "models/alice/ckpt") == commits_before);
    BOOST_TEST(file_list(srv, "models/alice/ckpt").size() == 1u);  // .gitattributes
    auto rank0 = json::parse(slurp(work.path() / "rank0.out")).as_object();
    BOOST_TEST(rank0.at("files").as_int64() == 2);
    BOOST_TEST(rank0.at("committed").as_bool() == false);
    std::size_t receipts_total = 0;
    for (auto& f : receipt_files) receipts_total += read_receipts(f).size();
    BOOST_TEST(receipts_total == 8u);

    // The coordinator has none of the shards: only their receipts.
    std::vector<std::string> args{hfhub_binary(), "commit", "alice/ckpt", "--endpoint", srv.url(), "--token",
                                  alice_token, "--commit-message", "Step 1000", "--format", "json", "--receipts"};
    for (auto& f : receipt_files) args.push_back(f.string());
    pid_t coord = spawn(args, work.path() / "commit.out");
    BOOST_TEST_REQUIRE(wait_exit(coord) == 0);
    auto answer = json::parse(slurp(work.path() / "commit.out")).as_object();
    BOOST_TEST(answer.at("changed").as_bool());
    BOOST_TEST(answer.at("operations").as_int64() == 8);
    BOOST_TEST(answer.at("receipts").as_int64() == 8);
    BOOST_TEST(commits_of(srv, "models/alice/ckpt") == commits_before + 1);
    auto files = file_list(srv, "models/alice/ckpt");
    std::vector<std::string> want{".gitattributes"};
    for (auto& [p, s] : expect) want.push_back(p);
    BOOST_TEST(files == want, boost::test_tools::per_element());

    // Every object went up once, from the rank that had it.
    auto lines = srv.log_lines();
    for (auto& [p, s] : expect) BOOST_TEST(puts_of(lines, log_before, s) >= 1u, p);

    // Read back through hfhub (its own check is off: this test hashes).
    temp_dir cache;
    {
        auto cfg = quick_config(srv.url());
        cfg.token = alice_token;
        asio::io_context ioc;
        client c(ioc.get_executor(), cfg);
        snapshot_options so;
        so.cache_dir = cache.path();
        so.verify = false;
        fs::path snap = run(ioc, co_snapshot_download(c, "alice/ckpt", so));
        for (auto& [p, s] : expect) BOOST_TEST(sha256_of_file(snap / p) == s, p);
    }
    std::vector<std::string> paths;
    for (auto& [p, s] : expect) paths.push_back(p);
    if (auto js = js_sha256(srv.url(), "alice/ckpt", paths)) {
        for (auto& [p, s] : expect) BOOST_TEST((*js)[p] == s, "JS read of " << p);
    } else {
        BOOST_TEST_MESSAGE("node or test/interop/node_modules missing: the JS read-back was skipped");
    }
}

BOOST_AUTO_TEST_CASE(a_killed_rank_leaves_no_commit_and_its_rerun_sends_only_what_is_missing) {
    test_server srv;
    srv.create_repo("alice/ckpt", alice_token);
    temp_dir work;
    fs::path rank = work.path() / "rank3";
    std::string a = write_shard(rank / "a.safetensors", 6 << 20, 7);
    std::string b = write_shard(rank / "b.safetensors", 6 << 20, 8);
    std::size_t commits_before = commits_of(srv, "models/alice/ckpt");
    // Shard b's PUT is held; the rank is killed while it waits there.
    auto rule = R"({"rules":[{"listener":"storage","method":"PUT","match":")" + b + R"(","times":0,"stall_ms":30000}]})";
    BOOST_TEST_REQUIRE(srv.post("/admin/faults", rule).status == 200u);
    fs::path receipts = work.path() / "rank3.jsonl";
    std::size_t log_before = srv.log_lines().size();
    pid_t p = spawn(rank_upload_args(srv, "alice/ckpt", rank, receipts));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline && puts_of(srv.log_lines(), log_before, a) == 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    BOOST_TEST_REQUIRE(puts_of(srv.log_lines(), log_before, a) >= 1u);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::kill(p, SIGKILL);
    BOOST_TEST(wait_exit(p) == -1);
    BOOST_TEST(!fs::exists(receipts));
    BOOST_TEST(commits_of(srv, "models/alice/ckpt") == commits_before);

    BOOST_TEST_REQUIRE(srv.post("/admin/faults", R"({"rules":[]})").status == 200u);
    auto lines = srv.log_lines();
    BOOST_TEST(puts_of(lines, log_before, b) == 0u);  // held, never answered
    std::size_t rerun_from = lines.size();
    pid_t again = spawn(rank_upload_args(srv, "alice/ckpt", rank, receipts));
    BOOST_TEST_REQUIRE(wait_exit(again) == 0);
    lines = test::settled_log(srv);
    BOOST_TEST(puts_of(lines, rerun_from, a) == 0u);  // stored by the killed run: not sent again
    BOOST_TEST(puts_of(lines, rerun_from, b) >= 1u);
    auto got = read_receipts(receipts);
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(commits_of(srv, "models/alice/ckpt") == commits_before);

    pid_t coord = spawn({hfhub_binary(), "commit", "alice/ckpt", "--endpoint", srv.url(), "--token", alice_token,
                         "--receipts", receipts.string(), "--quiet"});
    BOOST_TEST_REQUIRE(wait_exit(coord) == 0);
    BOOST_TEST(commits_of(srv, "models/alice/ckpt") == commits_before + 1);
    std::vector<std::string> want{".gitattributes", "ckpt/a.safetensors", "ckpt/b.safetensors"};
    BOOST_TEST(file_list(srv, "models/alice/ckpt") == want, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(a_forged_receipt_is_a_typed_error_naming_it_and_commits_nothing, lib_fixture) {
    std::string big(3 << 20, 'x');
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
    auto got = preupload({commit_add::bytes("w/shard.bin", big), commit_add::bytes("w/config.json", "{}")});
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST(got[0].is_lfs);
    BOOST_TEST(!got[1].is_lfs);
    BOOST_TEST(got[1].content.value_or("") == "{}");
    std::size_t before = commits_of(srv, "models/alice/ranks");

    upload_receipt wrong_size = got[0];
    wrong_size.size += 1;
    upload_receipt never = got[0];
    never.path_in_repo = "w/never.bin";
    never.sha256 = util::sha256_hex("bytes nobody uploaded");
    for (auto& forged : {wrong_size, never}) {
        auto forged_json = upload_receipt::from_json(forged.to_json());  // it travels as JSON
        std::vector<commit_operation> ops{commit_add::from_receipt(got[1]), commit_add::from_receipt(forged_json)};
        auto f = [&] { commit(ops); };
        BOOST_TEST((error_of(f) == hub_errc::unprocessable));
        BOOST_TEST(message_of(f).find("'" + forged.path_in_repo + "'") != std::string::npos, message_of(f));
        BOOST_TEST(commits_of(srv, "models/alice/ranks") == before);
    }
    // The genuine receipts commit, though the files were never on disk here.
    auto info = commit({commit_add::from_receipt(got[0]), commit_add::from_receipt(got[1])});
    BOOST_TEST(info.changed);
    BOOST_TEST(info.files_uploaded == 0u);  // the bytes went up with the preupload
    BOOST_TEST(commits_of(srv, "models/alice/ranks") == before + 1);
    auto r = srv.get("/alice/ranks/resolve/main/w/config.json", alice_token);
    BOOST_TEST(r.body == "{}");
}

BOOST_FIXTURE_TEST_CASE(receipts_made_for_another_repo_type_or_revision_are_refused_before_any_request,
                        lib_fixture) {
    upload_receipt r;
    r.repo_id = "alice/other";
    r.path_in_repo = "x.bin";
    r.size = 5;
    r.sha256 = util::sha256_hex("hello");
    r.is_lfs = true;
    r.created = std::chrono::system_clock::now();
    upload_receipt dataset = r;
    dataset.repo_id = "alice/ranks";
    dataset.type = repo_type::dataset;
    upload_receipt branch = r;
    branch.repo_id = "alice/ranks";
    branch.revision = "dev";
    std::size_t before = test::settled_log(srv).size();
    for (auto& bad : {r, dataset, branch}) {
        auto f = [&] { commit({commit_add::from_receipt(bad)}); };
        BOOST_TEST((error_of(f) == client_errc::invalid_argument));
        BOOST_TEST(message_of(f).find("'x.bin'") != std::string::npos, message_of(f));
    }
    BOOST_TEST(test::settled_log(srv).size() == before);  // not one request
}

BOOST_FIXTURE_TEST_CASE(with_parent_commit_the_coordinator_publishes_that_checkpoint_or_nothing, lib_fixture) {
    auto got = preupload({commit_add::bytes("a.txt", "rank 0\n"), commit_add::bytes("b.txt", "rank 1\n")});
    std::string parent = test::head_of(srv, "models/alice/ranks");
    test::must_commit(srv, "models/alice/ranks", "main", {test_server::add_file("other.txt", "meanwhile")});
    commit_options o;
    o.parent_commit = parent;
    std::vector<commit_operation> ops{commit_add::from_receipt(got[0]), commit_add::from_receipt(got[1])};
    BOOST_TEST((error_of([&] { commit(ops, o); }) == hub_errc::precondition_failed));
    std::vector<std::string> want{".gitattributes", "other.txt"};
    BOOST_TEST(file_list(srv, "models/alice/ranks") == want, boost::test_tools::per_element());
    o.parent_commit = test::head_of(srv, "models/alice/ranks");
    commit(ops, o);
    want = {".gitattributes", "a.txt", "b.txt", "other.txt"};
    BOOST_TEST(file_list(srv, "models/alice/ranks") == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(receipts_read_back_as_written_and_malformed_ones_name_the_field) {
    upload_receipt r;
    r.repo_id = "alice/m";
    r.type = repo_type::dataset;
    r.revision = "dev";
    r.path_in_repo = "data/x.json";
    r.content = "{\"a\":1}";
    r.size = r.content->size();
    r.sha256 = util::sha256_hex(*r.content);
    r.git_sha1 = util::git_blob_sha1(*r.content);
    r.created = std::chrono::system_clock::from_time_t(1767225600);  // 2026-01-01T00:00:00Z
    auto line = r.to_json();
    BOOST_TEST(line.find("\"created_at\":\"2026-01-01T00:00:00Z\"") != std::string::npos, line);
    auto back = upload_receipt::from_json(line);
    BOOST_TEST(back.repo_id == r.repo_id);
    BOOST_TEST((back.type == repo_type::dataset));
    BOOST_TEST(back.revision == "dev");
    BOOST_TEST(back.content.value_or("") == *r.content);
    BOOST_TEST(back.git_sha1 == r.git_sha1);
    BOOST_TEST((back.created == r.created));
    auto two = receipts_from_jsonl(receipts_to_jsonl({r, r}) + "\n\n");
    BOOST_TEST(two.size() == 2u);

    auto field_error = [&](const std::string& text) { return message_of([&] { upload_receipt::from_json(text); }); };
    auto edited = [&](const char* key, json::value v) {
        auto o = json::parse(line).as_object();
        if (v.is_null()) o.erase(key);
        else o[key] = v;
        return json::serialize(o);
    };
    BOOST_TEST(field_error(edited("sha256", "xyz")).find("'sha256'") != std::string::npos);
    BOOST_TEST(field_error(edited("size", -3)).find("'size'") != std::string::npos);
    BOOST_TEST(field_error(edited("repo_id", nullptr)).find("'repo_id'") != std::string::npos);
    BOOST_TEST(field_error(edited("version", 2)).find("'version'") != std::string::npos);
    BOOST_TEST(field_error(edited("created_at", "yesterday")).find("'created_at'") != std::string::npos);
    BOOST_TEST(field_error(edited("content_base64", "e30=")).find("'content_base64'") != std::string::npos);
    BOOST_TEST((error_of([&] { upload_receipt::from_json("{not json"); }) == client_errc::invalid_argument));
    auto bad_line = message_of([&] { receipts_from_jsonl(line + "\n" + edited("lfs", "yes") + "\n"); });
    BOOST_TEST(bad_line.find("line 2") != std::string::npos, bad_line);
    BOOST_TEST(bad_line.find("'lfs'") != std::string::npos, bad_line);
}

BOOST_AUTO_TEST_CASE(receipts_travel_over_stdout_and_stdin_and_the_cli_refuses_a_foreign_one_typed) {
    test_server srv;
    srv.create_repo("alice/ckpt", alice_token);
    srv.create_repo("alice/other", alice_token);
    temp_dir work;
    fs::path rank = work.path() / "rank0";
    std::string sha = write_shard(rank / "w.safetensors", 3 << 20, 5);
    std::ofstream(rank / "config.json") << R"({"rank": 0})";
    pid_t up = spawn(rank_upload_args(srv, "alice/ckpt", rank, "-"), work.path() / "receipts.jsonl");
    BOOST_TEST_REQUIRE(wait_exit(up) == 0);
    auto got = read_receipts(work.path() / "receipts.jsonl");
    BOOST_TEST_REQUIRE(got.size() == 2u);
    std::map<std::string, upload_receipt> by_path;
    for (auto& r : got) by_path[r.path_in_repo] = r;
    BOOST_TEST(by_path.at("ckpt/w.safetensors").sha256 == sha);
    BOOST_TEST(by_path.at("ckpt/w.safetensors").is_lfs);
    BOOST_TEST(by_path.at("ckpt/config.json").content.value_or("") == R"({"rank": 0})");

    // Receipts made for alice/ckpt, committed to alice/other: refused before any request.
    std::size_t before = test::settled_log(srv).size();
    pid_t wrong = spawn({hfhub_binary(), "commit", "alice/other", "--endpoint", srv.url(), "--token", alice_token,
                         "--receipts", "-", "--format", "json", "--quiet"},
                        work.path() / "wrong.out", work.path() / "wrong.err", work.path() / "receipts.jsonl");
    BOOST_TEST(wait_exit(wrong) == 1);
    auto err = json::parse(slurp(work.path() / "wrong.out")).as_object();
    BOOST_TEST(err.at("error").at("code").as_string() == "invalid_argument");
    BOOST_TEST(test::settled_log(srv).size() == before);

    pid_t ok = spawn({hfhub_binary(), "commit", "alice/ckpt", "--endpoint", srv.url(), "--token", alice_token,
                      "--receipts", "-", "--quiet"},
                     work.path() / "ok.out", {}, work.path() / "receipts.jsonl");
    BOOST_TEST_REQUIRE(wait_exit(ok) == 0);
    BOOST_TEST(slurp(work.path() / "ok.out").find("/alice/ckpt/commit/") != std::string::npos);
    std::vector<std::string> want{".gitattributes", "ckpt/config.json", "ckpt/w.safetensors"};
    BOOST_TEST(file_list(srv, "models/alice/ckpt") == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_object_no_commit_took_is_removed_after_the_retention_and_its_receipt_fails_typed) {
    test_server srv([](server::options& o) { o.keep_unreferenced = std::chrono::seconds(1); });
    srv.create_repo("alice/ranks", alice_token);
    auto cfg = quick_config(srv.url());
    cfg.token = alice_token;
    asio::io_context ioc;
    client c(ioc.get_executor(), cfg);
    std::string kept(3 << 20, 'k'), dropped(3 << 20, 'd');
    commit_options o;
    std::vector<commit_add> adds{commit_add::bytes("kept.bin", kept), commit_add::bytes("late.bin", dropped)};
    auto got = run(ioc, co_preupload(c, "alice/ranks", std::move(adds), o));
    BOOST_TEST_REQUIRE(got.size() == 2u);
    BOOST_TEST_REQUIRE(got[1].is_lfs);
    o.commit_message = "in time";
    std::vector<commit_operation> first{commit_add::from_receipt(got[0])};
    run(ioc, co_create_commit(c, "alice/ranks", std::move(first), o));

    // The LFS batch says whether an object is still stored.
    auto stored = [&](const std::string& oid) {
        auto r = srv.post("/alice/ranks.git/info/lfs/objects/batch",
                          R"({"operation":"download","objects":[{"oid":")" + oid + R"(","size":3145728}]})",
                          alice_token, "application/vnd.git-lfs+json");
        return r.status == 200 && r.body.find("\"error\"") == std::string::npos;
    };
    BOOST_TEST_REQUIRE(stored(got[1].sha256));

    // The other receipt waits past the retention: its object goes, the commit fails typed.
    std::error_code code;
    std::string message;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!code && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        if (stored(got[1].sha256)) continue;
        o.commit_message = "too late";
        std::vector<commit_operation> late{commit_add::from_receipt(got[1])};
        auto f = [&] { run(ioc, co_create_commit(c, "alice/ranks", late, o)); };
        code = error_of(f);
        message = message_of(f);
    }
    BOOST_TEST((code == hub_errc::unprocessable));
    BOOST_TEST(message.find("'late.bin'") != std::string::npos, message);
    BOOST_TEST(message.find("older than") != std::string::npos, message);
    std::vector<std::string> want{".gitattributes", "kept.bin"};
    BOOST_TEST(file_list(srv, "models/alice/ranks") == want, boost::test_tools::per_element());
    // The committed object stays.
    BOOST_TEST(stored(got[0].sha256));
}

BOOST_AUTO_TEST_SUITE_END()
