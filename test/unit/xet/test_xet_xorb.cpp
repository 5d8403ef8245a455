// Xorbs: chunk headers, byte grouping, the builder's choices and limits, and the parser over
// whole xorbs, chunk ranges and malformed bytes.
#include "xet/xorb.hpp"

#include "xet/chunker.hpp"

#include "xet_test_data.hpp"

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <set>
#include <string>
#include <vector>

using namespace hfhub::xet;

namespace {

std::vector<std::uint8_t> noise(std::size_t n, std::uint32_t seed) { return hfhub::xet::test::pseudo_random(n, seed); }

// Little-endian floats of a slowly varying signal: what byte grouping is for.
std::vector<std::uint8_t> floats(std::size_t count) {
    std::vector<std::uint8_t> out(count * 4);
    for (std::size_t i = 0; i < count; ++i) {
        float f = 1.0f + static_cast<float>(i % 1000) * 1e-4f;
        std::memcpy(out.data() + i * 4, &f, 4);
    }
    return out;
}

std::vector<std::uint8_t> text(std::size_t n) {
    static const char words[] = "the quick brown fox jumps over the lazy dog; ";
    std::vector<std::uint8_t> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(words[(i * 7 / 5) % (sizeof words - 1)]);
    return out;
}

std::error_code err(const auto& r) { return r ? std::error_code{} : r.error(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_xorb)

BOOST_AUTO_TEST_CASE(chunk_header_layout) {
    chunk_header h{0, 0x012345, compression::byte_grouping4_lz4, 0x020000};
    auto b = encode_chunk_header(h);
    std::array<std::uint8_t, 8> want{0, 0x45, 0x23, 0x01, 2, 0x00, 0x00, 0x02};
    BOOST_TEST(b == want);
    auto back = decode_chunk_header(b);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(back->compressed_size == 0x012345u);
    BOOST_TEST(back->uncompressed_size == 0x020000u);
    BOOST_TEST((back->scheme == compression::byte_grouping4_lz4));
}

BOOST_AUTO_TEST_CASE(bad_chunk_headers) {
    auto enc = [](std::uint8_t v, std::uint32_t c, std::uint8_t s, std::uint32_t u) {
        auto b = encode_chunk_header({v, c, compression::none, u});
        b[4] = s;
        return b;
    };
    auto good = enc(0, 5, 0, 5);
    BOOST_TEST((err(decode_chunk_header(std::span(good).first(7))) == errc::truncated));
    BOOST_TEST((err(decode_chunk_header(enc(1, 5, 0, 5))) == errc::bad_chunk_header));
    BOOST_TEST((err(decode_chunk_header(enc(0, 5, 3, 5))) == errc::unknown_compression));
    BOOST_TEST((err(decode_chunk_header(enc(0, 5, 1, 128 * 1024 + 1))) == errc::chunk_too_large));
    BOOST_TEST((err(decode_chunk_header(enc(0, 4, 0, 5))) == errc::bad_chunk_header));  // stored: sizes differ
    BOOST_TEST((err(decode_chunk_header(enc(0, 0, 1, 5))) == errc::bad_chunk_header));
    BOOST_TEST((err(decode_chunk_header(enc(0, 0, 0, 0))) == errc::bad_chunk_header));
    BOOST_TEST(decode_chunk_header(enc(0, 9, 1, 5)).has_value());  // LZ4 may be larger than raw
}

BOOST_AUTO_TEST_CASE(byte_grouping) {
    // xorb.md's example, with a tail of 2 bytes going to the first two groups.
    std::vector<std::uint8_t> in{0xA1, 0xA2, 0xA3, 0xA4, 0xB1, 0xB2, 0xB3, 0xB4, 0xC1, 0xC2};
    std::vector<std::uint8_t> want{0xA1, 0xB1, 0xC1, 0xA2, 0xB2, 0xC2, 0xA3, 0xB3, 0xA4, 0xB4};
    std::vector<std::uint8_t> out(in.size());
    bg4_split(in, out);
    BOOST_TEST(out == want);
    for (std::size_t n = 0; n < 13; ++n) {
        auto data = noise(n, static_cast<std::uint32_t>(n + 1));
        std::vector<std::uint8_t> g(n), back(n);
        bg4_split(data, g);
        bg4_join(g, back);
        BOOST_TEST(back == data);
    }
}

BOOST_AUTO_TEST_CASE(compression_round_trips_as_lz4_frames) {
    auto data = text(100000);
    for (auto s : {compression::none, compression::lz4, compression::byte_grouping4_lz4}) {
        auto c = compress_chunk(data, s);
        if (s != compression::none) {
            // The LZ4 frame magic 0x184D2204, little-endian: a frame, not a bare block.
            BOOST_REQUIRE(c.size() > 4u);
            BOOST_TEST((c[0] == 0x04 && c[1] == 0x22 && c[2] == 0x4D && c[3] == 0x18));
            BOOST_TEST(c.size() < data.size());
        }
        std::vector<std::uint8_t> out{1, 2, 3};
        BOOST_TEST(decompress_chunk(c, s, static_cast<std::uint32_t>(data.size()), out).has_value());
        BOOST_TEST(std::equal(out.begin() + 3, out.end(), data.begin(), data.end()));
        std::vector<std::uint8_t> wrong;
        BOOST_TEST(!decompress_chunk(c, s, static_cast<std::uint32_t>(data.size() - 1), wrong).has_value());
        BOOST_TEST(!decompress_chunk(c, s, static_cast<std::uint32_t>(data.size() + 1), wrong).has_value());
    }
}

// Float32 weights as a trained tensor holds them: small values of random sign and mantissa, so
// LZ4 alone finds little, while the exponent bytes, grouped, repeat.
std::vector<std::uint8_t> weights(std::size_t count, std::uint32_t seed) {
    auto r = noise(count * 4, seed);
    std::vector<std::uint8_t> out(count * 4);
    for (std::size_t i = 0; i < count; ++i) {
        std::uint32_t u;
        std::memcpy(&u, r.data() + i * 4, 4);
        float f = static_cast<float>((static_cast<double>(u) / 4294967296.0 - 0.5) * 0.02);
        std::memcpy(out.data() + i * 4, &f, 4);
    }
    return out;
}

BOOST_AUTO_TEST_CASE(predictor_picks_byte_grouping_for_tensors_only) {
    // Tensors: one byte position (the exponent's) differs from the others, and grouping pays.
    for (auto& w : {weights(16384, 3), floats(16384), weights(1000, 5)}) {
        bg4_stats st;
        st.add(w);
        BOOST_TEST(st.max_divergence() > 0.02);
        BOOST_TEST((predict_compression(w) == compression::byte_grouping4_lz4));
        BOOST_TEST(compress_chunk(w, compression::byte_grouping4_lz4).size() <
                   compress_chunk(w, compression::lz4).size());
    }
    // Noise and text: the positions look alike, so plain LZ4.
    for (auto& d : {noise(65536, 7), noise(20000, 8), text(65536), text(3000)}) {
        bg4_stats st;
        st.add(d);
        BOOST_TEST(st.max_divergence() < 0.02);
        BOOST_TEST((predict_compression(d) == compression::lz4));
    }
    // The histograms count every byte, by position mod 4.
    bg4_stats st;
    std::vector<std::uint8_t> bytes{0x00, 0x01, 0x03, 0xFF, 0x07};
    st.add(bytes);
    BOOST_TEST(st.hist[0][0] == 1u);
    BOOST_TEST(st.hist[0][3] == 1u);
    BOOST_TEST(st.hist[1][1] == 1u);
    BOOST_TEST(st.hist[2][2] == 1u);
    BOOST_TEST(st.hist[3][8] == 1u);
    BOOST_TEST((predict_compression(std::span<const std::uint8_t>{}) == compression::lz4));
}

BOOST_AUTO_TEST_CASE(automatic_policy_compresses_once_and_keeps_raw_what_does_not_shrink) {
    xorb_builder b;  // automatic
    auto w = weights(30000, 11);
    auto n = noise(65536, 12);
    auto t = text(65536);
    BOOST_REQUIRE(b.add_chunk(w));
    BOOST_REQUIRE(b.add_chunk(n));
    BOOST_REQUIRE(b.add_chunk(t));
    auto x = b.finish();
    BOOST_TEST((x.chunks[0].scheme == compression::byte_grouping4_lz4));
    BOOST_TEST((x.chunks[1].scheme == compression::none));  // random: stored as it is
    BOOST_TEST(x.chunks[1].serialized_size == n.size() + chunk_header_size);
    BOOST_TEST((x.chunks[2].scheme == compression::lz4));
    BOOST_TEST(x.chunks[0].serialized_size < w.size());
    BOOST_TEST(x.chunks[2].serialized_size < t.size() / 2);
    auto parsed = parse_xorb(x.bytes, {.expected_hash = x.hash});
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST((parsed->chunks.chunk_data(0).size() == w.size()));
    BOOST_TEST(std::equal(w.begin(), w.end(), parsed->chunks.chunk_data(0).begin()));
    BOOST_TEST(std::equal(t.begin(), t.end(), parsed->chunks.chunk_data(2).begin()));
    // The automatic choice costs at most a little against trying both.
    xorb_builder both(compression_policy::smallest);
    BOOST_REQUIRE(both.add_chunk(w));
    BOOST_REQUIRE(both.add_chunk(n));
    BOOST_REQUIRE(both.add_chunk(t));
    auto y = both.finish();
    BOOST_TEST(x.bytes.size() <= y.bytes.size() + y.bytes.size() / 50);
    BOOST_TEST((y.hash == x.hash));
}

BOOST_AUTO_TEST_CASE(a_reused_buffer_builds_the_same_xorb) {
    auto a = text(40000), b = weights(20000, 21);
    xorb_builder fresh;
    BOOST_REQUIRE(fresh.add_chunk(a));
    BOOST_REQUIRE(fresh.add_chunk(b));
    auto want = fresh.finish();
    // A buffer with other bytes in it: they are dropped, its storage is used.
    std::vector<std::uint8_t> old = noise(100000, 22);
    old.reserve(1 << 20);
    const std::uint8_t* storage = old.data();
    xorb_builder reused;
    reused.reuse(std::move(old));
    BOOST_REQUIRE(reused.add_chunk(a));
    BOOST_REQUIRE(reused.add_chunk(b));
    auto got = reused.finish();
    BOOST_TEST(got.bytes == want.bytes);
    BOOST_TEST((got.hash == want.hash));
    BOOST_TEST((got.bytes.data() == storage));
    // Not while a xorb is being built: its bytes stay.
    BOOST_REQUIRE(reused.add_chunk(a));
    reused.reuse(noise(10, 23));
    BOOST_REQUIRE(reused.add_chunk(b));
    BOOST_TEST(reused.finish().bytes == want.bytes);
}

BOOST_AUTO_TEST_CASE(builder_picks_a_scheme_per_chunk_and_parses_back) {
    std::vector<std::vector<std::uint8_t>> chunks{noise(70000, 1), text(65536), floats(20000), noise(9000, 2),
                                                  std::vector<std::uint8_t>(128 * 1024, 0)};
    xorb_builder b;
    for (const auto& c : chunks) BOOST_REQUIRE(b.add_chunk(c));
    BOOST_TEST(b.num_chunks() == chunks.size());
    auto x = b.finish();
    BOOST_TEST(b.empty());
    BOOST_TEST(b.serialized_size() == 0u);
    BOOST_REQUIRE(x.chunks.size() == chunks.size());
    // Noise is stored raw, text compresses, floats prefer byte grouping.
    BOOST_TEST((x.chunks[0].scheme == compression::none));
    BOOST_TEST((x.chunks[1].scheme != compression::none));
    BOOST_TEST((x.chunks[2].scheme == compression::byte_grouping4_lz4));
    BOOST_TEST((x.chunks[3].scheme == compression::none));
    BOOST_TEST((x.chunks[4].scheme != compression::none));
    std::vector<hash_and_size> leaves;
    std::uint32_t offset = 0, unpacked = 0;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        BOOST_TEST((x.chunks[i].hash == chunk_hash(chunks[i])));
        BOOST_TEST(x.chunks[i].offset == offset);
        BOOST_TEST(x.chunks[i].unpacked_offset == unpacked);
        BOOST_TEST(x.chunks[i].size == chunks[i].size());
        offset += x.chunks[i].serialized_size;
        unpacked += x.chunks[i].size;
        leaves.push_back({x.chunks[i].hash, chunks[i].size()});
    }
    BOOST_TEST(offset == x.bytes.size());
    BOOST_TEST(x.unpacked_size == unpacked);
    BOOST_TEST((x.hash == xorb_hash(leaves)));

    auto p = parse_xorb(x.bytes, {.expected_hash = x.hash});
    BOOST_REQUIRE(p.has_value());
    BOOST_TEST((p->hash == x.hash));
    BOOST_TEST(p->unpacked_size == x.unpacked_size);
    BOOST_REQUIRE(p->chunks.chunks.size() == chunks.size());
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        auto d = p->chunks.chunk_data(i);
        BOOST_TEST(std::equal(d.begin(), d.end(), chunks[i].begin(), chunks[i].end()));
        BOOST_TEST((p->chunks.chunks[i].hash == x.chunks[i].hash));
        BOOST_TEST(p->chunks.chunks[i].offset == x.chunks[i].offset);
        BOOST_TEST(p->chunks.chunks[i].serialized_size == x.chunks[i].serialized_size);
    }

