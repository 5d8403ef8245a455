// Cache tools on a cache built by hand: scan, delete plans, prune, verify.
#include "cache/lock.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include "test_server.hpp"  // temp_dir

#include <hfhub/cache.hpp>

#include <boost/test/unit_test.hpp>

#include <fstream>

#include <algorithm>

namespace fs = std::filesystem;
using namespace hfhub;

namespace {

const std::string c1(40, '1'), c2(40, '2'), c3(40, '3'), d1(40, 'd'), g1(40, 'a'), e1(40, 'e');

void write(const fs::path& p, const std::string& s) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << s;  // no fsync: keeps the tests fast
}

// A blob named like the Hub names it: sha256 for LFS files, git blob id otherwise.
std::string lfs_blob(const fs::path& repo, const std::string& content) {
    std::string etag = util::sha256_hex(content);
    write(repo / "blobs" / etag, content);
    return etag;
}
std::string git_blob(const fs::path& repo, const std::string& content) {
    std::string etag = util::git_blob_sha1(content);
    write(repo / "blobs" / etag, content);
    return etag;
}

// snapshots/<commit>/<file> -> ../../blobs/<etag>, one more "../" per folder level.
void link(const fs::path& repo, const std::string& commit, const std::string& file, const std::string& etag) {
    fs::path p = repo / "snapshots" / commit / file;
    fs::create_directories(p.parent_path());
    std::string up = "../../";
    for (char ch : file)
        if (ch == '/') up += "../";
    fs::create_symlink(up + "blobs/" + etag, p);
}

bool has(const std::vector<fs::path>& v, const fs::path& p) { return std::find(v.begin(), v.end(), p) != v.end(); }

// The hand-built cache:
//   models--acme--bert   c1 (refs/pr/1): config, weights; c2 (main): config, weights, sub/README.md;
//                        c3 (no ref): old.txt; an orphan blob; an .incomplete download
//   datasets--acme--data d1 (main): data/train.csv
//   models--gpt2         g1 (main): f.txt
//   spaces--broken--app  a dangling link            -> warning
//   models--acme--badref refs/main to no snapshot    -> warning
//   kernels--acme--k     not a model/dataset/space   -> warning
//   CACHEDIR.TAG, .locks, .DS_Store, Thumbs.db, desktop.ini  -> ignored
struct hand_cache {
    hfhub::test::temp_dir tmp;
    fs::path root = tmp.path() / "hub";
    fs::path bert = root / "models--acme--bert";
    fs::path data = root / "datasets--acme--data";
    fs::path gpt2 = root / "models--gpt2";
    std::string weights, config, readme, old, orphan, train, gfile;
    fs::path incomplete;

