// Downloads into the shared cache, against the local server.
#include "client_util.hpp"
#include "test_server.hpp"

#include <hfhub/download.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <random>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(rng());
    return s;
}

std::string slurp(const fs::path& p) { return *util::read_file(p); }

// alice/d: README.md, sub/config.json (regular), weights.bin (LFS, 3 MiB); a tag v1 and PR 1.
struct dl_fixture {
    test_server srv;
    temp_dir cache;
    asio::io_context ioc;
    std::string readme = "# model\n", config = "{\"a\": 1}", weights = random_bytes(3 << 20, 3);
    std::string commit, pr_commit;
    std::unique_ptr<client> c;

    dl_fixture() {
        srv.create_repo("alice/d", alice_token);
        auto sha = srv.upload_lfs("alice/d", weights, alice_token);
        auto r = srv.commit("models/alice/d", "main",
                            {test_server::add_file("README.md", readme), test_server::add_file("sub/config.json", config),
                             test_server::add_lfs("weights.bin", sha, weights.size())},
                            alice_token);
        commit = json::value_to<std::string>(json::parse(r.body).at("commitOid"));
        srv.post("/api/models/alice/d/tag/main", R"({"tag":"v1"})", alice_token);
        auto pr = srv.commit("models/alice/d", "main", {test_server::add_file("pr.txt", "in a PR")}, alice_token,
                             "pr", "?create_pr=1");
        pr_commit = json::value_to<std::string>(json::parse(pr.body).at("commitOid"));
        auto cfg = quick_config(srv.url());
        cfg.token = alice_token;
        c = std::make_unique<client>(ioc.get_executor(), cfg);
    }
    download_options opts() const {
        download_options o;
        o.cache_dir = cache.path();
        return o;
    }
    fs::path dl(const std::string& file, download_options o) {
        return run(ioc, co_hf_hub_download(*c, "alice/d", file, std::move(o)));
    }
    fs::path repo_dir() const { return cache.path() / "models--alice--d"; }
    std::size_t requests() const { return srv.log_lines().size(); }
    void faults(const std::string& rules) { srv.post("/admin/faults", rules); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(download_file)

BOOST_FIXTURE_TEST_CASE(cache_layout_matches_python, dl_fixture) {
    auto p = dl("sub/config.json", opts());
    BOOST_TEST(p == repo_dir() / "snapshots" / commit / "sub" / "config.json");
    BOOST_TEST(fs::is_symlink(p));
    std::string blob_id = util::git_blob_sha1(config);
    BOOST_TEST(fs::read_symlink(p) == fs::path("../../../blobs") / blob_id);
    BOOST_TEST(slurp(p) == config);
    BOOST_TEST(slurp(repo_dir() / "refs" / "main") == commit);  // no newline
    BOOST_TEST(fs::exists(cache.path() / "CACHEDIR.TAG"));
    BOOST_TEST(fs::exists(cache.path() / ".locks" / "models--alice--d" / (blob_id + ".lock")));

    auto w = dl("weights.bin", opts());
    BOOST_TEST(fs::read_symlink(w) == fs::path("../../blobs") / util::sha256_hex(weights));
    BOOST_TEST((slurp(w) == weights));
    for (auto& e : fs::directory_iterator(repo_dir() / "blobs"))
        BOOST_TEST(e.path().extension() != ".incomplete");
}

BOOST_FIXTURE_TEST_CASE(disabled_symlinks_give_copies, dl_fixture) {
    auto cfg = quick_config(srv.url());
    cfg.disable_symlinks = true;  // what HF_HUB_DISABLE_SYMLINKS=1 sets
    client copies(ioc.get_executor(), cfg);
    auto p = run(ioc, co_hf_hub_download(copies, "alice/d", "README.md", opts()));
    BOOST_TEST(!fs::is_symlink(p));
    BOOST_TEST(slurp(p) == readme);
}

BOOST_FIXTURE_TEST_CASE(revisions_tags_commits_prs_and_subfolders, dl_fixture) {
    auto o = opts();
    o.revision = "v1";
    BOOST_TEST(slurp(dl("README.md", o)) == readme);
    BOOST_TEST(slurp(repo_dir() / "refs" / "v1") == commit);
    o.revision = commit;
    BOOST_TEST(slurp(dl("README.md", o)) == readme);
    o.revision = "refs/pr/1";
    BOOST_TEST(slurp(dl("pr.txt", o)) == "in a PR");
    BOOST_TEST(slurp(repo_dir() / "refs" / "refs" / "pr" / "1") == pr_commit);
    o = opts();
    o.subfolder = "sub";
    BOOST_TEST(dl("config.json", o) == repo_dir() / "snapshots" / commit / "sub" / "config.json");
}

BOOST_FIXTURE_TEST_CASE(a_cached_commit_needs_no_network_and_force_downloads_again, dl_fixture) {
    dl("README.md", opts());
    auto before = requests();
    auto o = opts();
    o.revision = commit;
    dl("README.md", o);
    BOOST_TEST(requests() == before);
    o.force_download = true;
    dl("README.md", o);
    BOOST_TEST(requests() == before + 2);  // HEAD and GET
}

BOOST_FIXTURE_TEST_CASE(local_files_only_hit_and_miss, dl_fixture) {
    dl("README.md", opts());
    auto before = requests();
    auto o = opts();
    o.local_files_only = true;
    BOOST_TEST(slurp(dl("README.md", o)) == readme);
    try {
        dl("weights.bin", o);
        BOOST_FAIL("not cached: must fail");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == client_errc::local_entry_not_found));
    }
    BOOST_TEST(requests() == before);
}