    // Without the data: the same hashes, nothing kept.
    auto lean = parse_xorb(x.bytes, {.expected_hash = x.hash, .keep_data = false});
    BOOST_REQUIRE(lean.has_value());
    BOOST_TEST(lean->chunks.data.empty());
    BOOST_TEST((lean->hash == x.hash));

    // Another expected hash, too few chunks allowed.
    BOOST_TEST((err(parse_xorb(x.bytes, {.expected_hash = chunk_hash(chunks[0])})) == errc::hash_mismatch));
    BOOST_TEST((err(parse_xorb(x.bytes, {.max_chunks = 4})) == errc::xorb_too_large));
    BOOST_TEST((err(parse_xorb(x.bytes, {.max_size = x.bytes.size() - 1})) == errc::xorb_too_large));
    BOOST_TEST((err(parse_xorb({}, {})) == errc::truncated));
}

BOOST_AUTO_TEST_CASE(a_range_of_chunks_parses_alone) {
    xorb_builder b;
    std::vector<std::vector<std::uint8_t>> chunks;
    for (std::uint32_t i = 0; i < 6; ++i) {
        chunks.push_back(i % 2 ? text(10000 + i * 1000) : noise(10000 + i * 1000, i + 5));
        BOOST_REQUIRE(b.add_chunk(chunks.back()));
    }
    auto x = b.finish();
    // [2, 5): what a download of that chunk range receives.
    std::size_t from = x.chunks[2].offset, to = x.chunks[5].offset;
    auto range = std::span(x.bytes).subspan(from, to - from);
    auto p = parse_chunks(range, {.expected_chunks = 3});
    BOOST_REQUIRE(p.has_value());
    for (std::size_t i = 0; i < 3; ++i) {
        auto d = p->chunk_data(i);
        BOOST_TEST(std::equal(d.begin(), d.end(), chunks[2 + i].begin(), chunks[2 + i].end()));
        BOOST_TEST((p->chunks[i].hash == x.chunks[2 + i].hash));
        BOOST_TEST(p->chunks[i].offset == x.chunks[2 + i].offset - from);
    }
    BOOST_TEST((err(parse_chunks(range, {.expected_chunks = 4})) == errc::chunk_count_mismatch));
    // A range cut inside a chunk.
    BOOST_TEST((err(parse_chunks(range.first(range.size() - 1))) == errc::truncated));
}

