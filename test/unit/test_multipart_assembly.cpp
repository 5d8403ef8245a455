// The server's joining of multipart parts as they arrive: order, gaps, re-sent parts, threads.
#include "server/multipart_assembly.hpp"
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
    std::size_t chunk = 1000;
    std::size_t count = 0;

    parts_fixture() {
        fs::create_directories(dir);
        std::mt19937 rng(5);
        data.resize(7 * chunk + 123);
        for (auto& c : data) c = static_cast<char>(rng());
        count = (data.size() + chunk - 1) / chunk;
    }
    // Writes part n (1-based) as the server stores it, optionally with other bytes.
    void store(std::size_t n, bool corrupt = false) {
        std::string bytes = data.substr((n - 1) * chunk, chunk);
        if (corrupt) bytes[0] = static_cast<char>(bytes[0] ^ 1);
        fs::path tmp_file = dir / ("incoming." + std::to_string(n));
        std::ofstream(tmp_file, std::ios::binary) << bytes;
        fs::rename(tmp_file, dir / std::to_string(n));
    }
    static std::string read(const fs::path& p) {
        std::ifstream in(p, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(multipart_assembly_units)

BOOST_FIXTURE_TEST_CASE(parts_in_any_order_join_into_the_object, parts_fixture) {
    for (auto order : {std::vector<std::size_t>{1, 2, 3, 4, 5, 6, 7, 8}, std::vector<std::size_t>{8, 7, 6, 5, 4, 3, 2, 1},
                       std::vector<std::size_t>{3, 1, 8, 2, 5, 4, 7, 6}}) {
        multipart_assembly a;
        for (auto n : order) {
            store(n);
            a.part_stored(dir, n);
        }
        auto j = a.take(dir, count);
        BOOST_TEST_REQUIRE(j.has_value());
        BOOST_TEST(j->size == data.size());
        BOOST_TEST(j->sha256 == util::sha256_hex(data));
        BOOST_TEST((read(j->file) == data));
        BOOST_TEST(!a.take(dir, count).has_value());  // taken once
        fs::remove(j->file);
    }
}

BOOST_FIXTURE_TEST_CASE(a_missing_part_gives_nothing, parts_fixture) {
    multipart_assembly a;
    for (std::size_t n = 1; n <= count; ++n)
        if (n != 4) {
            store(n);
            a.part_stored(dir, n);
        }
    BOOST_TEST(!a.take(dir, count).has_value());
    BOOST_TEST(!a.take(dir, count).has_value());
    // Nothing joined is left behind: only the parts.
    for (auto& e : fs::directory_iterator(dir))
        BOOST_TEST(e.path().filename().string().find("joined") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_part_resent_after_it_was_joined_spoils_the_join, parts_fixture) {
    multipart_assembly a;
    for (std::size_t n = 1; n <= count; ++n) {
        store(n);
        a.part_stored(dir, n);
    }
    store(2, true);  // the joined copy of part 2 is no longer what is kept
    a.part_stored(dir, 2);
    BOOST_TEST(!a.take(dir, count).has_value());
}

BOOST_FIXTURE_TEST_CASE(a_part_resent_before_it_was_joined_is_taken_as_resent, parts_fixture) {
    multipart_assembly a;
    store(3, true);
    a.part_stored(dir, 3);
    store(3);  // replaced before parts 1 and 2 arrived: the second copy is the one joined
    a.part_stored(dir, 3);
    for (std::size_t n : {1, 2, 4, 5, 6, 7, 8}) {
        store(n);
        a.part_stored(dir, n);
    }
    auto j = a.take(dir, count);
    BOOST_TEST_REQUIRE(j.has_value());
    BOOST_TEST(j->sha256 == util::sha256_hex(data));
}

BOOST_FIXTURE_TEST_CASE(uploads_are_kept_apart_and_the_oldest_evicted, parts_fixture) {
    multipart_assembly a(2);
    fs::path dirs[3] = {tmp.path() / "a", tmp.path() / "b", tmp.path() / "c"};
    for (auto& d : dirs) {
        fs::create_directories(d);
        std::ofstream(d / "1", std::ios::binary) << data;
        a.part_stored(d, 1);
    }
    BOOST_TEST(!a.take(dirs[0], 1).has_value());  // evicted: its completion joins the slow way
    for (int i = 1; i < 3; ++i) {
        auto j = a.take(dirs[i], 1);
        BOOST_TEST_REQUIRE(j.has_value());
        BOOST_TEST(j->sha256 == util::sha256_hex(data));
    }
}

BOOST_FIXTURE_TEST_CASE(parts_stored_from_many_threads_join_once_in_order, parts_fixture) {
    // Smaller parts, many of them, arriving on four threads in shuffled order.
    chunk = 97;
    count = (data.size() + chunk - 1) / chunk;
    for (int round = 0; round < 20; ++round) {
        fs::remove_all(dir);
        fs::create_directories(dir);
        std::vector<std::size_t> order(count);
        for (std::size_t i = 0; i < count; ++i) order[i] = i + 1;
        std::shuffle(order.begin(), order.end(), std::mt19937(static_cast<unsigned>(round)));
        for (auto n : order) store(n);
        multipart_assembly a;
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (std::size_t i = t; i < order.size(); i += 4) a.part_stored(dir, order[i]);
            });
        for (auto& th : threads) th.join();
        auto j = a.take(dir, count);
        BOOST_TEST_REQUIRE(j.has_value());
        BOOST_TEST(j->sha256 == util::sha256_hex(data));
        BOOST_TEST(j->size == data.size());
    }
}

BOOST_AUTO_TEST_SUITE_END()