BOOST_FIXTURE_TEST_CASE(missing_files_leave_a_no_exist_marker, dl_fixture) {
    try {
        dl("nope.txt", opts());
        BOOST_FAIL("must fail");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == hub_errc::entry_not_found));
    }
    BOOST_TEST(fs::exists(repo_dir() / ".no_exist" / commit / "nope.txt"));
    BOOST_TEST(slurp(repo_dir() / "refs" / "main") == commit);
    auto o = opts();
    o.offline = offline_policy::offline;
    try {
        dl("nope.txt", o);
        BOOST_FAIL("must fail");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == hub_errc::entry_not_found));  // known missing, from the cache
    }
}

BOOST_FIXTURE_TEST_CASE(corrupted_bytes_from_the_server_leave_nothing, dl_fixture) {
    // Flip a byte of the object the server stores: it then serves wrong bytes.
    std::string sha = util::sha256_hex(weights);
    fs::path obj = srv.root() / "lfs" / sha.substr(0, 2) / sha;
    std::string bytes = slurp(obj);
    bytes[12345] ^= 1;
    { std::ofstream(obj, std::ios::binary | std::ios::trunc) << bytes; }
    try {
        dl("weights.bin", opts());
        BOOST_FAIL("must fail");
    } catch (const hfhub::error& e) {
        BOOST_TEST((e.code() == client_errc::checksum_mismatch));
    }
    BOOST_TEST(!fs::exists(repo_dir() / "blobs" / sha));
    BOOST_TEST(!fs::exists(repo_dir() / "blobs" / (sha + ".incomplete")));
    BOOST_TEST(!fs::exists(repo_dir() / "snapshots" / commit / "weights.bin"));
}

BOOST_FIXTURE_TEST_CASE(dropped_connections_at_several_offsets, dl_fixture) {
    for (std::uint64_t at : {1ull, 4096ull, 1ull << 20, (3ull << 20) - 1}) {
        faults(R"({"rules":[{"listener":"storage","method":"GET","nth":1,"drop_after_bytes":)" + std::to_string(at) + "}]}");
        auto o = opts();
        o.force_download = true;
        auto p = dl("weights.bin", o);
        BOOST_TEST((slurp(p) == weights), "dropped after " << at);
    }
}

BOOST_FIXTURE_TEST_CASE(a_partial_file_is_resumed_with_range, dl_fixture) {
    // What a killed run leaves: the first part of the blob, under the blob's partial name.
    std::string sha = util::sha256_hex(weights);
    fs::create_directories(repo_dir() / "blobs");
    std::size_t have = 1 << 20;
    { std::ofstream(repo_dir() / "blobs" / (sha + ".incomplete"), std::ios::binary) << weights.substr(0, have); }
    auto before = srv.log_lines().size();
    auto p = dl("weights.bin", opts());
    BOOST_TEST((slurp(p) == weights));
    std::uint64_t sent = 0;
    auto lines = srv.log_lines();
    for (std::size_t i = before; i < lines.size(); ++i) {
        auto e = json::parse(lines[i]).as_object();
        if (e.at("listener") == "storage") sent += e.at("bytes").to_number<std::uint64_t>();
    }
    BOOST_TEST(sent == weights.size() - have);
}

BOOST_FIXTURE_TEST_CASE(big_files_come_as_parallel_ranges, dl_fixture) {
    auto o = opts();
    o.parallel_threshold = 1 << 20;
    o.chunk_size = 256 << 10;
    o.max_parallel = 4;
    auto p = dl("weights.bin", o);
    BOOST_TEST((slurp(p) == weights));
    int partials = 0;
    for (auto& l : srv.log_lines()) {
        auto e = json::parse(l).as_object();
        if (e.at("listener") == "storage" && e.at("status") == 206) ++partials;
    }
    BOOST_TEST(partials == 12);  // 3 MiB in 256 KiB parts
}

