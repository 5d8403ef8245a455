#include "xet/xorb.hpp"

#include <algorithm>
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

// One LZ4 frame: 64 KiB independent blocks, no checksums (what lz4_flex writes by default).
std::vector<std::uint8_t> lz4_frame(std::span<const std::uint8_t> data) {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    std::vector<std::uint8_t> out(LZ4F_compressFrameBound(data.size(), &prefs));
    std::size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &prefs);
    if (LZ4F_isError(n)) throw std::runtime_error(std::string("LZ4 compression failed: ") + LZ4F_getErrorName(n));
    out.resize(n);
    return out;
}

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
    const std::size_t n = in.size();
    const std::size_t q = n / 4;
    const std::size_t r = n % 4;
    std::size_t pos = 0;
    for (std::size_t g = 0; g < 4; ++g) {
        const std::size_t len = q + (g < r ? 1 : 0);
        for (std::size_t i = 0; i < len; ++i) out[pos + i] = in[i * 4 + g];
        pos += len;
    }
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
    // Pick the payload: the smaller compressed form, raw when compressing doesn't help.
    compression scheme = compression::none;
    std::vector<std::uint8_t> packed;
    auto consider = [&](compression s) {
        auto c = compress_chunk(data, s);
        if (c.size() < data.size() && (scheme == compression::none || c.size() < packed.size())) {
            scheme = s;
            packed = std::move(c);
        }
    };
    switch (policy_) {
        case compression_policy::automatic:
            consider(compression::lz4);
            consider(compression::byte_grouping4_lz4);
            break;
        case compression_policy::lz4: consider(compression::lz4); break;
        case compression_policy::byte_grouping4_lz4: consider(compression::byte_grouping4_lz4); break;
        case compression_policy::none: break;
    }
    std::span<const std::uint8_t> payload = scheme == compression::none ? data : std::span<const std::uint8_t>(packed);
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
    bytes_.insert(bytes_.end(), hb.begin(), hb.end());
    bytes_.insert(bytes_.end(), payload.begin(), payload.end());
    chunks_.push_back(c);
    unpacked_ += data.size();
    return true;
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
