// The sans-io decisions of an upload through Xet: dedup sampling, xorb bounds, chunk lookup
// and shard formation.
#include "upload/xet_plan.hpp"

#include "xet/chunker.hpp"

#include <boost/test/unit_test.hpp>

#include <random>
#include <string>

using namespace hfhub::upload::xet_up;
namespace xet = hfhub::xet;

namespace {

// A hash whose last 8 bytes, little-endian, are `tail`; the rest from `seed`.
digest with_tail(std::uint64_t tail, std::uint8_t seed = 1) {
    digest d;
    for (std::size_t i = 0; i < 24; ++i) d.bytes[i] = static_cast<std::uint8_t>(seed + i);
    for (std::size_t i = 0; i < 8; ++i) d.bytes[24 + i] = static_cast<std::uint8_t>(tail >> (8 * i));
    return d;
}

digest numbered(std::uint32_t n) {
    digest d;
    for (std::size_t i = 0; i < 4; ++i) d.bytes[i] = static_cast<std::uint8_t>(n >> (8 * i));
    d.bytes[31] = 0x5a;
    return d;
}

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 g(seed);
    std::string s(n, '\0');
    for (auto& ch : s) ch = static_cast<char>(g());
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_upload_plan)

BOOST_AUTO_TEST_CASE(eligibility_reads_the_last_eight_bytes_little_endian) {
    BOOST_TEST(dedup_eligible_hash(with_tail(0)));
    BOOST_TEST(dedup_eligible_hash(with_tail(1024)));
    BOOST_TEST(dedup_eligible_hash(with_tail(7ull << 40)));
    BOOST_TEST(!dedup_eligible_hash(with_tail(1)));
    BOOST_TEST(!dedup_eligible_hash(with_tail(1023)));
    BOOST_TEST(!dedup_eligible_hash(with_tail(1536)));
    // Big-endian reading would see 0x04 << 56, which is 0 mod 1024: little-endian sees 4.
    digest be = with_tail(0);
    be.bytes[31] = 0x04;
    BOOST_TEST(dedup_eligible_hash(be));
    digest le = with_tail(0);
    le.bytes[24] = 0x04;
    BOOST_TEST(!dedup_eligible_hash(le));
}

BOOST_AUTO_TEST_CASE(sampler_asks_first_chunks_and_eligible_ones_spaced) {
    dedup_sampler s(4);
    const digest plain = with_tail(5), eligible = with_tail(2048);
    BOOST_TEST(s.should_query(0, plain));      // a file's first chunk, always
    BOOST_TEST(!s.should_query(1, plain));
    BOOST_TEST(!s.should_query(2, eligible));  // within the spacing of the last query
    BOOST_TEST(!s.should_query(3, eligible));
    BOOST_TEST(s.should_query(4, eligible));
    BOOST_TEST(!s.should_query(5, eligible));
    BOOST_TEST(!s.should_query(8, plain));
    BOOST_TEST(s.should_query(9, eligible));
    // The next file starts over.
    BOOST_TEST(s.should_query(0, plain));
    BOOST_TEST(!s.should_query(3, eligible));
}

BOOST_AUTO_TEST_CASE(sampler_bounds_queries_on_a_big_file) {
    dedup_sampler s;  // 256 chunks apart
    std::size_t asked = 0;
    for (std::size_t i = 0; i < 16384; ++i)  // 1 GiB of 64 KiB chunks, every one eligible
        asked += s.should_query(i, with_tail(0)) ? 1 : 0;
    BOOST_TEST(asked == 64u);
}

BOOST_AUTO_TEST_CASE(xorb_fill_cuts_at_the_byte_bound) {
    xorb_fill f;
    const std::uint32_t c = 128 * 1024;
    std::size_t n = 0;
    while (f.fits(c)) {
        f.add(c);
        ++n;
    }
    // 8 + 128 KiB per chunk: 511 chunks fit in 64 MiB, a 512th would not.
    BOOST_TEST(n == 511u);
    BOOST_TEST(f.bound() <= (64ull << 20));
    BOOST_TEST(f.bound() + xorb_chunk_bound(c) > (64ull << 20));
    BOOST_TEST(f.fits(64 * 1024 - 8));  // a smaller chunk still does
    f.clear();
    BOOST_TEST(f.chunks() == 0u);
}

BOOST_AUTO_TEST_CASE(xorb_fill_cuts_at_the_chunk_count) {
    xorb_fill f;
    std::size_t n = 0;
    while (f.fits(100)) {
        f.add(100);
        ++n;
    }
    BOOST_TEST(n == 8192u);
    xorb_fill small(xorb_limits{1000, 3});
    small.add(900);
    BOOST_TEST(!small.fits(200));  // bytes
    BOOST_TEST(small.fits(50));
    small.add(40);
    small.add(1);
    BOOST_TEST(!small.fits(1));    // count
}