// Three big files and two workers: the first two stream in one piece each (file-level
// parallelism already fills the workers), the last, alone, comes as parallel ranges.
BOOST_FIXTURE_TEST_CASE(a_snapshot_streams_big_files_while_they_fill_the_workers, dl_fixture) {
    srv.create_repo("alice/many", alice_token);
    std::vector<std::string> ops;
    std::vector<std::string> blobs;
    for (unsigned i = 0; i < 3; ++i) {
        blobs.push_back(random_bytes(3 << 19, 10 + i));  // 1.5 MiB
        auto sha = srv.upload_lfs("alice/many", blobs.back(), alice_token);
        ops.push_back(test_server::add_lfs("w" + std::to_string(i) + ".bin", sha, blobs.back().size()));
    }
    BOOST_REQUIRE_EQUAL(srv.commit("models/alice/many", "main", ops, alice_token).status, 200u);
    auto before = requests();
    snapshot_options o;
    o.cache_dir = cache.path();
    o.max_workers = 2;
    o.parallel_threshold = 1 << 20;
    o.chunk_size = 256 << 10;
    o.max_parallel = 4;
    auto dir = run(ioc, co_snapshot_download(*c, "alice/many", o));
    for (unsigned i = 0; i < 3; ++i) BOOST_TEST((slurp(dir / ("w" + std::to_string(i) + ".bin")) == blobs[i]));
    int whole = 0, parts = 0;
    auto lines = srv.log_lines();
    for (std::size_t i = before; i < lines.size(); ++i) {
        auto e = json::parse(lines[i]).as_object();
        if (e.at("listener") != "storage") continue;
        whole += e.at("status") == 200;
        parts += e.at("status") == 206;
    }
    BOOST_TEST(whole == 2);
    BOOST_TEST(parts == 6);  // 1.5 MiB in 256 KiB parts
}

BOOST_FIXTURE_TEST_CASE(local_dir_mode, dl_fixture) {
    temp_dir dir;
    auto o = opts();
    o.local_dir = dir.path();
    auto p = dl("sub/config.json", o);
    BOOST_TEST(p == dir.path() / "sub" / "config.json");
    BOOST_TEST(!fs::is_symlink(p));
    BOOST_TEST(slurp(p) == config);
    auto meta = slurp(dir.path() / ".cache" / "huggingface" / "download" / "sub" / "config.json.metadata");
    BOOST_TEST(meta.starts_with(commit + "\n" + util::git_blob_sha1(config) + "\n"));
    BOOST_TEST(slurp(dir.path() / ".cache" / "huggingface" / ".gitignore") == "*");
    auto before = requests();
    dl("sub/config.json", o);
    BOOST_TEST(requests() == before + 1);  // the HEAD only: the etag matched
}

BOOST_FIXTURE_TEST_CASE(bad_input_is_refused_before_any_request, dl_fixture) {
    auto before = requests();
    for (auto [repo, file] : {std::pair{"alice/../x", "a"}, std::pair{"alice/d", "../etc/passwd"},
                              std::pair{"alice/d", "/abs"}, std::pair{"a/b/c", "x"}}) {
        BOOST_CHECK_THROW(run(ioc, co_hf_hub_download(*c, repo, file, opts())), hfhub::error);
    }
    BOOST_TEST(requests() == before);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(download_snapshot)

BOOST_FIXTURE_TEST_CASE(whole_snapshot_and_offline_again, dl_fixture) {
    snapshot_options o;
    o.cache_dir = cache.path();
    auto dir = run(ioc, co_snapshot_download(*c, "alice/d", o));
    BOOST_TEST(dir == repo_dir() / "snapshots" / commit);
    BOOST_TEST(slurp(dir / "README.md") == readme);
    BOOST_TEST(slurp(dir / "sub" / "config.json") == config);
    BOOST_TEST((slurp(dir / "weights.bin") == weights));
    BOOST_TEST(slurp(repo_dir() / "refs" / "main") == commit);
    auto before = requests();
    o.offline = offline_policy::offline;
    BOOST_TEST(run(ioc, co_snapshot_download(*c, "alice/d", o)) == dir);
    BOOST_TEST(requests() == before);
}

BOOST_FIXTURE_TEST_CASE(patterns_select_files, dl_fixture) {
    snapshot_options o;
    o.cache_dir = cache.path();
    o.allow_patterns = {"*.json", "*.md"};
    o.ignore_patterns = {"README*"};
    auto dir = run(ioc, co_snapshot_download(*c, "alice/d", o));
    BOOST_TEST(fs::exists(dir / "sub" / "config.json"));
    BOOST_TEST(!fs::exists(dir / "README.md"));
    BOOST_TEST(!fs::exists(dir / "weights.bin"));
    BOOST_TEST(!fs::exists(dir / ".gitattributes"));
}

BOOST_AUTO_TEST_CASE(pattern_table) {
    BOOST_TEST(path_matches("a/b.json", {"*.json"}, {}));
    BOOST_TEST(!path_matches("a/b.json", {"*.bin"}, {}));
    BOOST_TEST(path_matches("data/x/y.csv", {"data/"}, {}));  // trailing '/' means everything under
    BOOST_TEST(!path_matches("data/x.csv", {}, {"data/*"}));
    BOOST_TEST(path_matches("x.csv", {}, {"data/*"}));
}

BOOST_AUTO_TEST_SUITE_END()
