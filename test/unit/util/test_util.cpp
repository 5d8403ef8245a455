#include "util/hash.hpp"
#include "util/paths.hpp"
#include "util/blocking.hpp"
#include "util/read_ahead.hpp"
#include "util/sigpipe.hpp"

#include <boost/asio/post.hpp>

#include <boost/test/unit_test.hpp>

#include <cerrno>
#include <chrono>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <cstdio>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <unistd.h>

using namespace hfhub::util;

BOOST_AUTO_TEST_SUITE(util_hash)

BOOST_AUTO_TEST_CASE(known_digests) {
    BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
    // `printf 'hello\n' | git hash-object --stdin`
    BOOST_TEST(git_blob_sha1("hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a");
    BOOST_TEST(git_blob_sha1("") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
}

BOOST_AUTO_TEST_CASE(streaming_equals_one_shot) {
    std::string data(100000, 'x');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
    hasher h(hash_algo::sha256);
    for (std::size_t i = 0; i < data.size(); i += 777) h.update(std::string_view(data).substr(i, 777));
    BOOST_TEST(h.hex_digest() == sha256_hex(data));
}

BOOST_AUTO_TEST_CASE(lfs_pointer_format) {
    std::string sha(64, 'a');
    BOOST_TEST(lfs_pointer(sha, 12) ==
               "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha + "\nsize 12\n");
}

BOOST_AUTO_TEST_CASE(base64_round_trip_and_rejects) {
    std::string out;
    BOOST_TEST(base64_encode("hello\n") == "aGVsbG8K");
    BOOST_TEST(base64_decode("aGVsbG8K", out));
    BOOST_TEST(out == "hello\n");
    BOOST_TEST(base64_decode("aGk=", out));
    BOOST_TEST(out == "hi");
    BOOST_TEST(!base64_decode("aGk", out));    // bad length
    BOOST_TEST(!base64_decode("a*k=", out));   // bad character
}

BOOST_AUTO_TEST_CASE(hex_helpers) {
    BOOST_TEST(is_hex("0123456789abcdef", 16));
    BOOST_TEST(!is_hex("0123456789ABCDEF", 16));
    BOOST_TEST(!is_hex("abc", 4));
    BOOST_TEST(from_hex("00ff") == std::string("\x00\xff", 2));
    BOOST_TEST(from_hex("zz").empty());
    BOOST_TEST(constant_time_equal("abc", "abc"));
    BOOST_TEST(!constant_time_equal("abc", "abd"));
    BOOST_TEST(!constant_time_equal("abc", "abcd"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(util_paths)

BOOST_AUTO_TEST_CASE(normalize_accepts_and_strips) {
    std::string why;
    BOOST_TEST(*normalize_repo_path("a/b.txt", why) == "a/b.txt");
    BOOST_TEST(*normalize_repo_path("/a/b", why) == "a/b");
    BOOST_TEST(*normalize_repo_path("./a", why) == "a");
    BOOST_TEST(*normalize_repo_path(".gitattributes", why) == ".gitattributes");
    BOOST_TEST(*normalize_repo_path("a/..b/c.", why) == "a/..b/c.");
}

BOOST_AUTO_TEST_CASE(normalize_rejects_traversal_and_oddities) {
    for (const char* bad : {"", "..", "../x", "a/../b", "a/./b", "a//b", ".git/config", "x/.git/y", "..\\ddd",
                            "a\\b", "a/\x01"}) {
        std::string why;
        BOOST_TEST(!normalize_repo_path(bad, why).has_value(), bad);
        BOOST_TEST(!why.empty());
    }
    std::string why;
    BOOST_TEST(!normalize_repo_path(std::string_view("a\0b", 3), why).has_value());
}

BOOST_AUTO_TEST_CASE(repo_names) {
    BOOST_TEST(valid_repo_name_part("bert-base_uncased.v2"));
    BOOST_TEST(!valid_repo_name_part(""));
    BOOST_TEST(!valid_repo_name_part("a--b"));
    BOOST_TEST(!valid_repo_name_part("a..b"));
    BOOST_TEST(!valid_repo_name_part("-a"));
    BOOST_TEST(!valid_repo_name_part("a/b"));
    BOOST_TEST(!valid_repo_name_part(std::string(97, 'a')));
}

BOOST_AUTO_TEST_CASE(ref_names) {
    BOOST_TEST(valid_ref_name("dev"));
    BOOST_TEST(valid_ref_name("feature/x"));
    BOOST_TEST(!valid_ref_name("refs/pr/1"));
    BOOST_TEST(!valid_ref_name("a..b"));
    BOOST_TEST(!valid_ref_name("a b"));
    BOOST_TEST(!valid_ref_name("x.lock"));
}

// Python: fnmatch.fnmatchcase(name, pattern)
BOOST_AUTO_TEST_CASE(fnmatch_table) {
    struct row {
        const char* pattern;
        const char* name;
        bool match;
    } rows[] = {
        {"*.bin", "model.bin", true},      {"*.bin", "dir/model.bin", true},  // '*' spans '/'
        {"*.bin", "model.bin.txt", false}, {"a?c", "abc", true},
        {"a?c", "ac", false},              {"[ab]x", "bx", true},
        {"[!ab]x", "bx", false},           {"[!ab]x", "cx", true},
        {"[a-c]1", "b1", true},            {"[a-c]1", "d1", false},
        {"[]]", "]", true},                {"[", "[", true},
        {"*", "", true},                   {"**/*.json", "a/b/c.json", true},
        {"data/*", "data/x/y", true},      {"Data/*", "data/x", false},  // case-sensitive
    };
    for (auto& r : rows) BOOST_TEST(fnmatch(r.pattern, r.name) == r.match, r.pattern << " ~ " << r.name);
}

BOOST_AUTO_TEST_CASE(percent_coding) {
    BOOST_TEST(*percent_decode("refs%2Fpr%2F1") == "refs/pr/1");
    BOOST_TEST(*percent_decode("a+b", true) == "a b");
    BOOST_TEST(*percent_decode("a+b") == "a+b");
    BOOST_TEST(!percent_decode("%zz").has_value());
    BOOST_TEST(!percent_decode("%4").has_value());
    BOOST_TEST(percent_encode("refs/pr/1", false) == "refs%2Fpr%2F1");
    BOOST_TEST(percent_encode("a b/c", true) == "a%20b/c");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(util_sigpipe)

BOOST_AUTO_TEST_CASE(a_sigpipe_inside_the_guard_never_reaches_the_process) {
    // The default action: a SIGPIPE that got out would end this test process.
    auto before = std::signal(SIGPIPE, SIG_DFL);
    {
        hfhub::util::sigpipe_blocked guard;
        pthread_kill(pthread_self(), SIGPIPE);
    }
    int fds[2];
    BOOST_TEST_REQUIRE(::pipe(fds) == 0);
    ::close(fds[0]);
    {
        hfhub::util::sigpipe_blocked guard;
        errno = 0;
        BOOST_TEST(::write(fds[1], "x", 1) == -1);
        BOOST_TEST(errno == EPIPE);
    }
    ::close(fds[1]);
    sigset_t pending, mask;
    sigpending(&pending);
    BOOST_TEST(sigismember(&pending, SIGPIPE) == 0);  // consumed, not left for later
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    BOOST_TEST(sigismember(&mask, SIGPIPE) == 0);  // and the thread's mask is as it was
    std::signal(SIGPIPE, before);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(util_read_ahead)

namespace {
// A temp file of `n` bytes whose every byte depends on its offset.
std::string make_file(std::size_t n, std::string& path) {
    char tmpl[] = "/tmp/hfhub-read-ahead-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0) throw std::runtime_error("mkstemp");
    path = tmpl;
    std::string data(n, '\0');
    for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<char>((i * 131 + i / 4099) & 0xff);
    if (::write(fd, data.data(), n) != static_cast<ssize_t>(n)) throw std::runtime_error("write");
    ::close(fd);
    return data;
}
}  // namespace

BOOST_AUTO_TEST_CASE(every_byte_arrives_once_in_order) {
    hfhub::util::blocking_pool pool(2);
    const boost::asio::any_io_executor helper = pool.get_executor();
    std::string path;
    std::string data = make_file((5u << 20) + 12345, path);
    int fd = ::open(path.c_str(), O_RDONLY);
    std::string got;
    std::size_t calls = 0;
    auto r = hfhub::util::read_ahead(helper, fd, 1u << 20, data.size(), [&](const char* p, std::size_t n) {
        got.append(p, n);
        ++calls;
    });
    ::close(fd);
    std::remove(path.c_str());
    BOOST_TEST(r.error == 0);
    BOOST_TEST(r.bytes == data.size());
    BOOST_TEST((got == data));
    BOOST_TEST(calls >= 6u);
}

BOOST_AUTO_TEST_CASE(it_stops_soon_after_more_than_expected) {
    hfhub::util::blocking_pool pool(2);
    const boost::asio::any_io_executor helper = pool.get_executor();
    std::string path;
    std::string data = make_file(8u << 20, path);
    int fd = ::open(path.c_str(), O_RDONLY);
    auto r = hfhub::util::read_ahead(helper, fd, 1u << 20, 3u << 20, [](const char*, std::size_t) {});
    ::close(fd);
    std::remove(path.c_str());
    BOOST_TEST(r.bytes > (3u << 20));  // the caller sees the file is bigger than it thought
    BOOST_TEST(r.bytes <= (4u << 20));
}

// The download's use: a source that blocks until a writer has produced more, answers short
// reads, and may give up part way.
BOOST_AUTO_TEST_CASE(a_blocking_source_with_short_reads_is_consumed_in_order) {
    hfhub::util::blocking_pool pool(2);
    const boost::asio::any_io_executor helper = pool.get_executor();
    std::string data((3u << 20) + 777, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>((i * 7 + i / 1013) & 0xff);
    std::mutex mu;
    std::condition_variable cv;
    std::size_t produced = 0, read_pos = 0;
    std::thread producer([&] {
        for (std::size_t step = 100'003; ; ) {
            {
                std::lock_guard lk(mu);
                produced = std::min(data.size(), produced + step);
            }
            cv.notify_all();
            if (produced == data.size()) return;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });
    std::string got;
    auto source = [&](char* p, std::size_t n) -> ssize_t {
        std::unique_lock lk(mu);
        if (read_pos == data.size()) return 0;
        cv.wait(lk, [&] { return produced > read_pos; });
        std::size_t k = std::min(n, produced - read_pos);
        std::memcpy(p, data.data() + read_pos, k);
        read_pos += k;
        return static_cast<ssize_t>(k);
    };
    auto r = hfhub::util::read_ahead(helper, source, 1u << 18, data.size(), [&](const char* p, std::size_t n) { got.append(p, n); });
    producer.join();
    BOOST_TEST(r.error == 0);
    BOOST_TEST(r.bytes == data.size());
    BOOST_TEST((got == data));

    // A source that fails after some bytes: what came before is consumed, and its errno reported.
    std::size_t served = 0;
    auto failing = [&](char* p, std::size_t n) -> ssize_t {
        if (served >= 5000) {
            errno = ECANCELED;
            return -1;
        }
        std::size_t k = std::min<std::size_t>(n, 1000);
        std::memset(p, 'x', k);
        served += k;
        return static_cast<ssize_t>(k);
    };
    auto f = hfhub::util::read_ahead(helper, failing, 4096, 1u << 20, [](const char*, std::size_t) {});
    BOOST_TEST(f.error == ECANCELED);
    BOOST_TEST(f.bytes == 5000u);
}

BOOST_AUTO_TEST_CASE(a_failing_consumer_stops_it_and_a_failing_read_is_reported) {
    hfhub::util::blocking_pool pool(2);
    const boost::asio::any_io_executor helper = pool.get_executor();
    std::string path;
    std::string data = make_file(4u << 20, path);
    int fd = ::open(path.c_str(), O_RDONLY);
    std::size_t seen = 0;
    BOOST_CHECK_THROW(hfhub::util::read_ahead(helper, fd, 1u << 16, data.size(),
                                              [&](const char*, std::size_t n) {
                                                  seen += n;
                                                  if (seen >= (1u << 18)) throw std::runtime_error("stop");
                                              }),
                      std::runtime_error);
    ::close(fd);
    fd = ::open(path.c_str(), O_WRONLY);  // reads fail with EBADF
    auto r = hfhub::util::read_ahead(helper, fd, 1u << 16, data.size(), [](const char*, std::size_t) {});
    ::close(fd);
    std::remove(path.c_str());
    BOOST_TEST(r.error == EBADF);
    BOOST_TEST(r.bytes == 0u);
}

// The helper is a job of a pool that may be busy: called from the only thread of a pool of
// one, its helper can't start until it returns, so the caller makes every read itself.
BOOST_AUTO_TEST_CASE(on_the_only_thread_of_a_pool_the_caller_reads_alone) {
    std::string path;
    std::string data = make_file((6u << 20) + 4321, path);
    hfhub::util::blocking_pool pool(1);
    const boost::asio::any_io_executor helper = pool.get_executor();
    std::promise<std::pair<hfhub::util::read_result, std::string>> out;
    std::atomic<int> reads_elsewhere{0};
    boost::asio::post(helper, [&] {
        int fd = ::open(path.c_str(), O_RDONLY);
        auto me = std::this_thread::get_id();
        std::function<ssize_t(char*, std::size_t)> read = [&](char* p, std::size_t n) {
            if (std::this_thread::get_id() != me) ++reads_elsewhere;
            return ::read(fd, p, n);
        };
        std::string got;
        auto r = hfhub::util::read_ahead(helper, read, 1u << 20, data.size(), [&](const char* p, std::size_t n) { got.append(p, n); });
        ::close(fd);
        out.set_value({r, std::move(got)});
    });
    auto fut = out.get_future();
    BOOST_REQUIRE(fut.wait_for(std::chrono::seconds(20)) == std::future_status::ready);  // no deadlock
    auto [r, got] = fut.get();
    std::remove(path.c_str());
    BOOST_TEST(r.error == 0);
    BOOST_TEST(r.bytes == data.size());
    BOOST_TEST((got == data));
    BOOST_TEST(reads_elsewhere.load() == 0);
}

// With a thread to spare, the helper does read ahead: some reads happen on a pool thread while
// the caller consumes.
BOOST_AUTO_TEST_CASE(a_free_pool_thread_reads_ahead) {
    std::string path;
    std::string data = make_file(4u << 20, path);
    hfhub::util::blocking_pool pool(1);
    const boost::asio::any_io_executor helper = pool.get_executor();
    int fd = ::open(path.c_str(), O_RDONLY);
    auto me = std::this_thread::get_id();
    std::atomic<int> reads_on_pool{0};
    std::function<ssize_t(char*, std::size_t)> read = [&](char* p, std::size_t n) {
        if (std::this_thread::get_id() != me) ++reads_on_pool;
        return ::read(fd, p, n);
    };
    std::string got;
    auto r = hfhub::util::read_ahead(helper, read, 1u << 16, data.size(), [&](const char* p, std::size_t n) {
        got.append(p, n);
        std::this_thread::sleep_for(std::chrono::microseconds(300));  // a slow consumer: room to read ahead
    });
    ::close(fd);
    std::remove(path.c_str());
    BOOST_TEST(r.error == 0);
    BOOST_TEST((got == data));
    BOOST_TEST(reads_on_pool.load() > 0);
}

BOOST_AUTO_TEST_SUITE_END()
