#include "xet/xorb.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <lz4frame.h>

#include "xet/chunker.hpp"

namespace hfhub::xet {
namespace {

constexpr std::uint32_t max_u24 = (1u << 24) - 1;
constexpr char footer_ident[] = "XETBLOB";

std::uint32_t read_u24(const std::uint8_t* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
           static_cast<std::uint32_t>(p[2]) << 16;
}

void write_u24(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v);
    p[1] = static_cast<std::uint8_t>(v >> 8);
    p[2] = static_cast<std::uint8_t>(v >> 16);
}

// One LZ4 frame: 64 KiB independent blocks, no checksums (what lz4_flex writes by default),
// written at the start of `out` (grown to the bound, never shrunk, so a reused buffer is not
// reallocated or zeroed per chunk). Returns the frame's size.
std::size_t lz4_frame_into(std::span<const std::uint8_t> data, std::vector<std::uint8_t>& out) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    const std::size_t bound = LZ4F_compressFrameBound(data.size(), &prefs);
    if (out.size() < bound) out.resize(bound);
    std::size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &prefs);
    if (LZ4F_isError(n)) throw std::runtime_error(std::string("LZ4 compression failed: ") + LZ4F_getErrorName(n));
    return n;
}

std::vector<std::uint8_t> lz4_frame(std::span<const std::uint8_t> data) {
    std::vector<std::uint8_t> out;
    out.resize(lz4_frame_into(data, out));
    return out;
}

// Bits set in each byte value.
constexpr std::array<std::uint8_t, 256> popcounts = [] {
    std::array<std::uint8_t, 256> t{};
    for (unsigned v = 0; v < 256; ++v) t[v] = static_cast<std::uint8_t>(std::popcount(v));
    return t;
}();

struct lz4_dctx {
    LZ4F_dctx* ctx = nullptr;
    lz4_dctx() {
        if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) ctx = nullptr;
    }
    ~lz4_dctx() { LZ4F_freeDecompressionContext(ctx); }
    lz4_dctx(const lz4_dctx&) = delete;
    lz4_dctx& operator=(const lz4_dctx&) = delete;
};

// Decodes exactly one frame that fills `out` exactly and uses all of `in`.
bool lz4_unframe(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept {
    thread_local lz4_dctx d;
    if (!d.ctx) return false;
    LZ4F_resetDecompressionContext(d.ctx);
    std::size_t src = 0;
    std::size_t dst = 0;
    for (;;) {
        std::size_t src_n = in.size() - src;
        std::size_t dst_n = out.size() - dst;
        std::size_t r = LZ4F_decompress(d.ctx, out.data() + dst, &dst_n, in.data() + src, &src_n, nullptr);
        if (LZ4F_isError(r)) return false;
        src += src_n;
        dst += dst_n;
        if (r == 0) break;  // the frame is complete
        if (src_n == 0 && dst_n == 0) return false;  // ends early, or decodes to more than `out`
    }
    return src == in.size() && dst == out.size();
}

}  // namespace

std::array<std::uint8_t, chunk_header_size> encode_chunk_header(const chunk_header& h) noexcept {
    std::array<std::uint8_t, chunk_header_size> out{};
    out[0] = h.version;
    write_u24(out.data() + 1, h.compressed_size);
    out[4] = static_cast<std::uint8_t>(h.scheme);
    write_u24(out.data() + 5, h.uncompressed_size);
    return out;
}

result<chunk_header> decode_chunk_header(std::span<const std::uint8_t> in) noexcept {
    if (in.size() < chunk_header_size) return errc::truncated;
    chunk_header h;
    h.version = in[0];
    h.compressed_size = read_u24(in.data() + 1);
    h.uncompressed_size = read_u24(in.data() + 5);
    if (h.version != chunk_header_version) return errc::bad_chunk_header;
    if (in[4] > 2) return errc::unknown_compression;
    h.scheme = static_cast<compression>(in[4]);
    if (h.uncompressed_size > max_chunk_size) return errc::chunk_too_large;
    if (h.uncompressed_size == 0) return errc::bad_chunk_header;
    if (h.scheme == compression::none && h.compressed_size != h.uncompressed_size) return errc::bad_chunk_header;
    if (h.scheme != compression::none && h.compressed_size == 0) return errc::bad_chunk_header;
    return h;
}

