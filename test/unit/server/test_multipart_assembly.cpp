// The server's multipart joining: parts written in place under claims, hashed in order, and
// checked at completion; retries, gaps, conflicting writers, many threads.
#include "server/multipart_assembly.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include "test_server.hpp"  // temp_dir

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <thread>

using hfhub::server::multipart_assembly;
namespace fs = std::filesystem;
namespace util = hfhub::util;

namespace {

struct parts_fixture {
    hfhub::test::temp_dir tmp;
    fs::path dir = tmp.path() / "mp";
    std::string data;
    std::uint64_t chunk = 1000;
    std::uint64_t count = 0;
    multipart_assembly a;

    parts_fixture() {
        fs::create_directories(dir);
        std::mt19937 rng(5);
        data.resize(7 * chunk + 123);
        for (auto& c : data) c = static_cast<char>(rng());
        count = (data.size() + chunk - 1) / chunk;
    }
    std::uint64_t offset(std::uint64_t n) const { return (n - 1) * chunk; }
    std::uint64_t length(std::uint64_t n) const { return n == count ? data.size() - offset(n) : chunk; }
    std::string bytes(std::uint64_t n) const { return data.substr(offset(n), length(n)); }

    // Part n the way a session writes it: claimed, written in place, accepted. Empty: not claimed.
    std::string put(std::uint64_t n, std::string body = {}) {
        if (body.empty()) body = bytes(n);
        auto c = a.try_claim(dir, count, n, offset(n), length(n));
        if (!c) return {};
        util::pwrite_all(c->fd(), body.data(), body.size(), c->offset(), dir);
        return a.accept(dir, n, c->id());
    }
    // Part n the way a request that could not claim leaves it: a file, then accept_file.
    std::optional<std::string> put_file(std::uint64_t n, std::string body = {}) {
        if (body.empty()) body = bytes(n);
        fs::path f = tmp.path() / ("part." + std::to_string(n));
        std::ofstream(f, std::ios::binary) << body;
        return a.accept_file(dir, count, n, offset(n), length(n), f);
    }
    static std::string read(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    std::variant<multipart_assembly::joined, std::string> take(const std::map<std::uint64_t, std::string>& etags) {
        return a.take(dir, count, etags);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(multipart_assembly_units)

BOOST_FIXTURE_TEST_CASE(parts_in_any_order_join_into_the_object, parts_fixture) {
    for (auto order : {std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8}, std::vector<std::uint64_t>{8, 7, 6, 5, 4, 3, 2, 1},
                       std::vector<std::uint64_t>{3, 1, 8, 2, 5, 4, 7, 6}}) {
        std::map<std::uint64_t, std::string> etags;
        for (auto n : order) {
            etags[n] = put(n);
            BOOST_TEST(!etags[n].empty());
        }
        auto t = take(etags);
        auto* j = std::get_if<multipart_assembly::joined>(&t);
        BOOST_TEST_REQUIRE(j);
        BOOST_TEST(j->size == data.size());
        BOOST_TEST(j->sha256 == util::sha256_hex(data));
        BOOST_TEST((read(j->file) == data));
        fs::remove(j->file);
        // Taken once: the upload is gone.
        BOOST_TEST(std::holds_alternative<std::string>(take(etags)));
    }
}

BOOST_FIXTURE_TEST_CASE(a_missing_part_or_a_wrong_etag_is_named_and_the_upload_kept, parts_fixture) {
    std::map<std::uint64_t, std::string> etags;
    for (std::uint64_t n = 1; n <= count; ++n)
        if (n != 4) etags[n] = put(n);
    etags[4] = "0000";
    auto t = take(etags);
    BOOST_TEST_REQUIRE(std::holds_alternative<std::string>(t));
    BOOST_TEST(std::get<std::string>(t) == "Part 4 was not uploaded");
    etags[4] = put(4);
    auto wrong = etags;
    wrong[2] = "not-it";
    t = take(wrong);
    BOOST_TEST_REQUIRE(std::holds_alternative<std::string>(t));
    BOOST_TEST(std::get<std::string>(t) == "ETag mismatch for part 2");
    t = take(etags);  // still there: the right list completes
    BOOST_TEST_REQUIRE(std::holds_alternative<multipart_assembly::joined>(t));
    BOOST_TEST(std::get<multipart_assembly::joined>(t).sha256 == util::sha256_hex(data));
}

BOOST_FIXTURE_TEST_CASE(an_accepted_part_keeps_its_bytes_when_sent_again, parts_fixture) {
    std::map<std::uint64_t, std::string> etags;
    for (std::uint64_t n = 1; n <= count; ++n) etags[n] = put(n);
    // In place: no second claim on an accepted part.
    BOOST_TEST(!a.try_claim(dir, count, 2, offset(2), length(2)));
    // As a file, other bytes: the retry is answered with the first ETag and changes nothing.
    std::string other = bytes(2);
    other[0] = static_cast<char>(other[0] ^ 1);
    auto again = put_file(2, other);
    BOOST_TEST_REQUIRE(again.has_value());
    BOOST_TEST(*again == etags[2]);
    auto t = take(etags);
    BOOST_TEST_REQUIRE(std::holds_alternative<multipart_assembly::joined>(t));
    auto& j = std::get<multipart_assembly::joined>(t);
    BOOST_TEST(j.sha256 == util::sha256_hex(data));
    BOOST_TEST((read(j.file) == data));
}

BOOST_FIXTURE_TEST_CASE(a_part_being_written_is_not_claimed_twice, parts_fixture) {
    auto first = a.try_claim(dir, count, 3, offset(3), length(3));
    BOOST_TEST_REQUIRE(first);
    BOOST_TEST(!a.try_claim(dir, count, 3, offset(3), length(3)));
    BOOST_TEST(!put_file(3).has_value());  // the other writer is still at it: retry later
    // The first writer gives up half way: its claim goes, the part is still missing.
    util::pwrite_all(first->fd(), "garbage", 7, first->offset(), dir);
    first.reset();
    std::map<std::uint64_t, std::string> etags;
    for (std::uint64_t n = 1; n <= count; ++n) etags[n] = n == 3 ? *put_file(3) : put(n);
    auto t = take(etags);
    BOOST_TEST_REQUIRE(std::holds_alternative<multipart_assembly::joined>(t));
    BOOST_TEST(std::get<multipart_assembly::joined>(t).sha256 == util::sha256_hex(data));
}

BOOST_FIXTURE_TEST_CASE(a_released_claim_cannot_be_accepted, parts_fixture) {
    std::uint64_t id;
    {
        auto c = a.try_claim(dir, count, 1, offset(1), length(1));
        BOOST_TEST_REQUIRE(c);
        id = c->id();
    }
    BOOST_CHECK_THROW(a.accept(dir, 1, id), std::runtime_error);
    BOOST_CHECK_THROW(a.accept(tmp.path() / "unknown", 1, id), std::runtime_error);
}

BOOST_FIXTURE_TEST_CASE(abandoned_uploads_are_evicted_and_their_files_removed, parts_fixture) {
    multipart_assembly small(2);
    fs::path dirs[3] = {tmp.path() / "a", tmp.path() / "b", tmp.path() / "c"};
    std::string etag[3];
    for (int i = 0; i < 3; ++i) {
        fs::create_directories(dirs[i]);
        auto c = small.try_claim(dirs[i], 1, 1, 0, data.size());
        BOOST_TEST_REQUIRE(c);
        util::pwrite_all(c->fd(), data.data(), data.size(), 0, dirs[i]);
        etag[i] = small.accept(dirs[i], 1, c->id());
    }
    // The oldest was evicted: it must start again, and its joined file is gone.
    auto t = small.take(dirs[0], 1, {{1, etag[0]}});
    BOOST_TEST(std::holds_alternative<std::string>(t));
    BOOST_TEST(fs::is_empty(dirs[0]));
    for (int i = 1; i < 3; ++i) {
        auto u = small.take(dirs[i], 1, {{1, etag[i]}});
        BOOST_TEST_REQUIRE(std::holds_alternative<multipart_assembly::joined>(u));
        BOOST_TEST(std::get<multipart_assembly::joined>(u).sha256 == util::sha256_hex(data));
    }
}

BOOST_FIXTURE_TEST_CASE(parts_from_many_threads_join_once_in_order, parts_fixture) {
    // Small parts, many of them, written and accepted on four threads in shuffled order.
    chunk = 97;
    count = (data.size() + chunk - 1) / chunk;
    for (int round = 0; round < 20; ++round) {
        dir = tmp.path() / ("mp" + std::to_string(round));
        fs::create_directories(dir);
        std::vector<std::uint64_t> order(count);
        for (std::uint64_t i = 0; i < count; ++i) order[i] = i + 1;
        std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(round)));
        std::vector<std::string> got(count + 1);
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (std::size_t i = t; i < order.size(); i += 4) got[order[i]] = put(order[i]);
            });
        for (auto& th : threads) th.join();
        std::map<std::uint64_t, std::string> etags;
        for (std::uint64_t n = 1; n <= count; ++n) etags[n] = got[n];
        auto t = take(etags);
        BOOST_TEST_REQUIRE(std::holds_alternative<multipart_assembly::joined>(t));
        BOOST_TEST(std::get<multipart_assembly::joined>(t).sha256 == util::sha256_hex(data));
        BOOST_TEST(std::get<multipart_assembly::joined>(t).size == data.size());
    }
}

BOOST_AUTO_TEST_SUITE_END()
