// What a person at a terminal sees: the real hfhub on a pseudo-terminal against the test Hub,
// its bytes replayed through a tiny terminal, and the screen checked line by line: the phases
// and their counts, no leftovers of longer lines, nothing wider than the terminal, and the
// final line. Without a terminal (a pipe, TERM=dumb, --quiet) there are no escapes at all.
#include "hub_helpers.hpp"
#include "pty_util.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>
#include <thread>

using namespace hfhub::test;
using namespace hfhub::test::pty;
using hfhub::test::transport::child_process;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string dump(const strings& lines) {
    std::ostringstream os;
    for (auto& l : lines) os << "\n  |" << l;
    return os.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << bytes;
}

// A binary file the Hub stores in LFS (a NUL in its first bytes).
std::string lfs_bytes(std::size_t n, unsigned seed) { return std::string(1, '\0') + hfhub::test::pattern_bytes(n, seed); }

struct term_fixture {
    test_server s;
    temp_dir home, work;
    fs::path cache() const { return home.path() / "hub"; }
    strings env(bool colour = false) const {
        strings e{"TERM=xterm", "HF_HOME=" + home.path().string(), "HF_HUB_CACHE=" + cache().string()};
        if (!colour) e.push_back("NO_COLOR=1");
        return e;
    }
    strings hub() const { return {"--endpoint", s.url(), "--token", alice_token}; }
    strings with_hub(strings a) const {
        auto h = hub();
        a.insert(a.end(), h.begin(), h.end());
        return a;
    }
    // A repo of five small files (four and the Hub's .gitattributes), one already in the cache.
    std::string four_files() {
        s.create_repo("alice/d", alice_token);
        auto commit = must_commit(s, "models/alice/d", "main",
                                  {test_server::add_file("a.txt", "a\n"), test_server::add_file("b.txt", "bb\n"),
                                   test_server::add_file("c/c.txt", "ccc\n"), test_server::add_file("config.json", "{}")});
        child_process pre({"/usr/bin/env", "HF_HUB_CACHE=" + cache().string(), transport::hfhub_binary(), "download",
                           "alice/d", "a.txt", "--endpoint", s.url(), "--token", alice_token});
        BOOST_TEST_REQUIRE(pre.wait(30000ms).value_or(-1) == 0);
        return commit;
    }
};

void check_redraws(const std::string& out) {
    auto bad = redraw_without_clear(out);
    BOOST_TEST(bad.empty(), "a redraw does not clear its line: '" << bad << "'");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli_terminal)

BOOST_FIXTURE_TEST_CASE(upload_shows_each_phase_with_its_own_counts, term_fixture) {
    // Four files: three go to LFS, and the Hub already stores one of those.
    auto folder = work.path() / "model";
    write_file(folder / "config.json", "{\"layers\": 2}\n");
    write_file(folder / "w1.bin", lfs_bytes(300 << 10, 1));
    write_file(folder / "w2.bin", lfs_bytes(200 << 10, 2));
    std::string w3 = lfs_bytes(100 << 10, 3);
    write_file(folder / "w3.bin", w3);
    s.create_repo("alice/up", alice_token);
    s.upload_lfs("alice/up", w3, alice_token);

    pty_child p(with_hub({"upload", "alice/up", folder.string()}), env(), 100);
    BOOST_TEST_REQUIRE(p.wait() == 0, p.output());
    screen sc(100);
    sc.feed(p.output());
    auto lines = sc.text();
    BOOST_TEST_INFO("screen:" << dump(lines));
    BOOST_TEST(has_line(lines, "hashing 4 files", "4/4"));
    BOOST_TEST(has_line(lines, "checking what the Hub has", "done in"));
    BOOST_TEST(has_line(lines, "uploading 3 LFS files (2 new, 1 already on the Hub)", "3/3"));
    BOOST_TEST(has_line(lines, "committing", "done in"));
    // Each phase leaves one line, in order, and the URL comes last.
    BOOST_TEST_REQUIRE(lines.size() == 5u);
    BOOST_TEST(lines[0].starts_with("hashing"));
    BOOST_TEST(lines[2].starts_with("uploading"));
    BOOST_TEST(lines[3].starts_with("committing"));
    BOOST_TEST(lines.back().starts_with(s.url() + "/alice/up/commit/"));
    BOOST_TEST(sc.wraps == 0);
    BOOST_TEST(sc.unknown_escapes == 0);
    check_redraws(p.output());
    BOOST_TEST(p.output().find("\x1b[1m") == std::string::npos, "colour despite NO_COLOR");
}