BOOST_AUTO_TEST_CASE(an_empty_xorb_takes_any_chunk) {
    xorb_fill f(xorb_limits{10, 1});
    BOOST_TEST(f.fits(1000));
}

// What the fill accepts, the real builder accepts too: it never stores a chunk bigger than raw.
BOOST_AUTO_TEST_CASE(fill_bounds_hold_for_the_builder) {
    std::string data = random_bytes(3u << 20, 7);
    auto chunks = xet::chunk_buffer(xet::as_bytes(data));
    xorb_fill f(xorb_limits{1u << 20, 8192});
    xet::xorb_builder b;
    std::size_t xorbs = 0;
    for (auto& c : chunks) {
        if (!f.fits(c.size)) {
            auto x = b.finish();
            BOOST_TEST(x.bytes.size() <= f.bound());
            BOOST_TEST(x.bytes.size() <= (1u << 20));
            f.clear();
            ++xorbs;
        }
        f.add(c.size);
        BOOST_TEST(b.add_chunk(xet::as_bytes(std::string_view(data).substr(c.offset, c.size)), c.hash));
    }
    BOOST_TEST(xorbs >= 2u);
}

BOOST_AUTO_TEST_CASE(index_finds_local_and_keyed_remote_chunks) {
    chunk_index idx;
    idx.add_local(numbered(1), {new_xorb_slot{0}, 3});
    xet::hash_key key{};
    key[0] = 9;
    const digest xorb = numbered(100);
    std::vector<digest> keyed{xet::keyed_chunk_hash(numbered(7), key), xet::keyed_chunk_hash(numbered(8), key)};
    idx.add_remote(key, xorb, keyed);
    std::vector<digest> plain{numbered(20)};
    idx.add_remote(std::nullopt, numbered(101), plain);

    auto a = idx.find(numbered(1));
    BOOST_REQUIRE(a);
    BOOST_TEST((a->xorb == xorb_id(new_xorb_slot{0})));
    BOOST_TEST(a->index == 3u);
    auto b = idx.find(numbered(8));
    BOOST_REQUIRE(b);
    BOOST_TEST((b->xorb == xorb_id(xorb)));
    BOOST_TEST(b->index == 1u);
    auto c = idx.find(numbered(20));
    BOOST_REQUIRE(c);
    BOOST_TEST(c->index == 0u);
    BOOST_TEST(!idx.find(numbered(2)));
    // A keyed listing never matches the raw hash itself.
    BOOST_TEST(!idx.find(keyed[0]));
    BOOST_TEST(idx.remote_xorbs() == 2u);
}

BOOST_AUTO_TEST_CASE(terms_are_runs_of_consecutive_chunks_in_one_xorb) {
    const digest old = numbered(50);
    std::vector<placed_chunk> cs{
        {numbered(1), 10, {old, 4}},           {numbered(2), 20, {old, 5}},
        {numbered(3), 30, {new_xorb_slot{0}, 0}}, {numbered(4), 40, {new_xorb_slot{0}, 1}},
        {numbered(5), 50, {old, 6}},           // same xorb as the first run, but not adjacent
        {numbered(6), 60, {old, 9}},           // a gap in the xorb
        {numbered(1), 10, {old, 4}},           // a repeated chunk
    };
    auto ts = form_terms(cs);
    BOOST_REQUIRE(ts.size() == 5u);
    BOOST_TEST((ts[0].xorb == xorb_id(old)));
    BOOST_TEST(ts[0].start == 4u);
    BOOST_TEST(ts[0].end == 6u);
    BOOST_TEST(ts[0].bytes == 30u);
    BOOST_TEST(ts[1].start == 0u);
    BOOST_TEST(ts[1].end == 2u);
    BOOST_TEST(ts[1].bytes == 70u);
    BOOST_TEST(ts[2].start == 6u);
    BOOST_TEST(ts[3].start == 9u);
    BOOST_TEST(ts[4].start == 4u);
    BOOST_TEST(ts[4].end == 5u);
    auto span = term_chunks(cs, ts[1]);
    BOOST_REQUIRE(span.size() == 2u);
    BOOST_TEST((span[0].hash == numbered(3)));
}

