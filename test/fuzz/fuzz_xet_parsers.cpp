// libFuzzer: the Xet parsers (whole xorbs, chunk ranges, shards, chunk headers, hash strings)
// over hostile bytes. The first byte picks the parser. What parses must be consistent: chunk
// hashes of the decoded bytes, a rebuilt xorb with the same hash, a shard that writes back and
// parses to the same records.
#include "xet/chunker.hpp"
#include "xet/shard.hpp"
#include "xet/xorb.hpp"

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

using namespace hfhub::xet;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void whole_xorb(std::span<const std::uint8_t> in, bool footer) {
    auto r = parse_xorb(in, {.allow_footer = footer, .max_chunks = 4096});
    if (!r) return;
    xorb_builder b(compression_policy::none);
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < r->chunks.chunks.size(); ++i) {
        auto d = r->chunks.chunk_data(i);
        check(r->chunks.chunks[i].hash == chunk_hash(d));
        check(r->chunks.chunks[i].unpacked_offset == total);
        total += d.size();
        check(b.add_chunk(d, r->chunks.chunks[i].hash));
    }
    check(total == r->unpacked_size);
    auto x = b.finish();
    check(x.hash == r->hash);
    auto again = parse_xorb(x.bytes, {.expected_hash = r->hash});
    check(again.has_value() && again->chunks.data == r->chunks.data);
}

void chunk_range(std::span<const std::uint8_t> in, bool keep) {
    auto r = parse_chunks(in, {.keep_data = keep, .max_chunks = 4096});
    if (!r) return;
    std::size_t at = 0;
    for (const auto& c : r->chunks) {
        check(c.offset == at);
        at += c.serialized_size;
    }
    check(at == in.size());
    if (!keep) check(r->data.empty());
}

void shard_bytes(std::span<const std::uint8_t> in) {
    auto s = parse_shard(in, {.max_entries = 1 << 16});
    if (!s) return;
    shard_serialize_options o;
    if (s->footer) {
        o.with_footer = true;
        o.chunk_hash_hmac_key = s->footer->chunk_hash_hmac_key;
        o.shard_creation_timestamp = s->footer->shard_creation_timestamp;
        o.shard_key_expiry = s->footer->shard_key_expiry;
    }
    auto out = serialize_shard(*s, o);
    auto t = parse_shard(out);
    check(t.has_value());
    check(t->files.size() == s->files.size() && t->xorbs.size() == s->xorbs.size());
    for (std::size_t i = 0; i < s->files.size(); ++i) {
        check(t->files[i].file_hash == s->files[i].file_hash);
        check(t->files[i].entries.size() == s->files[i].entries.size());
        check(t->files[i].verification == s->files[i].verification);
        check(t->files[i].sha256 == s->files[i].sha256);
    }
    for (std::size_t i = 0; i < s->xorbs.size(); ++i) {
        check(t->xorbs[i].cas_hash == s->xorbs[i].cas_hash);
        check(t->xorbs[i].chunks.size() == s->xorbs[i].chunks.size());
    }
    check(serialize_shard(*t, o) == out);
    for (const auto& x : s->xorbs)
        if (!x.chunks.empty()) (void)find_chunk(*s, x.chunks.front().chunk_hash);
}

void small_things(std::span<const std::uint8_t> in) {
    if (auto h = decode_chunk_header(in)) {
        auto e = encode_chunk_header(*h);
        check(std::equal(e.begin(), e.end(), in.begin()));
    }
    std::string_view s(reinterpret_cast<const char*>(in.data()), in.size());
    if (auto h = merkle_hash::from_hex(s)) {
        auto again = merkle_hash::from_hex(h->hex());
        check(again.has_value() && *again == *h);
    }
    chunker c;
    std::vector<std::uint64_t> ends;
    c.update(in, ends);
    if (auto last = c.finish()) ends.push_back(*last);
    check(ends == chunk_ends(in));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    std::span<const std::uint8_t> in(data + 1, size - 1);
    switch (data[0] % 4) {
        case 0: whole_xorb(in, (data[0] & 4) != 0); break;
        case 1: chunk_range(in, (data[0] & 4) == 0); break;
        case 2: shard_bytes(in); break;
        default: small_things(in); break;
    }
    return 0;
}