BOOST_FIXTURE_TEST_CASE(download_counts_cached_files_as_done, term_fixture) {
    auto commit = four_files();
    pty_child p(with_hub({"download", "alice/d"}), env(), 100);
    BOOST_TEST_REQUIRE(p.wait() == 0, p.output());
    screen sc(100);
    sc.feed(p.output());
    auto lines = sc.text();
    BOOST_TEST_INFO("screen:" << dump(lines));
    BOOST_TEST_REQUIRE(lines.size() >= 2u);
    BOOST_TEST(lines[0].starts_with("downloading 5 files (1 cached)  "));
    BOOST_TEST(has_line(lines, "downloading 5 files (1 cached)", "5/5"));
    BOOST_TEST(has_line(lines, "downloading 5 files (1 cached)", "done in"));
    // The printed path is the last line, whole.
    BOOST_TEST(lines.back() == (cache() / "models--alice--d" / "snapshots" / commit).string());
    BOOST_TEST(sc.unknown_escapes == 0);
    check_redraws(p.output());

    // Again, all cached, with colour allowed: the phase name is bold, and only that.
    pty_child again(with_hub({"download", "alice/d"}), env(true), 100);
    BOOST_TEST_REQUIRE(again.wait() == 0, again.output());
    screen sc2(100);
    sc2.feed(again.output());
    BOOST_TEST_INFO("screen:" << dump(sc2.text()));
    BOOST_TEST(has_line(sc2.text(), "downloading 5 files (all cached)", "5/5"));
    BOOST_TEST(again.output().find("\x1b[1mdownloading 5 files (all cached)\x1b[0m") != std::string::npos);
    check_redraws(again.output());
}

BOOST_FIXTURE_TEST_CASE(lines_fit_a_narrow_terminal, term_fixture) {
    four_files();
    // 40 columns from the tty itself, then from COLUMNS (which wins) on a wide tty. stdout
    // goes to a file: the path it prints is not the progress's to fit.
    for (bool from_env : {false, true}) {
        auto e = env();
        if (from_env) e.push_back("COLUMNS=40");
        pty_child p(with_hub({"download", "alice/d", "--force-download"}), e, from_env ? 200 : 40, 30,
                    work.path() / "out.txt");
        BOOST_TEST_REQUIRE(p.wait() == 0, p.output());
        screen sc(40);
        sc.feed(p.output());
        auto lines = sc.text();
        BOOST_TEST_INFO("COLUMNS " << from_env << ", screen:" << dump(lines));
        BOOST_TEST(sc.wraps == 0);
        for (auto& l : lines) BOOST_TEST(l.size() < 40u);
        BOOST_TEST(has_line(lines, "downloading 5 files"));
        check_redraws(p.output());
    }
}

BOOST_FIXTURE_TEST_CASE(no_bars_without_a_real_terminal, term_fixture) {
    four_files();
    auto no_escapes = [](const std::string& what, const std::string& out) {
        BOOST_TEST(out.find('\x1b') == std::string::npos, what << ": " << out);
        // The tty turns each newline into \r\n; any other \r is a redraw.
        std::string t = out;
        for (auto i = t.find("\r\n"); i != std::string::npos; i = t.find("\r\n", i)) t.erase(i, 1);
        BOOST_TEST(t.find('\r') == std::string::npos, what << ": " << out);
    };
    {
        auto e = env(true);
        e.push_back("TERM=dumb");
        e.erase(e.begin());  // the TERM=xterm
        pty_child p(with_hub({"download", "alice/d", "--force-download"}), e, 100);
        BOOST_TEST_REQUIRE(p.wait() == 0, p.output());
        no_escapes("TERM=dumb", p.output());
    }
    {
        pty_child p(with_hub({"download", "alice/d", "--force-download", "--quiet"}), env(true), 100);
        BOOST_TEST_REQUIRE(p.wait() == 0, p.output());
        no_escapes("--quiet", p.output());
    }
    {
        child_process p({"/usr/bin/env", "TERM=xterm", "HF_HUB_CACHE=" + cache().string(), transport::hfhub_binary(),
                         "download", "alice/d", "--force-download", "--endpoint", s.url(), "--token", alice_token});
        BOOST_TEST_REQUIRE(p.wait(30000ms).value_or(-1) == 0);
        auto err = p.rest_of_stderr();
        no_escapes("pipes", err);
        BOOST_TEST(err.empty(), err);
    }
}