void bg4_split(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept {
    // One pass over the input, four output cursors: the strided reads of one pass per group
    // cost a quarter of the speed.
    const std::size_t n = in.size();
    const std::size_t q = n / 4;
    const std::size_t r = n % 4;
    const std::uint8_t* p = in.data();
    std::uint8_t* g0 = out.data();
    std::uint8_t* g1 = g0 + q + (r > 0);
    std::uint8_t* g2 = g1 + q + (r > 1);
    std::uint8_t* g3 = g2 + q + (r > 2);
    for (std::size_t i = 0; i < q; ++i, p += 4) {
        g0[i] = p[0];
        g1[i] = p[1];
        g2[i] = p[2];
        g3[i] = p[3];
    }
    std::uint8_t* groups[3] = {g0, g1, g2};
    for (std::size_t g = 0; g < r; ++g) groups[g][q] = p[g];
}

void bg4_join(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) noexcept {
    const std::size_t n = in.size();
    const std::size_t q = n / 4;
    const std::size_t r = n % 4;
    std::size_t pos = 0;
    for (std::size_t g = 0; g < 4; ++g) {
        const std::size_t len = q + (g < r ? 1 : 0);
        for (std::size_t i = 0; i < len; ++i) out[i * 4 + g] = in[pos + i];
        pos += len;
    }
}

std::vector<std::uint8_t> compress_chunk(std::span<const std::uint8_t> data, compression scheme) {
    switch (scheme) {
        case compression::none: return {data.begin(), data.end()};
        case compression::lz4: return lz4_frame(data);
        case compression::byte_grouping4_lz4: {
            std::vector<std::uint8_t> grouped(data.size());
            bg4_split(data, grouped);
            return lz4_frame(grouped);
        }
    }
    throw std::invalid_argument("unknown compression scheme");
}

void bg4_stats::add(std::span<const std::uint8_t> data) noexcept {
    const std::size_t n4 = data.size() / 4 * 4;
    const std::uint8_t* p = data.data();
    for (std::size_t i = 0; i < n4; i += 4) {
        ++hist[0][popcounts[p[i]]];
        ++hist[1][popcounts[p[i + 1]]];
        ++hist[2][popcounts[p[i + 2]]];
        ++hist[3][popcounts[p[i + 3]]];
    }
    for (std::size_t i = n4; i < data.size(); ++i) ++hist[i % 4][popcounts[p[i]]];
}

double bg4_stats::max_divergence() const noexcept {
    // The pooled histogram starts each bin at 1, so that no bin of it has probability zero.
    std::array<double, 9> pooled{};
    pooled.fill(1.0);
    std::array<double, 4> totals{};
    for (std::size_t g = 0; g < 4; ++g)
        for (std::size_t b = 0; b < 9; ++b) {
            pooled[b] += hist[g][b];
            totals[g] += hist[g][b];
        }
    const double pooled_total = totals[0] + totals[1] + totals[2] + totals[3] + 9.0;
    double worst = 0;
    for (std::size_t g = 0; g < 4; ++g) {
        if (totals[g] == 0) continue;
        double d = 0;
        for (std::size_t b = 0; b < 9; ++b) {
            if (hist[g][b] == 0) continue;
            const double p = hist[g][b] / totals[g];
            d += p * std::log(p / (pooled[b] / pooled_total));
        }
        worst = std::max(worst, d);
    }
    return worst;
}

compression predict_compression(std::span<const std::uint8_t> data) noexcept {
    // A quarter of a big chunk is plenty of samples (thousands per position), at a quarter of
    // the cost: 64-byte runs every 256 bytes, each starting at position 0 mod 4.
    constexpr std::size_t run = 64, stride = 256, sample_from = 16 * 1024;
    bg4_stats s;
    if (data.size() < sample_from) {
        s.add(data);
    } else {
        for (std::size_t at = 0; at < data.size(); at += stride) s.add(data.subspan(at, std::min(run, data.size() - at)));
    }
    return s.max_divergence() > 0.02 ? compression::byte_grouping4_lz4 : compression::lz4;
}

result<void> decompress_chunk(std::span<const std::uint8_t> payload, compression scheme,
                              std::uint32_t uncompressed_size, std::vector<std::uint8_t>& out) {
    const std::size_t start = out.size();
    switch (scheme) {
        case compression::none:
            if (payload.size() != uncompressed_size) return errc::decompression_failed;
            out.insert(out.end(), payload.begin(), payload.end());
            return {};
        case compression::lz4:
            out.resize(start + uncompressed_size);
            if (!lz4_unframe(payload, std::span(out).subspan(start))) {
                out.resize(start);
                return errc::decompression_failed;
            }
            return {};
        case compression::byte_grouping4_lz4: {
            std::vector<std::uint8_t> grouped(uncompressed_size);
            if (!lz4_unframe(payload, grouped)) return errc::decompression_failed;
            out.resize(start + uncompressed_size);
            bg4_join(grouped, std::span(out).subspan(start));
            return {};
        }
    }
    return errc::unknown_compression;
}

xorb_builder::xorb_builder(compression_policy policy) : policy_(policy) {}

bool xorb_builder::add_chunk(std::span<const std::uint8_t> data) { return add_chunk(data, chunk_hash(data)); }

bool xorb_builder::add_chunk(std::span<const std::uint8_t> data, const merkle_hash& hash) {
    if (data.empty() || data.size() > max_chunk_size)
        throw std::invalid_argument("xorb chunk of " + std::to_string(data.size()) + " bytes (1..128 KiB)");
    if (chunks_.size() >= max_xorb_chunks) return false;
    // Pick the payload: the compressed form (the smaller of the two the policy tries), raw when
    // compressing doesn't shrink the chunk.
    compression scheme = compression::none;
    std::span<const std::uint8_t> payload = data;
    auto consider = [&](compression s, std::vector<std::uint8_t>& buf) {
        std::span<const std::uint8_t> src = data;
        if (s == compression::byte_grouping4_lz4) {
            if (grouped_.size() < data.size()) grouped_.resize(max_chunk_size);
            bg4_split(data, std::span(grouped_).first(data.size()));
            src = std::span(grouped_).first(data.size());
        }
        const std::size_t n = lz4_frame_into(src, buf);
        if (n < payload.size()) {
            scheme = s;
            payload = std::span(buf).first(n);
        }
    };
    switch (policy_) {
        case compression_policy::automatic: consider(predict_compression(data), packed_); break;
        case compression_policy::smallest:
            consider(compression::lz4, packed_);
            consider(compression::byte_grouping4_lz4, packed2_);
            break;
        case compression_policy::lz4: consider(compression::lz4, packed_); break;
        case compression_policy::byte_grouping4_lz4: consider(compression::byte_grouping4_lz4, packed_); break;
        case compression_policy::none: break;
    }
    const std::size_t size = chunk_header_size + payload.size();
    if (bytes_.size() + size > max_xorb_size) return false;
    chunk_header h{chunk_header_version, static_cast<std::uint32_t>(payload.size()), scheme,
                   static_cast<std::uint32_t>(data.size())};
    auto hb = encode_chunk_header(h);
    xorb_chunk c;
    c.hash = hash;
    c.offset = static_cast<std::uint32_t>(bytes_.size());
    c.serialized_size = static_cast<std::uint32_t>(size);
    c.scheme = scheme;
    c.unpacked_offset = static_cast<std::uint32_t>(unpacked_);
    c.size = static_cast<std::uint32_t>(data.size());
    // Room for a full xorb at once: growing by doubling would copy and fault in the bytes again
    // (only the pages written are ever backed by memory).
    if (bytes_.capacity() == 0) bytes_.reserve(max_xorb_size);
    bytes_.insert(bytes_.end(), hb.begin(), hb.end());
    bytes_.insert(bytes_.end(), payload.begin(), payload.end());
    chunks_.push_back(c);
    unpacked_ += data.size();
    return true;
}

void xorb_builder::reuse(std::vector<std::uint8_t> buf) noexcept {
    if (!chunks_.empty()) return;
    buf.clear();
    bytes_ = std::move(buf);
}

built_xorb xorb_builder::finish() {
    built_xorb out;
    std::vector<hash_and_size> leaves;
    leaves.reserve(chunks_.size());
    for (const auto& c : chunks_) leaves.push_back({c.hash, c.size});
    out.hash = xorb_hash(leaves);
    out.bytes = std::move(bytes_);
    out.chunks = std::move(chunks_);
    out.unpacked_size = unpacked_;
    bytes_ = {};
    chunks_ = {};
    unpacked_ = 0;
    return out;
}

result<parsed_chunks> parse_chunks(std::span<const std::uint8_t> bytes, const parse_options& opts) {
    parsed_chunks out;
    std::vector<std::uint8_t> scratch;
    std::size_t pos = 0;
    std::uint64_t unpacked = 0;
    while (pos < bytes.size()) {
        auto rest = bytes.subspan(pos);
        if (opts.allow_footer && rest.size() >= 7 && std::memcmp(rest.data(), footer_ident, 7) == 0) break;
        auto h = decode_chunk_header(rest);
        if (!h) return h.error();
        if (rest.size() - chunk_header_size < h->compressed_size) return errc::truncated;
        if (out.chunks.size() >= opts.max_chunks) return errc::xorb_too_large;
        if (unpacked + h->uncompressed_size > 0xFFFFFFFFu) return errc::xorb_too_large;
        auto payload = rest.subspan(chunk_header_size, h->compressed_size);
        std::vector<std::uint8_t>& sink = opts.keep_data ? out.data : scratch;
        if (!opts.keep_data) scratch.clear();
        const std::size_t at = sink.size();
        if (auto r = decompress_chunk(payload, h->scheme, h->uncompressed_size, sink); !r) return r.error();
        xorb_chunk c;
        c.hash = chunk_hash(std::span(sink).subspan(at, h->uncompressed_size));
        c.offset = static_cast<std::uint32_t>(pos);
        c.serialized_size = static_cast<std::uint32_t>(chunk_header_size + h->compressed_size);
        c.scheme = h->scheme;
        c.unpacked_offset = static_cast<std::uint32_t>(unpacked);
        c.size = h->uncompressed_size;
        out.chunks.push_back(c);
        unpacked += h->uncompressed_size;
        pos += c.serialized_size;
    }
    if (opts.expected_chunks && out.chunks.size() != *opts.expected_chunks) return errc::chunk_count_mismatch;
    return out;
}

result<parsed_xorb> parse_xorb(std::span<const std::uint8_t> bytes, const parse_options& opts) {
    if (bytes.size() > opts.max_size) return errc::xorb_too_large;
    auto chunks = parse_chunks(bytes, opts);
    if (!chunks) return chunks.error();
    if (chunks->chunks.empty()) return errc::truncated;
    parsed_xorb out;
    std::vector<hash_and_size> leaves;
    leaves.reserve(chunks->chunks.size());
    for (const auto& c : chunks->chunks) {
        leaves.push_back({c.hash, c.size});
        out.unpacked_size += c.size;
    }
    out.hash = xorb_hash(leaves);
    if (opts.expected_hash && out.hash != *opts.expected_hash) return errc::hash_mismatch;
    out.chunks = std::move(*chunks);
    return out;
}

}  // namespace hfhub::xet
