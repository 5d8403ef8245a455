// The parts map of parallel downloads: what it vouches for, and that a torn or foreign one
// vouches for nothing.
#include "download/parts_map.hpp"

#include "test_server.hpp"  // temp_dir

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

using namespace hfhub::download;

namespace {

const std::string etag(64, 'a');
constexpr std::uint64_t size = 10 * 1000 + 7;  // the last part is short
constexpr std::uint64_t chunk = 1000;

parts_header header() { return {etag, size, chunk, {3, 77, 123456789, size}, "0011223344556677"}; }

std::vector<std::uint64_t> done_parts(const parts_map& m) {
    std::vector<std::uint64_t> out;
    for (std::size_t i = 0; i < m.done.size(); ++i)
        if (m.done[i]) out.push_back(i);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parts_map_format)

BOOST_AUTO_TEST_CASE(round_trip) {
    auto h = header();
    std::string text = format_header(h) + format_record(h, 3) + format_record(h, 0) + format_record(h, 10);
    auto m = parse_parts_map(text, etag, size);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(m->header.chunk == chunk);
    BOOST_TEST((m->header.file == h.file));
    BOOST_TEST(m->done.size() == 11u);
    BOOST_TEST((done_parts(*m) == std::vector<std::uint64_t>{0, 3, 10}));
    BOOST_TEST(format_record(h, 10).starts_with("part 10000 10006 "));
}

BOOST_AUTO_TEST_CASE(a_header_alone_vouches_for_no_part) {
    auto m = parse_parts_map(format_header(header()), etag, size);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(done_parts(*m).empty());
}

BOOST_AUTO_TEST_CASE(a_torn_or_altered_header_is_no_map) {
    auto h = header();
    std::string head = format_header(h);
    std::string records = format_record(h, 1);
    for (std::size_t cut = 0; cut < head.size(); ++cut)
        BOOST_TEST(!parse_parts_map(head.substr(0, cut), etag, size).has_value(), "cut at " << cut);
    for (std::size_t at = 0; at + 1 < head.size(); ++at) {
        std::string bad = head + records;
        bad[at] = bad[at] == '7' ? '8' : '7';
        BOOST_TEST(!parse_parts_map(bad, etag, size).has_value(), "byte " << at << " changed");
    }
}

BOOST_AUTO_TEST_CASE(a_map_for_another_blob_is_no_map) {
    std::string text = format_header(header()) + format_record(header(), 1);
    BOOST_TEST(!parse_parts_map(text, std::string(64, 'b'), size).has_value());
    BOOST_TEST(!parse_parts_map(text, etag, size + 1).has_value());
}

BOOST_AUTO_TEST_CASE(a_torn_record_ends_the_map_there) {
    auto h = header();
    std::string good = format_header(h) + format_record(h, 2);
    std::string last = format_record(h, 5);
    for (std::size_t cut = 0; cut < last.size(); ++cut) {
        auto m = parse_parts_map(good + last.substr(0, cut), etag, size);
        BOOST_TEST_REQUIRE(m.has_value());
        BOOST_TEST((done_parts(*m) == std::vector<std::uint64_t>{2}), "cut at " << cut);
    }
    // A garbled line in the middle: nothing after it counts either.
    std::string garbled = last;
    garbled[6] = garbled[6] == '1' ? '2' : '1';
    auto m = parse_parts_map(good + garbled + format_record(h, 7), etag, size);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST((done_parts(*m) == std::vector<std::uint64_t>{2}));
}

BOOST_AUTO_TEST_CASE(records_of_another_map_do_not_count) {
    auto h = header();
    auto other = h;
    other.nonce = "8899aabbccddeeff";
    auto m = parse_parts_map(format_header(h) + format_record(other, 4), etag, size);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST(done_parts(*m).empty());
}

BOOST_AUTO_TEST_CASE(records_must_be_whole_parts) {
    auto h = header();
    std::string head = format_header(h);
    // Right checks over wrong ranges: half a part, and a part past the end.
    auto halves = h;
    halves.chunk = 500;
    auto longer = h;
    longer.size = 3 * size;
    for (const auto& rec : {format_record(halves, 1), format_record(longer, 20)}) {
        auto m = parse_parts_map(head + rec + format_record(h, 4), etag, size);
        BOOST_TEST_REQUIRE(m.has_value());
        BOOST_TEST(done_parts(*m).empty(), rec);
    }
}

BOOST_AUTO_TEST_CASE(identity_names_the_file_not_its_name) {
    hfhub::test::temp_dir d;
    auto p = d.path() / "x.hfhub-parts";
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST_REQUIRE(::ftruncate(fd, 12345) == 0);
    auto a = identify(fd);
    BOOST_TEST_REQUIRE(a.has_value());
    BOOST_TEST(a->size == 12345u);
    ::close(fd);
    // The same name over a new file (as a copy or a restart would leave it) is another file.
    std::filesystem::copy_file(p, d.path() / "copy");
    std::filesystem::rename(d.path() / "copy", p);
    fd = ::open(p.c_str(), O_RDONLY);
    auto b = identify(fd);
    ::close(fd);
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST(!(*a == *b));
}

BOOST_AUTO_TEST_SUITE_END()
