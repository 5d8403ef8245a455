#include "xet/shard.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace hfhub::xet {

// xet-core's MDB_SHARD_HEADER_TAG (shard_format.rs), the same bytes the JS client writes.
const std::array<std::uint8_t, 32> shard_header_tag{'H', 'F', 'R', 'e', 'p', 'o', 'M', 'e', 't', 'a', 'D',
                                                    'a', 't', 'a', 0,   85,  105, 103, 69,  106, 123, 129,
                                                    87,  131, 165, 189, 217, 92,  205, 209, 74,  169};

namespace {

// Little-endian reads over a span whose bounds the caller has checked.
std::uint32_t u32_at(const std::uint8_t* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t u64_at(const std::uint8_t* p) noexcept {
    return static_cast<std::uint64_t>(u32_at(p)) | static_cast<std::uint64_t>(u32_at(p + 4)) << 32;
}
merkle_hash hash_at(const std::uint8_t* p) noexcept {
    merkle_hash h;
    std::memcpy(h.bytes.data(), p, 32);
    return h;
}

// The body's 48-byte records, in order, up to the footer.
struct record_reader {
    const std::uint8_t* data;
    std::size_t pos;
    std::size_t end;
    // The next record; nullptr when fewer than 48 bytes are left.
    const std::uint8_t* next() noexcept {
        if (end - pos < shard_entry_size) return nullptr;
        pos += shard_entry_size;
        return data + pos - shard_entry_size;
    }
};

// n records the caller made sure are there, each made into a T by `read`.
template <class T, class Read>
void read_records(record_reader& in, std::uint32_t n, std::vector<T>& out, Read read) {
    out.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) out.push_back(read(in.next()));
}

// A section: header records, each followed by its own records, which `entry` reads, until
// the bookend.
template <class Entry>
std::error_code read_section(record_reader& in, Entry entry) {
    for (;;) {
        const std::uint8_t* r = in.next();
        if (!r) return errc::missing_bookend;
        if (hash_at(r).is_marker()) return {};
        if (auto ec = entry(r)) return ec;
    }
}

class writer {
public:
    std::vector<std::uint8_t> out;
    void bytes(const std::uint8_t* p, std::size_t n) { out.insert(out.end(), p, p + n); }
    void hash(const merkle_hash& h) { bytes(h.bytes.data(), h.bytes.size()); }
    void zeros(std::size_t n) { out.insert(out.end(), n, 0); }
    void u32(std::uint32_t v) {
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void u64(std::uint64_t v) {
        for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void bookend() {
        out.insert(out.end(), 32, 0xFF);
        zeros(16);
    }
};

std::uint32_t count32(std::size_t n, const char* what) {
    if (n > std::numeric_limits<std::uint32_t>::max()) throw std::invalid_argument(std::string("shard: too many ") + what);
    return static_cast<std::uint32_t>(n);
}

}  // namespace

std::uint32_t file_info::flags() const noexcept {
    return (verification.empty() ? 0 : file_flag_with_verification) | (sha256 ? file_flag_with_metadata_ext : 0);
}

std::uint64_t file_info::size() const noexcept {
    std::uint64_t n = 0;
    for (const auto& e : entries) n += e.unpacked_segment_bytes;
    return n;
}

std::optional<hash_key> shard::hmac_key() const noexcept {
    if (!footer) return std::nullopt;
    const auto& k = footer->chunk_hash_hmac_key;
    if (std::all_of(k.begin(), k.end(), [](std::uint8_t b) { return b == 0; })) return std::nullopt;
    return k;
}

std::vector<std::uint8_t> serialize_shard(const shard& s, const shard_serialize_options& opts) {
    writer w;
    w.bytes(shard_header_tag.data(), shard_header_tag.size());
    w.u64(shard_header_version);
    w.u64(opts.with_footer ? shard_footer_size : 0);

    std::uint64_t materialized = 0;
    for (const auto& f : s.files) {
        if (!f.verification.empty() && f.verification.size() != f.entries.size())
            throw std::invalid_argument("shard: a file's verification entries must be none or one per term");
        w.hash(f.file_hash);
        w.u32(f.flags());
        w.u32(count32(f.entries.size(), "terms"));
        w.zeros(8);
        for (const auto& e : f.entries) {
            w.hash(e.cas_hash);
            w.u32(e.cas_flags);
            w.u32(e.unpacked_segment_bytes);
            w.u32(e.chunk_index_start);
            w.u32(e.chunk_index_end);
        }
        for (const auto& v : f.verification) {
            w.hash(v);
            w.zeros(16);
        }
        if (f.sha256) {
            w.hash(*f.sha256);
            w.zeros(16);
        }
        materialized += f.size();
    }
    w.bookend();

    const std::uint64_t cas_offset = w.out.size();
    std::uint64_t on_disk = 0;
    std::uint64_t stored = 0;
    for (const auto& x : s.xorbs) {
        w.hash(x.cas_hash);
        w.u32(x.cas_flags);
        w.u32(count32(x.chunks.size(), "chunks"));
        w.u32(x.num_bytes_in_cas);
        w.u32(x.num_bytes_on_disk);
        for (const auto& c : x.chunks) {
            w.hash(c.chunk_hash);
            w.u32(c.chunk_byte_range_start);
            w.u32(c.unpacked_segment_bytes);
            w.zeros(8);
        }
        on_disk += x.num_bytes_on_disk;
        stored += x.num_bytes_in_cas;
    }
    w.bookend();

    if (opts.with_footer) {
        // No lookup tables: their offsets point at the footer with no entries, as the Hub's
        // dedup answers do (the JS client reads the CAS section up to file_lookup_offset).
        const std::uint64_t end = w.out.size();
        w.u64(shard_footer_version);
        w.u64(shard_header_size);
        w.u64(cas_offset);
        for (int i = 0; i < 3; ++i) {
            w.u64(end);
            w.u64(0);
        }
        w.bytes(opts.chunk_hash_hmac_key.data(), opts.chunk_hash_hmac_key.size());
        w.u64(opts.shard_creation_timestamp);
        w.u64(opts.shard_key_expiry);
        w.zeros(48);
        w.u64(on_disk);
        w.u64(materialized);
        w.u64(stored);
        w.u64(end);
    }
    return std::move(w.out);
}

result<shard> parse_shard(std::span<const std::uint8_t> bytes, const shard_parse_options& opts) {
    const std::uint8_t* p = bytes.data();
    const std::size_t size = bytes.size();
    if (size < shard_header_size) return errc::truncated;
    if (std::memcmp(p, shard_header_tag.data(), shard_header_tag.size()) != 0) return errc::bad_magic;
    if (u64_at(p + 32) != shard_header_version) return errc::unsupported_version;
    const std::uint64_t footer_size = u64_at(p + 40);
    if (footer_size != 0 && footer_size != shard_footer_size) return errc::bad_footer;
    if (footer_size > size - shard_header_size) return errc::bad_footer;
    const std::size_t body_end = size - static_cast<std::size_t>(footer_size);

    shard s;
    record_reader in{p, shard_header_size, body_end};
    std::size_t entries = 0;
    // Room for n records before the footer, counted against the entry limit.
    auto reserve = [&](std::uint64_t n) -> std::error_code {
        if (n > (in.end - in.pos) / shard_entry_size) return errc::truncated;
        if (n > opts.max_entries - entries) return errc::too_many_entries;
        entries += static_cast<std::size_t>(n);
        return {};
    };

    bool some_verified = false;
    bool some_unverified = false;
    auto ec = read_section(in, [&](const std::uint8_t* r) -> std::error_code {
        file_info f;
        f.file_hash = hash_at(r);
        const std::uint32_t flags = u32_at(r + 32);
        const std::uint32_t n = u32_at(r + 36);
        const bool verified = (flags & file_flag_with_verification) != 0;
        const bool ext = (flags & file_flag_with_metadata_ext) != 0;
        const std::uint64_t records = static_cast<std::uint64_t>(n) * (verified ? 2 : 1) + (ext ? 1 : 0);
        if (auto e = reserve(records)) return e;
        read_records(in, n, f.entries, [](const std::uint8_t* e) {
            return file_data_entry{hash_at(e), u32_at(e + 32), u32_at(e + 36), u32_at(e + 40), u32_at(e + 44)};
        });
        if (verified) read_records(in, n, f.verification, hash_at);
        if (ext) f.sha256 = hash_at(in.next());
        (verified ? some_verified : some_unverified) = true;
        s.files.push_back(std::move(f));
        return {};
    });
    if (ec) return ec;
    if (some_verified && some_unverified) return errc::inconsistent_shard;

    const std::size_t cas_offset = in.pos;
    ec = read_section(in, [&](const std::uint8_t* r) -> std::error_code {
        cas_info x;
        x.cas_hash = hash_at(r);
        x.cas_flags = u32_at(r + 32);
        const std::uint32_t n = u32_at(r + 36);
        x.num_bytes_in_cas = u32_at(r + 40);
        x.num_bytes_on_disk = u32_at(r + 44);
        if (auto e = reserve(n)) return e;
        read_records(in, n, x.chunks, [](const std::uint8_t* e) {
            return cas_chunk_entry{hash_at(e), u32_at(e + 32), u32_at(e + 36)};
        });
        s.xorbs.push_back(std::move(x));
        return {};
    });
    if (ec) return ec;
    const std::size_t cas_end = in.pos;

    if (footer_size == 0) {
        if (cas_end != size) return errc::trailing_data;
        return s;
    }
    const std::uint8_t* f = p + body_end;
    shard_footer ft;
    ft.version = u64_at(f);
    if (ft.version != shard_footer_version) return errc::unsupported_version;
    ft.file_info_offset = u64_at(f + 8);
    ft.cas_info_offset = u64_at(f + 16);
    ft.file_lookup_offset = u64_at(f + 24);
    ft.file_lookup_num_entry = u64_at(f + 32);
    ft.cas_lookup_offset = u64_at(f + 40);
    ft.cas_lookup_num_entry = u64_at(f + 48);
    ft.chunk_lookup_offset = u64_at(f + 56);
    ft.chunk_lookup_num_entry = u64_at(f + 64);
    std::memcpy(ft.chunk_hash_hmac_key.data(), f + 72, 32);
    ft.shard_creation_timestamp = u64_at(f + 104);
    ft.shard_key_expiry = u64_at(f + 112);
    ft.stored_bytes_on_disk = u64_at(f + 168);
    ft.materialized_bytes = u64_at(f + 176);
    ft.stored_bytes = u64_at(f + 184);
    ft.footer_offset = u64_at(f + 192);
    if (ft.footer_offset != body_end || ft.file_info_offset != shard_header_size || ft.cas_info_offset != cas_offset)
        return errc::bad_footer;
    // The lookup tables (which this parser skips) lie between the CAS bookend and the footer.
    for (std::uint64_t off : {ft.file_lookup_offset, ft.cas_lookup_offset, ft.chunk_lookup_offset}) {
        if (off != 0 && (off < cas_end || off > body_end)) return errc::bad_footer;
    }
    s.footer = ft;
    return s;
}

cas_info make_cas_info(const merkle_hash& xorb_hash, std::span<const xorb_chunk> chunks, std::uint32_t serialized_size) {
    cas_info x;
    x.cas_hash = xorb_hash;
    x.num_bytes_on_disk = serialized_size;
    x.chunks.reserve(chunks.size());
    std::uint64_t total = 0;
    for (const auto& c : chunks) {
        x.chunks.push_back({c.hash, c.unpacked_offset, c.size});
        total += c.size;
    }
    if (total > std::numeric_limits<std::uint32_t>::max()) throw std::invalid_argument("xorb larger than 4 GiB unpacked");
    x.num_bytes_in_cas = static_cast<std::uint32_t>(total);
    return x;
}

std::optional<chunk_location> find_chunk(const shard& s, const merkle_hash& chunk_hash) {
    const auto key = s.hmac_key();
    const merkle_hash want = key ? keyed_chunk_hash(chunk_hash, *key) : chunk_hash;
    for (const auto& x : s.xorbs) {
        for (std::size_t i = 0; i < x.chunks.size(); ++i) {
            if (x.chunks[i].chunk_hash == want)
                return chunk_location{x.cas_hash, static_cast<std::uint32_t>(i), x.chunks[i].chunk_byte_range_start,
                                      x.chunks[i].unpacked_segment_bytes};
        }
    }
    return std::nullopt;
}

}  // namespace hfhub::xet