// Ctrl-C mid-transfer: one line saying what was kept, exit 130. The storage side stalls so
// the transfer is surely running when the key is pressed.
struct stalled_fixture {
    temp_dir d, home, work;
    std::unique_ptr<test_server> s;
    explicit stalled_fixture(const std::string& rule) {
        std::ofstream(d.path() / "faults.json") << R"({"rules":[)" << rule << "]}";
        s = std::make_unique<test_server>([&](hfhub::server::options& o) { o.faults_file = d.path() / "faults.json"; });
    }
    strings env() const { return {"TERM=xterm", "NO_COLOR=1", "HF_HUB_CACHE=" + (home.path() / "hub").string()}; }
    // Types Ctrl-C once `ready` holds, reading the terminal meanwhile; returns the exit code.
    int interrupt_when(pty_child& p, const std::function<bool()>& ready) {
        auto end = std::chrono::steady_clock::now() + 20s;
        while (!ready() && std::chrono::steady_clock::now() < end)
            p.read_until([](const std::string&) { return false; }, 50ms);
        BOOST_TEST_REQUIRE(ready(), "the transfer never got going: " << p.output());
        p.type("\x03");
        return p.wait(20s);
    }
};

std::vector<fs::path> partial_files(const fs::path& dir) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); ++it)
        if (it->path().extension() == ".incomplete" && it->file_size(ec) > 0) out.push_back(it->path());
    return out;
}

BOOST_AUTO_TEST_CASE(ctrl_c_during_a_download_says_the_partial_file_is_kept) {
    stalled_fixture f(R"({"listener":"storage","method":"GET","stall_after_bytes":1048576,"stall_ms":8000,"times":0})");
    f.s->create_repo("alice/big", alice_token);
    std::string big = lfs_bytes(4 << 20, 7);
    auto sha = f.s->upload_lfs("alice/big", big, alice_token);
    must_commit(*f.s, "models/alice/big", "main", {test_server::add_lfs("big.bin", sha, big.size())});
    pty_child p({"download", "alice/big", "big.bin", "--endpoint", f.s->url(), "--token", alice_token}, f.env(), 100);
    auto cache = f.home.path() / "hub";
    int code = f.interrupt_when(p, [&] { return !partial_files(cache).empty(); });
    screen sc(100);
    sc.feed(p.output());
    auto lines = sc.text();
    BOOST_TEST_INFO("screen:" << dump(lines));
    BOOST_TEST(code == 130);
    BOOST_TEST_REQUIRE(!lines.empty());
    BOOST_TEST(lines.back() == "interrupted: partial downloads are kept; run the same command to resume");
    BOOST_TEST(lines[0].starts_with("downloading 1 file"));
    BOOST_TEST(partial_files(cache).size() == 1u);
}

BOOST_AUTO_TEST_CASE(ctrl_c_during_an_upload_says_nothing_was_committed) {
    stalled_fixture f(R"({"listener":"storage","method":"PUT","stall_ms":8000,"times":0})");
    write_file(f.work.path() / "m" / "w.bin", lfs_bytes(1 << 20, 9));
    write_file(f.work.path() / "m" / "config.json", "{}");
    f.s->create_repo("alice/upc", alice_token);
    auto before = head_of(*f.s, "models/alice/upc");
    pty_child p({"upload", "alice/upc", (f.work.path() / "m").string(), "--endpoint", f.s->url(), "--token",
                 alice_token}, f.env(), 100);
    int code = f.interrupt_when(p, [&] { return p.output().find("uploading 1 LFS file") != std::string::npos; });
    screen sc(100);
    sc.feed(p.output());
    auto lines = sc.text();
    BOOST_TEST_INFO("screen:" << dump(lines));
    BOOST_TEST(code == 130);
    BOOST_TEST_REQUIRE(!lines.empty());
    BOOST_TEST(lines.back() == "interrupted: nothing was committed; LFS files already sent stay on the Hub");
    BOOST_TEST(head_of(*f.s, "models/alice/upc") == before);
}

BOOST_AUTO_TEST_SUITE_END()