    hand_cache() {
        write(root / "CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
        write(root / ".locks" / "models--acme--bert" / "x.lock", "");
        write(root / ".DS_Store", "junk");
        write(root / "Thumbs.db", "junk");
        write(root / "desktop.ini", "junk");

        weights = lfs_blob(bert, std::string(1000, 'w'));
        config = git_blob(bert, std::string(10, 'c'));
        readme = git_blob(bert, std::string(20, 'r'));
        old = lfs_blob(bert, std::string(300, 'o'));
        orphan = lfs_blob(bert, std::string(50, 'z'));
        incomplete = bert / "blobs" / (util::sha256_hex("in progress") + ".1a2b3c4d.incomplete");
        write(incomplete, std::string(7, 'i'));
        link(bert, c1, "config.json", config);
        link(bert, c1, "weights.bin", weights);
        link(bert, c2, "config.json", config);
        link(bert, c2, "weights.bin", weights);
        link(bert, c2, "sub/README.md", readme);
        link(bert, c3, "old.txt", old);
        write(bert / "refs" / "main", c2);
        write(bert / "refs" / "refs" / "pr" / "1", c1);
        write(bert / "snapshots" / ".DS_Store", "junk");

        train = lfs_blob(data, std::string(64, 't'));
        link(data, d1, "data/train.csv", train);
        write(data / "refs" / "main", d1);

        gfile = git_blob(gpt2, "hello\n");
        link(gpt2, g1, "f.txt", gfile);
        write(gpt2 / "refs" / "main", g1);

        fs::path broken = root / "spaces--broken--app";
        lfs_blob(broken, "fine");
        link(broken, e1, "a.txt", util::sha256_hex("never downloaded"));

        fs::path badref = root / "models--acme--badref";
        fs::create_directories(badref / "snapshots");
        write(badref / "refs" / "main", e1);

        fs::path kernel = root / "kernels--acme--k";
        lfs_blob(kernel, "k");
        link(kernel, e1, "k.txt", util::sha256_hex("k"));
    }

    fs::path blob(const fs::path& repo, const std::string& etag) const { return fs::canonical(repo / "blobs" / etag); }
};

const cached_repo* find_repo(const cache_report& r, const std::string& id) {
    for (auto& repo : r.repos)
        if (repo.repo_id == id) return &repo;
    return nullptr;
}

std::size_t count_warnings(const cache_report& r, const std::string& needle) {
    return std::count_if(r.warnings.begin(), r.warnings.end(),
                         [&](const std::string& w) { return w.find(needle) != std::string::npos; });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cache_tools)

BOOST_AUTO_TEST_CASE(scan_reads_repos_refs_sizes_and_damage) {
    hand_cache h;
    auto r = scan_cache(h.root);
    BOOST_TEST(r.cache_dir == h.root);
    BOOST_TEST_REQUIRE(r.repos.size() == 3u);

    const auto* bert = find_repo(r, "acme/bert");
    BOOST_TEST_REQUIRE(bert);
    BOOST_TEST((bert->type == repo_type::model));
    BOOST_TEST(bert->repo_path == h.bert);
    BOOST_TEST(bert->nb_files == 4u);                       // unique blobs (the orphan isn't linked)
    BOOST_TEST(bert->size_on_disk == 1000u + 10 + 20 + 300);  // shared blobs counted once
    BOOST_TEST_REQUIRE(bert->revisions.size() == 3u);
    const auto& r1 = bert->revisions[0];
    const auto& r2 = bert->revisions[1];
    const auto& r3 = bert->revisions[2];
    BOOST_TEST(r1.commit == c1);
    BOOST_TEST(r1.refs == std::set<std::string>{"refs/pr/1"});
    BOOST_TEST(r1.size_on_disk == 1010u);
    BOOST_TEST(r2.commit == c2);
    BOOST_TEST(r2.refs == std::set<std::string>{"main"});
    BOOST_TEST(r2.size_on_disk == 1030u);
    BOOST_TEST(r2.snapshot_path == h.bert / "snapshots" / c2);
    BOOST_TEST_REQUIRE(r2.files.size() == 3u);
    BOOST_TEST(r2.files[0].name == "config.json");
    BOOST_TEST(r2.files[1].name == "sub/README.md");
    BOOST_TEST(r2.files[1].file_path == h.bert / "snapshots" / c2 / "sub" / "README.md");
    BOOST_TEST(r2.files[1].blob_path == h.blob(h.bert, h.readme));
    BOOST_TEST(r2.files[1].size == 20u);
    BOOST_TEST(r2.files[2].name == "weights.bin");
    BOOST_TEST(r3.refs.empty());
    BOOST_TEST(r3.size_on_disk == 300u);

    const auto* data = find_repo(r, "acme/data");
    BOOST_TEST_REQUIRE(data);
    BOOST_TEST((data->type == repo_type::dataset));
    BOOST_TEST_REQUIRE(data->revisions.size() == 1u);
    BOOST_TEST(data->revisions[0].files.at(0).name == "data/train.csv");
    BOOST_TEST(data->size_on_disk == 64u);

    const auto* gpt2 = find_repo(r, "gpt2");
    BOOST_TEST_REQUIRE(gpt2);
    BOOST_TEST(gpt2->size_on_disk == 6u);

    BOOST_TEST(r.size_on_disk == 1330u + 64 + 6);
    BOOST_TEST(r.incomplete == std::vector<fs::path>{h.incomplete});

    // Damage is reported, never thrown; junk, the tag and .locks say nothing.
    BOOST_TEST(r.warnings.size() == 3u);
    BOOST_TEST(count_warnings(r, "spaces--broken--app") == 1u);
    BOOST_TEST(count_warnings(r, "models--acme--badref") == 1u);
    BOOST_TEST(count_warnings(r, "kernels--acme--k") == 1u);
    BOOST_TEST(count_warnings(r, "broken link") == 1u);
    BOOST_TEST(count_warnings(r, "missing snapshots") == 1u);
    BOOST_TEST(!find_repo(r, "broken/app"));
    BOOST_TEST(!find_repo(r, "acme/k"));
}

BOOST_AUTO_TEST_CASE(scan_of_a_missing_folder_warns) {
    hfhub::test::temp_dir tmp;
    auto r = scan_cache(tmp.path() / "nope");
    BOOST_TEST(r.repos.empty());
    BOOST_TEST(r.warnings.size() == 1u);
}

BOOST_AUTO_TEST_CASE(delete_plan_frees_only_unshared_blobs) {
    hand_cache h;
    auto r = scan_cache(h.root);

    auto p = plan_delete_revisions(r, {c2});
    BOOST_TEST(p.blobs == std::vector<fs::path>{h.blob(h.bert, h.readme)});  // config, weights stay for c1
    BOOST_TEST(p.freed_bytes == 20u);
    BOOST_TEST(p.snapshots == std::vector<fs::path>{h.bert / "snapshots" / c2});
    BOOST_TEST(p.refs == std::vector<fs::path>{h.bert / "refs" / "main"});
    BOOST_TEST(p.other.empty());

    p = plan_delete_revisions(r, {c1});
    BOOST_TEST(p.blobs.empty());
    BOOST_TEST(p.freed_bytes == 0u);
    BOOST_TEST(p.refs == std::vector<fs::path>{h.bert / "refs" / "refs" / "pr" / "1"});

    p = plan_delete_revisions(r, {c1, c2});
    BOOST_TEST(p.blobs.size() == 3u);
    BOOST_TEST(p.freed_bytes == 1030u);
    BOOST_TEST(p.other.empty());  // c3 remains

    p = plan_delete_revisions(r, {c1, c2, c3, d1});
    BOOST_TEST(p.freed_bytes == 1330u + 64);
    BOOST_TEST(has(p.other, h.bert));
    BOOST_TEST(has(p.other, h.data));

    p = plan_delete_revisions(r, {std::string(40, 'f')});
    BOOST_TEST((p.blobs.empty() && p.snapshots.empty() && p.refs.empty() && p.other.empty()));
}

BOOST_AUTO_TEST_CASE(execute_a_delete_plan) {
    hand_cache h;
    auto p = plan_delete_revisions(scan_cache(h.root), {c2, d1});
    execute(p);
    execute(p);  // already gone: nothing to do, no error
    BOOST_TEST(!fs::exists(h.bert / "blobs" / h.readme));
    BOOST_TEST(fs::exists(h.bert / "blobs" / h.config));
    BOOST_TEST(fs::exists(h.bert / "blobs" / h.weights));
    BOOST_TEST(!fs::exists(h.bert / "snapshots" / c2));
    BOOST_TEST(!fs::exists(h.bert / "refs" / "main"));
    BOOST_TEST(fs::exists(h.bert / "refs" / "refs" / "pr" / "1"));
    BOOST_TEST(!fs::exists(h.data));  // its only revision went: the folder goes too

    auto r = scan_cache(h.root);
    const auto* bert = find_repo(r, "acme/bert");
    BOOST_TEST_REQUIRE(bert);
    BOOST_TEST(bert->revisions.size() == 2u);
    BOOST_TEST(bert->size_on_disk == 1310u);
    BOOST_TEST(!find_repo(r, "acme/data"));
    BOOST_TEST(r.warnings.size() == 3u);  // no new damage
}

BOOST_AUTO_TEST_CASE(prune_drops_detached_revisions_orphans_and_incomplete_files) {
    hand_cache h;
    auto p = plan_prune(scan_cache(h.root));
    BOOST_TEST(p.snapshots == std::vector<fs::path>{h.bert / "snapshots" / c3});
    BOOST_TEST(p.blobs.size() == 2u);
    BOOST_TEST(has(p.blobs, h.bert / "blobs" / h.old));
    BOOST_TEST(has(p.blobs, h.bert / "blobs" / h.orphan));
    BOOST_TEST(p.other == std::vector<fs::path>{h.incomplete});
    BOOST_TEST(p.refs.empty());
    BOOST_TEST(p.freed_bytes == 300u + 50 + 7);

    execute(p);
    BOOST_TEST(!fs::exists(h.bert / "snapshots" / c3));
    BOOST_TEST(!fs::exists(h.bert / "blobs" / h.old));
    BOOST_TEST(!fs::exists(h.bert / "blobs" / h.orphan));
    BOOST_TEST(!fs::exists(h.incomplete));
    for (auto* e : {&h.weights, &h.config, &h.readme}) BOOST_TEST(fs::exists(h.bert / "blobs" / *e));
    BOOST_TEST(fs::exists(h.data / "blobs" / h.train));

    auto again = plan_prune(scan_cache(h.root));
    BOOST_TEST((again.blobs.empty() && again.snapshots.empty() && again.other.empty()));
    BOOST_TEST(again.freed_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(execute_leaves_files_a_download_holds_locked) {
    hand_cache h;
    auto p = plan_prune(scan_cache(h.root));
    std::string etag = h.incomplete.filename().string().substr(0, 64);
    auto held = cache::file_lock::try_acquire(h.root / ".locks" / "models--acme--bert" / (etag + ".lock"));
    BOOST_TEST_REQUIRE(held.held());
    execute(p);
    BOOST_TEST(fs::exists(h.incomplete));                  // still being downloaded
    BOOST_TEST(!fs::exists(h.bert / "blobs" / h.orphan));  // unlocked ones went
}

BOOST_AUTO_TEST_CASE(verify_finds_flipped_bytes_and_dangling_links) {
    hand_cache h;
    auto v = verify_cache(h.root);
    // bert 5 + data 1 + gpt2 1 + broken 1 hash-named blobs; kernels-- and .incomplete are skipped.
    BOOST_TEST(v.checked == 8u);
    BOOST_TEST(v.corrupted.empty());
    BOOST_TEST(v.dangling == std::vector<fs::path>{h.root / "spaces--broken--app" / "snapshots" / e1 / "a.txt"});

    auto flip = [](const fs::path& p, std::size_t at) {
        std::string s = util::read_file(p).value();
        s[at] = static_cast<char>(s[at] ^ 1);
        std::ofstream(p, std::ios::binary | std::ios::trunc) << s;
    };
    flip(h.bert / "blobs" / h.weights, 500);  // sha256-named
    flip(h.gpt2 / "blobs" / h.gfile, 0);      // git-blob-named
    fs::remove(h.bert / "blobs" / h.readme);  // c2's sub/README.md now dangles
    v = verify_cache(h.root);
    BOOST_TEST(v.checked == 7u);
    BOOST_TEST(v.corrupted.size() == 2u);
    BOOST_TEST(has(v.corrupted, h.bert / "blobs" / h.weights));
    BOOST_TEST(has(v.corrupted, h.gpt2 / "blobs" / h.gfile));
    BOOST_TEST(v.dangling.size() == 2u);
    BOOST_TEST(has(v.dangling, h.bert / "snapshots" / c2 / "sub" / "README.md"));
}

BOOST_AUTO_TEST_SUITE_END()
