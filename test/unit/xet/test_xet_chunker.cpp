// The chunker: the spec's byte-by-byte procedure as the reference (the chunker skips hashing
// the first bytes of each chunk), the size bounds, and the same boundaries however the input
// is split.
#include "xet/chunker.hpp"

#include "xet_test_data.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

using namespace hfhub::xet;

using hfhub::xet::test::pseudo_random;

namespace {

// docs/xet/chunking.md's pseudocode, every byte hashed and tested.
std::vector<std::uint64_t> reference_ends(const std::vector<std::uint8_t>& data) {
    std::vector<std::uint64_t> ends;
    std::uint64_t h = 0;
    std::size_t start = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
        h = (h << 1) + gear_table[data[i]];
        std::size_t size = i + 1 - start;
        if (size < min_chunk_size) continue;
        if (size >= max_chunk_size || (h & chunk_boundary_mask) == 0) {
            ends.push_back(i + 1);
            start = i + 1;
            h = 0;
        }
    }
    if (start < data.size()) ends.push_back(data.size());
    return ends;
}

std::vector<std::uint64_t> fed_in_pieces(const std::vector<std::uint8_t>& data, std::size_t (*next)(std::size_t)) {
    chunker c;
    std::vector<std::uint64_t> ends;
    std::size_t pos = 0;
    for (std::size_t k = 0; pos < data.size(); ++k) {
        std::size_t n = std::min(next(k), data.size() - pos);
        c.update(std::span(data).subspan(pos, n), ends);
        pos += n;
    }
    BOOST_TEST(c.offset() == data.size());
    if (auto last = c.finish()) ends.push_back(*last);
    return ends;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_chunker)

BOOST_AUTO_TEST_CASE(gear_table_is_rust_gearhash) {
    // First, middle and last entries of rust-gearhash's DEFAULT_TABLE.
    BOOST_TEST(gear_table[0] == 0xb088d3a9e840f559ull);
    BOOST_TEST(gear_table[128] == 0xa315f5ebfb706d26ull);
    BOOST_TEST(gear_table[255] == 0x63c7a906c1dd187bull);
}

BOOST_AUTO_TEST_CASE(empty_and_tiny_inputs) {
    BOOST_TEST(chunk_ends({}).empty());
    chunker c;
    BOOST_TEST(!c.finish().has_value());
    auto small = pseudo_random(100, 7);
    BOOST_TEST(chunk_ends(small) == std::vector<std::uint64_t>{100});
    auto under_min = pseudo_random(min_chunk_size - 1, 8);
    BOOST_TEST(chunk_ends(under_min) == std::vector<std::uint64_t>{min_chunk_size - 1});
    auto chunks = chunk_buffer(small);
    BOOST_REQUIRE(chunks.size() == 1u);
    BOOST_TEST((chunks[0].hash == chunk_hash(small)));
}

BOOST_AUTO_TEST_CASE(a_run_without_matches_cuts_at_the_maximum) {
    // Zeros never match the mask: every chunk is 128 KiB but the last.
    std::vector<std::uint8_t> zeros(300 * 1024);
    std::vector<std::uint64_t> want{max_chunk_size, 2 * max_chunk_size, zeros.size()};
    BOOST_TEST(chunk_ends(zeros) == want);
    BOOST_TEST(reference_ends(zeros) == want);
}

BOOST_AUTO_TEST_CASE(matches_the_byte_by_byte_procedure) {
    for (std::uint32_t seed : {1u, 2u, 3u, 0x9e3779b9u}) {
        auto data = pseudo_random(3 * 1024 * 1024 + 12345, seed);
        auto ends = chunk_ends(data);
        BOOST_TEST(ends == reference_ends(data), "seed " << seed);
        BOOST_REQUIRE(!ends.empty());
        BOOST_TEST(ends.back() == data.size());
        std::uint64_t prev = 0;
        for (std::size_t i = 0; i < ends.size(); ++i) {
            std::uint64_t size = ends[i] - prev;
            BOOST_TEST(size <= max_chunk_size);
            if (i + 1 < ends.size()) BOOST_TEST(size >= min_chunk_size);
            prev = ends[i];
        }
        // About 64 KiB on average: 3 MiB makes a few dozen chunks.
        BOOST_TEST(ends.size() > 20u);
        BOOST_TEST(ends.size() < 200u);
    }
}

BOOST_AUTO_TEST_CASE(the_same_boundaries_however_the_input_is_split) {
    auto data = pseudo_random(2 * 1024 * 1024, 42);
    // Mixed content: a zero run in the middle forces maximum-size cuts there too.
    std::fill(data.begin() + 700000, data.begin() + 1000000, 0);
    auto whole = chunk_ends(data);
    BOOST_TEST(whole == reference_ends(data));
    BOOST_TEST(fed_in_pieces(data, [](std::size_t) -> std::size_t { return 1; }) == whole);
    BOOST_TEST(fed_in_pieces(data, [](std::size_t) -> std::size_t { return 63; }) == whole);
    BOOST_TEST(fed_in_pieces(data, [](std::size_t) -> std::size_t { return 8127; }) == whole);
    BOOST_TEST(fed_in_pieces(data, [](std::size_t) -> std::size_t { return 65536; }) == whole);
    BOOST_TEST(fed_in_pieces(data, [](std::size_t k) -> std::size_t { return (k * 7919 + 13) % 150000 + 1; }) == whole);
}

BOOST_AUTO_TEST_CASE(next_boundary_reports_the_bytes_of_the_chunk) {
    std::vector<std::uint8_t> zeros(max_chunk_size + 10);
    chunker c;
    auto cut = c.next_boundary(zeros);
    BOOST_REQUIRE(cut.has_value());
    BOOST_TEST(*cut == max_chunk_size);
    BOOST_TEST(c.pending() == 0u);
    BOOST_TEST(!c.next_boundary(std::span(zeros).subspan(*cut)).has_value());
    BOOST_TEST(c.pending() == 10u);
    BOOST_TEST((c.finish() == std::optional<std::uint64_t>(max_chunk_size + 10)));
    BOOST_TEST(c.pending() == 0u);
    c.reset();
    BOOST_TEST(c.offset() == 0u);
}

BOOST_AUTO_TEST_CASE(streaming_chunks_and_hashes) {
    auto data = pseudo_random(1500000, 77);
    auto whole = chunk_buffer(data);
    BOOST_REQUIRE(whole.size() > 5u);
    for (std::size_t piece : {1u, 1000u, 70000u, 2000000u}) {
        chunk_hasher h;
        std::vector<chunk_span> got;
        for (std::size_t pos = 0; pos < data.size(); pos += piece)
            h.update(std::span(data).subspan(pos, std::min(piece, data.size() - pos)), got);
        if (auto last = h.finish()) got.push_back(*last);
        BOOST_REQUIRE(got.size() == whole.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
            BOOST_TEST(got[i].offset == whole[i].offset);
            BOOST_TEST(got[i].size == whole[i].size);
            BOOST_TEST((got[i].hash == whole[i].hash), "piece " << piece << " chunk " << i);
        }
        BOOST_TEST(h.offset() == 0u);  // ready for the next stream
        BOOST_TEST(!h.finish().has_value());
    }
}

BOOST_AUTO_TEST_SUITE_END()
