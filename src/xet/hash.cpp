#include "xet/hash.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>

#include "blake3.h"

namespace hfhub::xet {

// hashing.md; the same bytes as xet-core's DATA_KEY, INTERNAL_NODE_HASH and VERIFICATION_KEY.
const hash_key data_key{102, 151, 245, 119, 91,  149, 80,  222, 49,  53,  203, 172, 165, 151, 24,  28,
                        157, 228, 33,  16,  155, 235, 43,  88,  180, 208, 176, 75,  147, 173, 242, 41};
const hash_key internal_node_key{1,   126, 197, 199, 165, 71,  41,  150, 253, 148, 102, 102, 180, 138, 2,   230,
                                 93,  221, 83,  111, 55,  199, 109, 210, 248, 99,  82,  230, 74,  83,  113, 63};
const hash_key verification_key{127, 24,  87,  214, 206, 86,  237, 102, 18,  127, 249, 19,  231, 165, 195, 243,
                                164, 205, 38,  213, 181, 219, 73,  230, 65,  36,  152, 127, 40,  251, 148, 195};

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Writes the spec's string form of h (64 chars) at out.
void write_hex(const merkle_hash& h, char* out) noexcept {
    for (std::size_t group = 0; group < 4; ++group) {
        for (std::size_t i = 0; i < 8; ++i) {
            std::uint8_t b = h.bytes[group * 8 + 7 - i];
            *out++ = hex_digits[b >> 4];
            *out++ = hex_digits[b & 15];
        }
    }
}

// The last u64 of the hash, little-endian: what xet-core's `hash % 4` reads.
std::uint64_t last_word(const merkle_hash& h) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | h.bytes[24 + static_cast<std::size_t>(i)];
    return v;
}

}  // namespace

hash_and_size merge_nodes(std::span<const hash_and_size> children) noexcept {
    // 64 hex + " : " + up to 20 digits + "\n" per child, at most 9 children.
    char buf[9 * 88];
    std::size_t pos = 0;
    std::uint64_t total = 0;
    for (const auto& c : children) {
        write_hex(c.hash, buf + pos);
        pos += 64;
        buf[pos++] = ' ';
        buf[pos++] = ':';
        buf[pos++] = ' ';
        pos += static_cast<std::size_t>(std::snprintf(buf + pos, 21, "%llu", static_cast<unsigned long long>(c.size)));
        buf[pos++] = '\n';
        total += c.size;
    }
    return {keyed_hash(internal_node_key, {reinterpret_cast<const std::uint8_t*>(buf), pos}), total};
}

bool is_natural_cut(const merkle_hash& h) noexcept { return last_word(h) % 4 == 0; }

std::size_t next_merge_cut(std::span<const hash_and_size> nodes) noexcept {
    if (nodes.size() <= 2) return nodes.size();
    std::size_t end = std::min<std::size_t>(9, nodes.size());
    for (std::size_t i = 2; i < end; ++i) {
        if (is_natural_cut(nodes[i].hash)) return i + 1;
    }
    return end;
}

bool merkle_hash::is_zero() const noexcept {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

bool merkle_hash::is_marker() const noexcept {
    return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0xFF; });
}

std::string merkle_hash::hex() const {
    std::string s(64, '0');
    write_hex(*this, s.data());
    return s;
}

result<merkle_hash> merkle_hash::from_hex(std::string_view s) noexcept {
    if (s.size() != 64) return errc::invalid_hash;
    merkle_hash h;
    for (std::size_t group = 0; group < 4; ++group) {
        for (std::size_t i = 0; i < 8; ++i) {
            int hi = hex_value(s[group * 16 + i * 2]);
            int lo = hex_value(s[group * 16 + i * 2 + 1]);
            if (hi < 0 || lo < 0) return errc::invalid_hash;
            h.bytes[group * 8 + 7 - i] = static_cast<std::uint8_t>(hi * 16 + lo);
        }
    }
    return h;
}

result<merkle_hash> merkle_hash::from_bytes(std::span<const std::uint8_t> raw) noexcept {
    if (raw.size() != 32) return errc::invalid_hash;
    merkle_hash h;
    std::copy(raw.begin(), raw.end(), h.bytes.begin());
    return h;
}

std::ostream& operator<<(std::ostream& os, const merkle_hash& h) { return os << h.hex(); }

merkle_hash merkle_hash::marker() noexcept {
    merkle_hash h;
    h.bytes.fill(0xFF);
    return h;
}

merkle_hash keyed_hash(const hash_key& key, std::span<const std::uint8_t> data) noexcept {
    blake3_hasher hasher;
    blake3_hasher_init_keyed(&hasher, key.data());
    blake3_hasher_update(&hasher, data.data(), data.size());
    merkle_hash h;
    blake3_hasher_finalize(&hasher, h.bytes.data(), h.bytes.size());
    return h;
}

merkle_hash chunk_hash(std::span<const std::uint8_t> data) noexcept { return keyed_hash(data_key, data); }

merkle_hash xorb_hash(std::span<const hash_and_size> chunks) {
    if (chunks.empty()) return {};
    std::vector<hash_and_size> level(chunks.begin(), chunks.end());
    while (level.size() > 1) {
        std::size_t write = 0;
        std::size_t read = 0;
        while (read != level.size()) {
            std::size_t n = next_merge_cut(std::span(level).subspan(read));
            level[write++] = merge_nodes(std::span(level).subspan(read, n));
            read += n;
        }
        level.resize(write);
    }
    return level[0].hash;
}

merkle_hash file_hash_with_salt(std::span<const hash_and_size> chunks, const hash_key& salt) {
    if (chunks.empty()) return {};
    merkle_hash root = xorb_hash(chunks);
    return keyed_hash(salt, root.bytes);
}

merkle_hash file_hash(std::span<const hash_and_size> chunks) { return file_hash_with_salt(chunks, hash_key{}); }

merkle_hash verification_hash(std::span<const merkle_hash> chunk_hashes) noexcept {
    blake3_hasher hasher;
    blake3_hasher_init_keyed(&hasher, verification_key.data());
    for (const auto& h : chunk_hashes) blake3_hasher_update(&hasher, h.bytes.data(), h.bytes.size());
    merkle_hash out;
    blake3_hasher_finalize(&hasher, out.bytes.data(), out.bytes.size());
    return out;
}

merkle_hash keyed_chunk_hash(const merkle_hash& chunk_hash, const hash_key& hmac_key) noexcept {
    return keyed_hash(hmac_key, chunk_hash.bytes);
}

struct keyed_hasher::impl {
    hash_key key;
    blake3_hasher hasher;
};

keyed_hasher::keyed_hasher(const hash_key& key) : impl_(std::make_unique<impl>()) {
    impl_->key = key;
    blake3_hasher_init_keyed(&impl_->hasher, key.data());
}
keyed_hasher::keyed_hasher(keyed_hasher&&) noexcept = default;
keyed_hasher& keyed_hasher::operator=(keyed_hasher&&) noexcept = default;
keyed_hasher::~keyed_hasher() = default;

void keyed_hasher::update(std::span<const std::uint8_t> data) noexcept {
    blake3_hasher_update(&impl_->hasher, data.data(), data.size());
}

merkle_hash keyed_hasher::finalize() const noexcept {
    merkle_hash h;
    blake3_hasher_finalize(&impl_->hasher, h.bytes.data(), h.bytes.size());
    return h;
}

void keyed_hasher::reset() noexcept { blake3_hasher_init_keyed(&impl_->hasher, impl_->key.data()); }

}  // namespace hfhub::xet