BOOST_AUTO_TEST_CASE(malformed_xorbs_are_typed_errors) {
    xorb_builder b;
    BOOST_REQUIRE(b.add_chunk(text(20000)));
    BOOST_REQUIRE(b.add_chunk(noise(9000, 3)));
    BOOST_REQUIRE(b.add_chunk(floats(3000)));
    auto x = b.finish();
    // Every prefix: whole chunks parse, anything else is truncated, nothing reads past the end.
    std::set<std::size_t> ends{0};
    for (const auto& c : x.chunks) ends.insert(c.offset + c.serialized_size);
    for (std::size_t n = 0; n <= x.bytes.size(); ++n) {
        std::vector<std::uint8_t> prefix(x.bytes.begin(), x.bytes.begin() + static_cast<std::ptrdiff_t>(n));
        auto r = parse_chunks(prefix);
        if (ends.count(n)) {
            BOOST_TEST(r.has_value());
        } else {
            BOOST_TEST((err(r) == errc::truncated), "prefix " << n);
        }
    }
    // A flipped byte in a compressed payload: bad LZ4, or other bytes (a hash mismatch).
    for (std::size_t at : {x.chunks[0].offset + 12u, x.chunks[0].offset + 100u, x.chunks[2].offset + 30u}) {
        auto bad = x.bytes;
        bad[at] ^= 0x5A;
        auto r = parse_xorb(bad, {.expected_hash = x.hash});
        BOOST_TEST(!r.has_value());
        if (!r) BOOST_TEST((r.error() == errc::decompression_failed || r.error() == errc::hash_mismatch));
    }
    // A compressed size pointing past the end.
    auto bad = x.bytes;
    bad[1] = 0xFF;
    bad[2] = 0xFF;
    BOOST_TEST((err(parse_xorb(bad)) == errc::truncated));
    // Trailing bytes that are no chunk; xet-core's footer only when allowed.
    auto tail = x.bytes;
    for (char c : std::string("XETBLOB\1")) tail.push_back(static_cast<std::uint8_t>(c));
    BOOST_TEST(!parse_xorb(tail).has_value());
    auto ok = parse_xorb(tail, {.expected_hash = x.hash, .allow_footer = true});
    BOOST_REQUIRE(ok.has_value());
    BOOST_TEST(ok->chunks.chunks.size() == 3u);
}

