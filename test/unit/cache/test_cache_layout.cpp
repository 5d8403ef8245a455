// The cache layout: path functions, refs, markers, snapshot links and lookups.
#include "cache/layout.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include "test_server.hpp"  // temp_dir

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <fstream>

#include <sys/stat.h>

using namespace hfhub::cache;
namespace fs = std::filesystem;
using hfhub::repo_type;

namespace {

const std::string commit_a(40, 'a');
const std::string commit_b = "0123456789abcdef0123456789abcdef01234567";

void write(const fs::path& p, const std::string& s) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << s;  // no fsync: keeps the tests fast
}

std::string slurp(const fs::path& p) { return hfhub::util::read_file(p).value_or("<missing>"); }

ino_t inode(const fs::path& p) {
    struct stat st{};
    BOOST_TEST_REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st.st_ino;
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

template <class F>
std::error_code code_of(F&& f) {
    try {
        f();
    } catch (const hfhub::error& e) {
        return e.code();
    }
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cache_layout)

BOOST_AUTO_TEST_CASE(commit_hash_shape) {
    BOOST_TEST(is_commit_hash(commit_b));
    BOOST_TEST(!is_commit_hash(commit_b.substr(1)));
    BOOST_TEST(!is_commit_hash(commit_b + "0"));
    BOOST_TEST(!is_commit_hash(std::string(40, 'A')));
    BOOST_TEST(!is_commit_hash("main"));
}

BOOST_AUTO_TEST_CASE(model_paths) {
    repo_cache c("/cache", repo_type::model, "org/name");
    BOOST_TEST(c.root() == fs::path("/cache"));
    BOOST_TEST(c.folder() == "models--org--name");
    BOOST_TEST(c.dir() == fs::path("/cache/models--org--name"));
    BOOST_TEST(c.blob("e1") == fs::path("/cache/models--org--name/blobs/e1"));
    BOOST_TEST(c.snapshot(commit_a) == fs::path("/cache/models--org--name/snapshots/" + commit_a));
    BOOST_TEST(c.snapshot_file(commit_a, "config.json") ==
               fs::path("/cache/models--org--name/snapshots/" + commit_a + "/config.json"));
    BOOST_TEST(c.snapshot_file(commit_a, "a/b/c.txt") ==
               fs::path("/cache/models--org--name/snapshots/" + commit_a + "/a/b/c.txt"));
    BOOST_TEST(c.ref("main") == fs::path("/cache/models--org--name/refs/main"));
    BOOST_TEST(c.ref("refs/pr/1") == fs::path("/cache/models--org--name/refs/refs/pr/1"));
    BOOST_TEST(c.no_exist(commit_a, "sub/x.bin") ==
               fs::path("/cache/models--org--name/.no_exist/" + commit_a + "/sub/x.bin"));
    BOOST_TEST(c.lock("e1") == fs::path("/cache/.locks/models--org--name/e1.lock"));
    BOOST_TEST(c.tree_cache(commit_a) == fs::path("/cache/models--org--name/trees/" + commit_a + ".json"));
}

BOOST_AUTO_TEST_CASE(dataset_space_and_legacy_folders) {
    BOOST_TEST(repo_cache("/c", repo_type::dataset, "acme/squad").dir() == fs::path("/c/datasets--acme--squad"));
    BOOST_TEST(repo_cache("/c", repo_type::space, "acme/demo").dir() == fs::path("/c/spaces--acme--demo"));
    repo_cache legacy("/c", repo_type::model, "gpt2");
    BOOST_TEST(legacy.folder() == "models--gpt2");
    BOOST_TEST(legacy.lock("x") == fs::path("/c/.locks/models--gpt2/x.lock"));
    BOOST_TEST(repo_cache("/c", repo_type::dataset, "acme/squad").lock("e") ==
               fs::path("/c/.locks/datasets--acme--squad/e.lock"));
}

BOOST_AUTO_TEST_CASE(names_cannot_escape_the_repo_folder) {
    repo_cache c("/cache", repo_type::model, "org/name");
    const std::error_code bad = hfhub::client_errc::invalid_path;
    BOOST_TEST(code_of([&] { c.snapshot_file(commit_a, "../../x"); }) == bad);
    BOOST_TEST(code_of([&] { c.snapshot_file(commit_a, "/etc/passwd"); }) == bad);
    BOOST_TEST(code_of([&] { c.snapshot_file(commit_a, "a//b"); }) == bad);
    BOOST_TEST(code_of([&] { c.snapshot_file(commit_a, "a/./b"); }) == bad);
    BOOST_TEST(code_of([&] { c.ref(""); }) == bad);
    BOOST_TEST(code_of([&] { c.ref("../../../x"); }) == bad);
    BOOST_TEST(code_of([&] { c.blob("a/b"); }) == bad);
    BOOST_TEST(code_of([&] { c.snapshot(".."); }) == bad);
    BOOST_TEST(code_of([&] { c.lock(""); }) == bad);
    const std::error_code bad_id = hfhub::client_errc::invalid_repo_id;
    BOOST_TEST(code_of([] { repo_cache("/c", repo_type::model, "../x"); }) == bad_id);
    BOOST_TEST(code_of([] { repo_cache("/c", repo_type::model, ""); }) == bad_id);
    BOOST_TEST(code_of([] { repo_cache("/c", repo_type::model, "/abs"); }) == bad_id);
    BOOST_TEST(code_of([] { repo_cache("/c", repo_type::model, "a--b/c"); }) == bad_id);  // ambiguous folder
}

BOOST_AUTO_TEST_CASE(write_ref_only_when_changed_and_atomically) {
    hfhub::test::temp_dir tmp;
    repo_cache c(tmp.path(), repo_type::model, "org/name");
    write_ref(c, "main", commit_a);
    BOOST_TEST(slurp(c.ref("main")) == commit_a);  // 40 bytes, no newline
    BOOST_TEST(fs::file_size(c.ref("main")) == 40u);

    // Same value: the file is not rewritten (mtime and inode kept).
    auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(1);
    fs::last_write_time(c.ref("main"), old_time);
    auto ino = inode(c.ref("main"));
    write_ref(c, "main", commit_a);
    BOOST_TEST((fs::last_write_time(c.ref("main")) == old_time));
    BOOST_TEST(inode(c.ref("main")) == ino);

    // New value: replaced by rename (a new inode), no temp file left behind.
    write_ref(c, "main", commit_b);
    BOOST_TEST(slurp(c.ref("main")) == commit_b);
    BOOST_TEST(inode(c.ref("main")) != ino);
    BOOST_TEST(names_in(c.dir() / "refs") == std::vector<std::string>{"main"});

    write_ref(c, "refs/pr/1", commit_b);
    BOOST_TEST(slurp(c.dir() / "refs" / "refs" / "pr" / "1") == commit_b);
    // A revision that is its own commit needs no ref.
    write_ref(c, commit_a, commit_a);
    BOOST_TEST(!fs::exists(c.dir() / "refs" / commit_a));
    BOOST_TEST(code_of([&] { write_ref(c, "main", "not-a-commit"); }) ==
               std::error_code(hfhub::client_errc::invalid_path));
    BOOST_TEST(slurp(c.ref("main")) == commit_b);
}

BOOST_AUTO_TEST_CASE(resolve_cached_revision_reads_refs) {
    hfhub::test::temp_dir tmp;
    repo_cache c(tmp.path(), repo_type::model, "org/name");
    BOOST_TEST(resolve_cached_revision(c, commit_b).value_or("") == commit_b);  // hashes need no ref
    BOOST_TEST(!resolve_cached_revision(c, "main").has_value());
    write_ref(c, "main", commit_a);
    BOOST_TEST(resolve_cached_revision(c, "main").value_or("") == commit_a);
    write(c.ref("v1"), commit_a + "\n");  // not what any client writes: no such snapshot
    BOOST_TEST(!resolve_cached_revision(c, "v1").has_value());
}

BOOST_AUTO_TEST_CASE(cachedir_tag_and_missing_markers) {
    hfhub::test::temp_dir tmp;
    fs::path root = tmp.path() / "hub";
    ensure_cachedir_tag(root);
    std::string tag = slurp(root / "CACHEDIR.TAG");
    BOOST_TEST(tag.rfind("Signature: 8a477f597d28d172789f06886806bc55\n", 0) == 0u);
    auto old_time = fs::file_time_type::clock::now() - std::chrono::hours(1);
    fs::last_write_time(root / "CACHEDIR.TAG", old_time);
    ensure_cachedir_tag(root);
    BOOST_TEST((fs::last_write_time(root / "CACHEDIR.TAG") == old_time));

    repo_cache c(root, repo_type::dataset, "acme/data");
    mark_missing(c, commit_a, "sub/dir/missing.bin");
    fs::path marker = root / "datasets--acme--data" / ".no_exist" / commit_a / "sub" / "dir" / "missing.bin";
    BOOST_TEST(fs::is_regular_file(marker));
    BOOST_TEST(fs::file_size(marker) == 0u);
    mark_missing(c, commit_a, "sub/dir/missing.bin");  // idempotent
    BOOST_TEST(fs::is_regular_file(marker));
}

BOOST_AUTO_TEST_CASE(relative_links_at_several_depths) {
    hfhub::test::temp_dir tmp;
    repo_cache c(tmp.path(), repo_type::model, "org/name");
    BOOST_TEST(symlinks_supported(tmp.path()));
    BOOST_TEST(fs::is_empty(tmp.path() / ".locks"));  // the probe cleans up
    const std::string etag = hfhub::util::sha256_hex("payload");
    write(c.blob(etag), "payload");

    struct {
        std::string file, target;
    } cases[] = {
        {"a.txt", "../../blobs/" + etag},
        {"a/b.txt", "../../../blobs/" + etag},
        {"a/b/c/d.txt", "../../../../../blobs/" + etag},
    };
    for (auto& k : cases) {
        link_snapshot_file(c, commit_a, k.file, c.blob(etag));
        fs::path link = c.snapshot_file(commit_a, k.file);
        BOOST_TEST_INFO(k.file);
        BOOST_TEST(fs::is_symlink(link));
        BOOST_TEST(fs::read_symlink(link).string() == k.target);
        BOOST_TEST(fs::canonical(link) == fs::canonical(c.blob(etag)));
        BOOST_TEST(slurp(link) == "payload");
    }

    // A blob outside the repo folder still gets a relative target.
    fs::path outside = tmp.path() / "elsewhere" / "blob";
    write(outside, "x");
    link_snapshot_file(c, commit_a, "o.txt", outside);
    BOOST_TEST(fs::read_symlink(c.snapshot_file(commit_a, "o.txt")).string() == "../../../elsewhere/blob");
    BOOST_TEST(slurp(c.snapshot_file(commit_a, "o.txt")) == "x");
}

BOOST_AUTO_TEST_CASE(relinking_replaces_atomically) {
    hfhub::test::temp_dir tmp;
    repo_cache c(tmp.path(), repo_type::model, "org/name");
    write(c.blob("one"), "first");
    write(c.blob("two"), "second");
    fs::path link = c.snapshot_file(commit_a, "f.txt");
    write(link, "stale regular file");
    link_snapshot_file(c, commit_a, "f.txt", c.blob("one"));
    BOOST_TEST(fs::is_symlink(link));
    BOOST_TEST(slurp(link) == "first");
    link_snapshot_file(c, commit_a, "f.txt", c.blob("two"));
    BOOST_TEST(slurp(link) == "second");
    // Nothing but the entry itself: no temp names left beside it.
    BOOST_TEST(names_in(link.parent_path()) == std::vector<std::string>{"f.txt"});
}

BOOST_AUTO_TEST_CASE(copy_fallback_when_symlinks_are_disabled) {
    hfhub::test::temp_dir tmp;
    repo_cache c(tmp.path(), repo_type::model, "org/name");
    write(c.blob("e"), "blob bytes");
    link_snapshot_file(c, commit_a, "d/f.bin", c.blob("e"), /*allow_symlinks=*/false);
    fs::path p = c.snapshot_file(commit_a, "d/f.bin");
    BOOST_TEST(!fs::is_symlink(p));
    BOOST_TEST(fs::is_regular_file(p));
    BOOST_TEST(slurp(p) == "blob bytes");
    BOOST_TEST(fs::exists(c.blob("e")));  // copied, not moved
    BOOST_TEST(inode(p) != inode(c.blob("e")));
    // An existing link is replaced by a copy, atomically.
    write(c.blob("e2"), "newer");
    link_snapshot_file(c, commit_a, "d/g.bin", c.blob("e"));
    BOOST_TEST(fs::is_symlink(c.snapshot_file(commit_a, "d/g.bin")));
    link_snapshot_file(c, commit_a, "d/g.bin", c.blob("e2"), false);
    BOOST_TEST(!fs::is_symlink(c.snapshot_file(commit_a, "d/g.bin")));
    BOOST_TEST(slurp(c.snapshot_file(commit_a, "d/g.bin")) == "newer");
    BOOST_TEST(names_in(p.parent_path()) == (std::vector<std::string>{"f.bin", "g.bin"}));
}

BOOST_AUTO_TEST_CASE(lookup_states) {
    hfhub::test::temp_dir tmp;
    repo_cache c(tmp.path(), repo_type::model, "org/name");

    auto r = lookup(c, "main", "f.txt");  // nothing cached at all
    BOOST_TEST((r.state == cached_state::unknown));
    BOOST_TEST(r.commit.empty());

    write_ref(c, "main", commit_a);
    r = lookup(c, "main", "f.txt");  // ref known, no snapshot
    BOOST_TEST((r.state == cached_state::unknown));
    BOOST_TEST(r.commit == commit_a);

    write(c.blob("e"), "data");
    link_snapshot_file(c, commit_a, "dir/f.txt", c.blob("e"));
    r = lookup(c, "main", "dir/f.txt");
    BOOST_TEST((r.state == cached_state::present));
    BOOST_TEST(r.commit == commit_a);
    BOOST_TEST(r.path == c.snapshot_file(commit_a, "dir/f.txt"));
    r = lookup(c, commit_a, "dir/f.txt");  // by hash, no ref needed
    BOOST_TEST((r.state == cached_state::present));
    r = lookup(c, commit_b, "dir/f.txt");  // other commit: no fallback to another snapshot
    BOOST_TEST((r.state == cached_state::unknown));
    BOOST_TEST(r.commit == commit_b);

    mark_missing(c, commit_a, "gone.txt");
    r = lookup(c, "main", "gone.txt");
    BOOST_TEST((r.state == cached_state::known_missing));
    BOOST_TEST(r.commit == commit_a);
    BOOST_TEST(r.path.empty());

    // A dangling link is not a cached file.
    fs::remove(c.blob("e"));
    r = lookup(c, "main", "dir/f.txt");
    BOOST_TEST((r.state == cached_state::unknown));
    BOOST_TEST(r.path.empty());
}

BOOST_AUTO_TEST_SUITE_END()
