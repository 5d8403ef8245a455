// Shards: a real Hub dedup answer parsed and written back byte for byte, upload shards built
// from xorbs, and malformed shards as typed errors.
#include "xet/shard.hpp"

#include "xet/xorb.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

using namespace hfhub::xet;

namespace {

// huggingface.js packages/hub/tests/gpt2-64-8bits.tflite.shard: the Hub's global-dedup answer
// for a chunk of gpt2-64-8bits.tflite, kept as a seed of the fuzz corpus (after the byte that
// picks the fuzz target's shard parser).
const std::filesystem::path hub_shard = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
                                        "fuzz" / "corpus" / "fuzz_xet_parsers" / "shard_hub_dedup_gpt2";

std::vector<std::uint8_t> slurp_seed(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    BOOST_REQUIRE_MESSAGE(in, "can't read " << p);
    std::vector<std::uint8_t> b{std::istreambuf_iterator<char>(in), {}};
    BOOST_REQUIRE(!b.empty() && b[0] == 2);
    b.erase(b.begin());
    return b;
}

merkle_hash H(std::string_view hex) { return merkle_hash::from_hex(hex).value(); }
std::error_code err(const auto& r) { return r ? std::error_code{} : r.error(); }

void put_u64(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v) {
    for (int i = 0; i < 8; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

// Two files over two xorbs, each file with verification entries and a sha256.
shard upload_shard() {
    std::vector<std::vector<std::uint8_t>> data;
    xorb_builder b1, b2;
    for (std::uint8_t i = 0; i < 4; ++i) {
        data.emplace_back(9000 + i * 100, static_cast<std::uint8_t>(i + 1));
        BOOST_REQUIRE((i < 3 ? b1 : b2).add_chunk(data.back()));
    }
    auto x1 = b1.finish();
    auto x2 = b2.finish();
    shard s;
    s.xorbs.push_back(make_cas_info(x1.hash, x1.chunks, static_cast<std::uint32_t>(x1.bytes.size())));
    s.xorbs.push_back(make_cas_info(x2.hash, x2.chunks, static_cast<std::uint32_t>(x2.bytes.size())));
    // File A: chunks 0..2 of x1 then chunk 0 of x2; file B: chunk 1 of x1.
    file_info a;
    a.entries.push_back({x1.hash, 0, x1.chunks[0].size + x1.chunks[1].size + x1.chunks[2].size, 0, 3});
    a.entries.push_back({x2.hash, 0, x2.chunks[0].size, 0, 1});
    std::vector<merkle_hash> v1{x1.chunks[0].hash, x1.chunks[1].hash, x1.chunks[2].hash};
    std::vector<merkle_hash> v2{x2.chunks[0].hash};
    a.verification = {verification_hash(v1), verification_hash(v2)};
    std::vector<hash_and_size> leaves;
    for (auto& c : x1.chunks) leaves.push_back({c.hash, c.size});
    leaves.push_back({x2.chunks[0].hash, x2.chunks[0].size});
    a.file_hash = file_hash(leaves);
    a.sha256 = H(std::string(64, 'a'));
    file_info b;
    b.entries.push_back({x1.hash, 0, x1.chunks[1].size, 1, 2});
    std::vector<merkle_hash> vb{x1.chunks[1].hash};
    b.verification = {verification_hash(vb)};
    std::vector<hash_and_size> lb{{x1.chunks[1].hash, x1.chunks[1].size}};
    b.file_hash = file_hash(lb);
    b.sha256 = H(std::string(64, 'b'));
    s.files = {a, b};
    return s;
}

void check_equal(const shard& a, const shard& b) {
    BOOST_REQUIRE(a.files.size() == b.files.size());
    for (std::size_t i = 0; i < a.files.size(); ++i) {
        const auto &x = a.files[i], &y = b.files[i];
        BOOST_TEST((x.file_hash == y.file_hash));
        BOOST_TEST((x.sha256 == y.sha256));
        BOOST_TEST(x.verification == y.verification);
        BOOST_REQUIRE(x.entries.size() == y.entries.size());
        for (std::size_t j = 0; j < x.entries.size(); ++j) {
            BOOST_TEST((x.entries[j].cas_hash == y.entries[j].cas_hash));
            BOOST_TEST(x.entries[j].unpacked_segment_bytes == y.entries[j].unpacked_segment_bytes);
            BOOST_TEST(x.entries[j].chunk_index_start == y.entries[j].chunk_index_start);
            BOOST_TEST(x.entries[j].chunk_index_end == y.entries[j].chunk_index_end);
        }
    }
    BOOST_REQUIRE(a.xorbs.size() == b.xorbs.size());
    for (std::size_t i = 0; i < a.xorbs.size(); ++i) {
        const auto &x = a.xorbs[i], &y = b.xorbs[i];
        BOOST_TEST((x.cas_hash == y.cas_hash));
        BOOST_TEST(x.num_bytes_in_cas == y.num_bytes_in_cas);
        BOOST_TEST(x.num_bytes_on_disk == y.num_bytes_on_disk);
        BOOST_REQUIRE(x.chunks.size() == y.chunks.size());
        for (std::size_t j = 0; j < x.chunks.size(); ++j) {
            BOOST_TEST((x.chunks[j].chunk_hash == y.chunks[j].chunk_hash));
            BOOST_TEST(x.chunks[j].chunk_byte_range_start == y.chunks[j].chunk_byte_range_start);
            BOOST_TEST(x.chunks[j].unpacked_segment_bytes == y.chunks[j].unpacked_segment_bytes);
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_shard)

BOOST_AUTO_TEST_CASE(a_hub_dedup_shard) {
    auto bytes = slurp_seed(hub_shard);
    auto s = parse_shard(bytes);
    BOOST_REQUIRE_MESSAGE(s.has_value(), err(s).message());
    // tests/gpt2-64-8bits.tflite.shard.json, beside the shard in huggingface.js.
    BOOST_TEST(s->files.empty());
    BOOST_REQUIRE(s->xorbs.size() == 3u);
    BOOST_TEST(s->xorbs[0].chunks.size() == 933u);
    BOOST_TEST(s->xorbs[1].chunks.size() == 1062u);
    BOOST_TEST(s->xorbs[2].chunks.size() == 122u);
    BOOST_TEST(s->xorbs[0].cas_hash.hex() == "16fe54ff57e667703a42fee0714b243eabd2d219773fb88446da2795c901dc0d");
    BOOST_TEST(s->xorbs[0].chunks.front().chunk_hash.hex() ==
               "2d35ee5d16461ade43e53cf039a35ed65ee18d0ef37eb0142c0399efcf0f99ea");
    BOOST_TEST(s->xorbs[0].chunks.back().chunk_hash.hex() ==
               "146c678ef22f8479d3d9ec04c72558763e5da45f1754fbf864c2f595abf21f23");
    BOOST_TEST(s->xorbs[1].cas_hash.hex() == "213031765f0b4d7bc826ccd5bdda3261f624187e2997a2de61111652d31b081c");
    BOOST_TEST(s->xorbs[2].cas_hash.hex() == "9ef98552e37030376ff099dde26b14ecb6327bdf4635c20f341bd4746c458fdf");
    BOOST_TEST(s->xorbs[2].chunks.back().chunk_hash.hex() ==
               "0302bf22cb2d4791b28263faf40280e1ae135ebd95e46bbaa7999fd82f79bafb");
    BOOST_REQUIRE(s->footer.has_value());
    BOOST_REQUIRE(s->hmac_key().has_value());
    BOOST_TEST(merkle_hash{*s->hmac_key()}.hex() == "d6834b04843aaf16f29903e2428a99be635099f9ea5056cc4e95e7ec8a41509f");
    BOOST_TEST(s->footer->shard_creation_timestamp == 1754059905u);
    BOOST_TEST(s->footer->shard_key_expiry == 1754664705u);
    // Chunk offsets run on within each xorb.
    for (const auto& x : s->xorbs) {
        std::uint64_t at = 0;
        for (const auto& c : x.chunks) {
            BOOST_TEST(c.chunk_byte_range_start == at);
            at += c.unpacked_segment_bytes;
        }
    }

    // The plain chunk hash the JS spec looks up: the first chunk of the second xorb.
    auto loc = find_chunk(*s, H("9502eec19d4b0c9f7b389228fa801f68ecdf15d69ccd1da2f9ddbd0219898335"));
    BOOST_REQUIRE(loc.has_value());
    BOOST_TEST((loc->xorb_hash == s->xorbs[1].cas_hash));
    BOOST_TEST(loc->chunk_index == 0u);
    BOOST_TEST(!find_chunk(*s, H(std::string(64, '1'))).has_value());

    // Written back with the same key and times: the same bytes.
    auto again = serialize_shard(*s, {.with_footer = true,
                                      .chunk_hash_hmac_key = *s->hmac_key(),
                                      .shard_creation_timestamp = s->footer->shard_creation_timestamp,
                                      .shard_key_expiry = s->footer->shard_key_expiry});
    BOOST_TEST(again.size() == bytes.size());
    BOOST_TEST((again == bytes));
}

BOOST_AUTO_TEST_CASE(an_upload_shard_has_no_footer) {
    shard s = upload_shard();
    BOOST_TEST(s.files[0].flags() == (file_flag_with_verification | file_flag_with_metadata_ext));
    auto bytes = serialize_shard(s);
    // Header, A (1 + 2 terms + 2 verifications + sha256), bookend, B (1 + 1 + 1 + 1), bookend,
    // the xorbs (1 + 3, 1 + 1), bookend: 48-byte records after the 48-byte header.
    BOOST_TEST(bytes.size() == shard_header_size + shard_entry_size * (6 + 4 + 1 + 4 + 2 + 1));
    BOOST_TEST(bytes[40] == 0);  // footer_size 0
    auto back = parse_shard(bytes);
    BOOST_REQUIRE_MESSAGE(back.has_value(), err(back).message());
    BOOST_TEST(!back->footer.has_value());
    BOOST_TEST(!back->hmac_key().has_value());
    check_equal(s, *back);
    BOOST_TEST(back->xorbs[0].num_bytes_in_cas == 9000u + 9100u + 9200u);
    BOOST_TEST(back->files[0].size() == 9000u + 9100u + 9200u + 9300u);
    // Without a key, lookups are by the plain hash.
    auto loc = find_chunk(*back, s.xorbs[0].chunks[2].chunk_hash);
    BOOST_REQUIRE(loc.has_value());
    BOOST_TEST(loc->chunk_index == 2u);
    BOOST_TEST(loc->unpacked_offset == 9000u + 9100u);
    BOOST_TEST(serialize_shard(*back) == bytes);
}

BOOST_AUTO_TEST_CASE(a_footer_the_js_client_writes) {
    // The JS client uploads with a footer whose lookup offsets are 0, and its own totals.
    shard s = upload_shard();
    auto bytes = serialize_shard(s, {.with_footer = true, .shard_creation_timestamp = 1700000000});
    std::size_t footer = bytes.size() - shard_footer_size;
    BOOST_TEST(bytes[40] == shard_footer_size);
    for (std::size_t off : {24u, 40u, 56u}) put_u64(bytes, footer + off, 0);
    auto back = parse_shard(bytes);
    BOOST_REQUIRE_MESSAGE(back.has_value(), err(back).message());
    BOOST_REQUIRE(back->footer.has_value());
    BOOST_TEST(back->footer->shard_creation_timestamp == 1700000000u);
    BOOST_TEST(back->footer->footer_offset == footer);
    BOOST_TEST(back->footer->materialized_bytes == s.files[0].size() + s.files[1].size());
    BOOST_TEST(!back->hmac_key().has_value());
    check_equal(s, *back);
}

BOOST_AUTO_TEST_CASE(a_dedup_answer_keys_its_chunk_hashes) {
    shard s = upload_shard();
    s.files.clear();
    merkle_hash key = chunk_hash(as_bytes("a key"));
    merkle_hash plain = s.xorbs[1].chunks[0].chunk_hash;
    for (auto& x : s.xorbs)
        for (auto& c : x.chunks) c.chunk_hash = keyed_chunk_hash(c.chunk_hash, key.as_key());
    auto bytes = serialize_shard(s, {.with_footer = true, .chunk_hash_hmac_key = key.as_key(), .shard_key_expiry = 5});
    auto back = parse_shard(bytes);
    BOOST_REQUIRE(back.has_value());
    BOOST_REQUIRE(back->hmac_key().has_value());
    // The lookup offsets point at the footer, as the Hub's do: the JS client reads up to them.
    BOOST_TEST(back->footer->file_lookup_offset == bytes.size() - shard_footer_size);
    auto loc = find_chunk(*back, plain);
    BOOST_REQUIRE(loc.has_value());
    BOOST_TEST((loc->xorb_hash == s.xorbs[1].cas_hash));
    BOOST_TEST(!find_chunk(*back, s.xorbs[1].chunks[0].chunk_hash).has_value());  // the keyed one isn't a chunk hash
}

BOOST_AUTO_TEST_CASE(malformed_shards_are_typed_errors) {
    auto good = serialize_shard(upload_shard());
    // Every prefix fails cleanly: the header, then a section without its bookend.
    for (std::size_t n = 0; n < good.size(); ++n) {
        std::vector<std::uint8_t> prefix(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
        auto r = parse_shard(prefix);
        BOOST_TEST(!r.has_value(), "prefix " << n);
    }
    auto with = [&](auto edit) {
        auto b = good;
        edit(b);
        return err(parse_shard(b));
    };
    BOOST_TEST((with([](auto& b) { b[0] = 'X'; }) == errc::bad_magic));
    BOOST_TEST((with([](auto& b) { put_u64(b, 32, 3); }) == errc::unsupported_version));
    BOOST_TEST((with([](auto& b) { put_u64(b, 40, 100); }) == errc::bad_footer));
    BOOST_TEST((with([](auto& b) { put_u64(b, 40, 200); }) != std::error_code{}));
    // A term count far beyond the bytes: no allocation, a typed error.
    BOOST_TEST((with([](auto& b) { put_u32(b, 48 + 36, 0xFFFFFFFF); }) == errc::truncated));
    BOOST_TEST((with([](auto& b) { b.push_back(0); }) == errc::trailing_data));
    // Verification on the first file only.
    BOOST_TEST((with([](auto& b) { b[48 + 35] &= 0x7F; }) != std::error_code{}));
    {
        shard s = upload_shard();
        s.files[1].verification.clear();
        BOOST_TEST((err(parse_shard(serialize_shard(s))) == errc::inconsistent_shard));
        s.files[1].verification.resize(3);
        BOOST_CHECK_THROW(serialize_shard(s), std::invalid_argument);
    }
    BOOST_TEST((err(parse_shard(good, {.max_entries = 5})) == errc::too_many_entries));
    // A footer whose offsets don't match the sections.
    auto footed = serialize_shard(upload_shard(), {.with_footer = true});
    std::size_t footer = footed.size() - shard_footer_size;
    auto bad = footed;
    put_u64(bad, footer + 16, 48);
    BOOST_TEST((err(parse_shard(bad)) == errc::bad_footer));
    bad = footed;
    put_u64(bad, footer + 192, 7);
    BOOST_TEST((err(parse_shard(bad)) == errc::bad_footer));
    bad = footed;
    put_u64(bad, footer, 2);
    BOOST_TEST((err(parse_shard(bad)) == errc::unsupported_version));
    bad = footed;
    put_u64(bad, footer + 24, footed.size());
    BOOST_TEST((err(parse_shard(bad)) == errc::bad_footer));
}

BOOST_AUTO_TEST_SUITE_END()