BOOST_AUTO_TEST_CASE(shard_from_files_over_new_and_existing_xorbs) {
    // One file of two new xorbs' chunks and an old xorb's; a second file reusing a new chunk.
    std::string data = random_bytes(300000, 3);
    auto chunks = xet::chunk_buffer(xet::as_bytes(data));
    BOOST_REQUIRE(chunks.size() >= 3u);
    xet::xorb_builder b0;
    for (std::size_t i = 0; i + 1 < chunks.size(); ++i)
        b0.add_chunk(xet::as_bytes(std::string_view(data).substr(chunks[i].offset, chunks[i].size)), chunks[i].hash);
    auto x0 = b0.finish();
    const auto& last = chunks.back();
    const digest old = numbered(77);  // the CAS has the last chunk at index 12 of `old`

    file_plan f1;
    f1.sha256 = std::string(64, 'a');
    for (std::size_t i = 0; i + 1 < chunks.size(); ++i)
        f1.chunks.push_back({chunks[i].hash, chunks[i].size, {new_xorb_slot{0}, static_cast<std::uint32_t>(i)}});
    f1.chunks.push_back({last.hash, last.size, {old, 12}});
    file_plan f2;
    f2.sha256 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    f2.chunks.push_back({chunks[1].hash, chunks[1].size, {new_xorb_slot{0}, 1}});

    std::vector<made_xorb> made(1);
    made[0].hash = x0.hash;
    made[0].chunks = x0.chunks;
    made[0].serialized_size = static_cast<std::uint32_t>(x0.bytes.size());
    std::vector<file_plan> files{f1, f2};
    xet::shard s = form_shard(files, made);

    BOOST_REQUIRE(s.files.size() == 2u);
    const auto& a = s.files[0];
    std::vector<xet::hash_and_size> leaves;
    for (auto& c : chunks) leaves.push_back({c.hash, c.size});
    BOOST_TEST((a.file_hash == xet::file_hash(leaves)));
    BOOST_TEST(a.size() == data.size());
    BOOST_REQUIRE(a.entries.size() == 2u);
    BOOST_TEST((a.entries[0].cas_hash == x0.hash));
    BOOST_TEST(a.entries[0].chunk_index_start == 0u);
    BOOST_TEST(a.entries[0].chunk_index_end == chunks.size() - 1);
    BOOST_TEST((a.entries[1].cas_hash == old));
    BOOST_TEST(a.entries[1].chunk_index_start == 12u);
    BOOST_TEST(a.entries[1].chunk_index_end == 13u);
    BOOST_REQUIRE(a.verification.size() == 2u);
    std::vector<digest> first_run;
    for (std::size_t i = 0; i + 1 < chunks.size(); ++i) first_run.push_back(chunks[i].hash);
    BOOST_TEST((a.verification[0] == xet::verification_hash(first_run)));
    std::vector<digest> only_last{last.hash};
    BOOST_TEST((a.verification[1] == xet::verification_hash(only_last)));
    BOOST_REQUIRE(a.sha256);
    BOOST_TEST(a.sha256->hex() == f1.sha256);
    BOOST_REQUIRE(s.files[1].sha256);
    // As xet-core and the JS client store it: each 8-byte group reversed, hex() the digest.
    BOOST_TEST(s.files[1].sha256->bytes[7] == 0x00);
    BOOST_TEST(s.files[1].sha256->bytes[6] == 0x11);
    BOOST_TEST(s.files[1].sha256->bytes[0] == 0x77);
    BOOST_TEST(s.files[1].sha256->hex() == f2.sha256);
    BOOST_TEST(s.files[1].entries[0].chunk_index_start == 1u);
    BOOST_TEST((a.flags() & xet::file_flag_with_verification) != 0u);
    BOOST_TEST((a.flags() & xet::file_flag_with_metadata_ext) != 0u);
    // Only the new xorb is listed, with its chunks.
    BOOST_REQUIRE(s.xorbs.size() == 1u);
    BOOST_TEST((s.xorbs[0].cas_hash == x0.hash));
    BOOST_TEST(s.xorbs[0].chunks.size() == chunks.size() - 1);
    BOOST_TEST(s.xorbs[0].num_bytes_on_disk == x0.bytes.size());

    // It round-trips through the shard format.
    auto bytes = xet::serialize_shard(s);
    auto back = xet::parse_shard(bytes);
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(back->files.size() == 2u);
    BOOST_TEST(!back->footer.has_value());
}

BOOST_AUTO_TEST_CASE(shard_refuses_an_unmade_slot_and_a_bad_sha256) {
    file_plan f;
    f.sha256 = std::string(64, '0');
    f.chunks.push_back({numbered(1), 10, {new_xorb_slot{2}, 0}});
    std::vector<file_plan> files{f};
    std::vector<made_xorb> none;
    BOOST_CHECK_THROW(form_shard(files, none), std::invalid_argument);
    files[0].chunks[0].where = {numbered(5), 0};
    files[0].sha256 = "xyz";
    BOOST_CHECK_THROW(form_shard(files, none), std::invalid_argument);
    files[0].sha256 = std::string(64, 'f');
    BOOST_CHECK_NO_THROW(form_shard(files, none));
}

BOOST_AUTO_TEST_SUITE_END()