BOOST_AUTO_TEST_CASE(builder_limits) {
    BOOST_CHECK_THROW(xorb_builder{}.add_chunk(std::vector<std::uint8_t>{}), std::invalid_argument);
    BOOST_CHECK_THROW(xorb_builder{}.add_chunk(std::vector<std::uint8_t>(max_chunk_size + 1)), std::invalid_argument);
    // Incompressible 128 KiB chunks: 511 fit in 64 MiB with their headers, the 512th doesn't.
    xorb_builder big;
    auto chunk = noise(max_chunk_size, 9);
    merkle_hash h = chunk_hash(chunk);
    std::size_t n = 0;
    while (big.add_chunk(chunk, h)) ++n;
    BOOST_TEST(n == max_xorb_size / (max_chunk_size + chunk_header_size));
    BOOST_TEST(big.serialized_size() <= max_xorb_size);
    BOOST_TEST(big.num_chunks() == n);
    // At most 8192 chunks, however small.
    xorb_builder many(compression_policy::none);
    std::vector<std::uint8_t> tiny{1, 2, 3};
    merkle_hash th = chunk_hash(tiny);
    std::size_t m = 0;
    while (many.add_chunk(tiny, th)) ++m;
    BOOST_TEST(m == max_xorb_chunks);
    auto x = many.finish();
    BOOST_TEST(x.bytes.size() == max_xorb_chunks * (chunk_header_size + 3));
    BOOST_TEST(parse_xorb(x.bytes, {.expected_hash = x.hash}).has_value());
}

BOOST_AUTO_TEST_CASE(policies) {
    auto t = text(50000);
    for (auto [policy, want] : {std::pair{compression_policy::none, compression::none},
                                std::pair{compression_policy::smallest, compression::lz4},
                                std::pair{compression_policy::lz4, compression::lz4},
                                std::pair{compression_policy::byte_grouping4_lz4, compression::byte_grouping4_lz4}}) {
        xorb_builder b(policy);
        BOOST_REQUIRE(b.add_chunk(t));
        BOOST_REQUIRE(b.add_chunk(noise(20000, 4)));
        auto x = b.finish();
        BOOST_TEST((x.chunks[0].scheme == want));
        BOOST_TEST((x.chunks[1].scheme == compression::none));  // never larger than raw
        BOOST_TEST(parse_xorb(x.bytes, {.expected_hash = x.hash}).has_value());
    }
}

BOOST_AUTO_TEST_SUITE_END()
