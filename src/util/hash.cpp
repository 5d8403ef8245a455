#include "util/hash.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <boost/beast/core/detail/base64.hpp>

#include <stdexcept>

namespace hfhub::util {

struct hasher::impl {
    EVP_MD_CTX* ctx = nullptr;
    ~impl() { EVP_MD_CTX_free(ctx); }
};

hasher::hasher(hash_algo algo) : impl_(std::make_unique<impl>()) {
    impl_->ctx = EVP_MD_CTX_new();
    const EVP_MD* md = algo == hash_algo::sha1 ? EVP_sha1() : EVP_sha256();
    if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx, md, nullptr) != 1)
        throw std::runtime_error("EVP_DigestInit_ex failed");
}
hasher::hasher(hasher&&) noexcept = default;
hasher& hasher::operator=(hasher&&) noexcept = default;
hasher::~hasher() = default;

void hasher::update(const void* data, std::size_t n) {
    if (n != 0) EVP_DigestUpdate(impl_->ctx, data, n);
}

std::string hasher::hex_digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(impl_->ctx, md, &len);
    return to_hex({md, len});
}

std::string sha256_hex(std::string_view data) {
    hasher h(hash_algo::sha256);
    h.update(data);
    return h.hex_digest();
}

std::string sha1_hex(std::string_view data) {
    hasher h(hash_algo::sha1);
    h.update(data);
    return h.hex_digest();
}

git_blob_hasher::git_blob_hasher(std::uint64_t size) {
    std::string head = "blob " + std::to_string(size);
    h_.update(head.data(), head.size() + 1);  // includes the NUL
}

std::string git_blob_sha1(std::string_view content) {
    git_blob_hasher h(content.size());
    h.update(content.data(), content.size());
    return h.hex_digest();
}

std::string lfs_pointer(std::string_view sha256, std::uint64_t size) {
    std::string p = "version https://git-lfs.github.com/spec/v1\noid sha256:";
    p += sha256;
    p += "\nsize ";
    p += std::to_string(size);
    p += '\n';
    return p;
}

bool is_hex(std::string_view s, std::size_t len) {
    if (s.size() != len) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string to_hex(std::span<const unsigned char> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(bytes.size() * 2, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 0xf];
    }
    return out;
}

std::string from_hex(std::string_view hex) {
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    if (hex.size() % 2) return {};
    std::string out(hex.size() / 2, '\0');
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = val(hex[2 * i]), lo = val(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return {};
        out[i] = static_cast<char>(hi * 16 + lo);
    }
    return out;
}

std::string random_hex(std::size_t bytes) {
    std::string buf(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(buf.data()), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return to_hex({reinterpret_cast<const unsigned char*>(buf.data()), buf.size()});
}

std::string hmac_sha256_hex(std::string_view key, std::string_view msg) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &len);
    return to_hex({md, len});
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string base64_encode(std::string_view in) {
    namespace b64 = boost::beast::detail::base64;
    std::string out(b64::encoded_size(in.size()), '\0');
    out.resize(b64::encode(out.data(), in.data(), in.size()));
    return out;
}

bool base64_decode(std::string_view in, std::string& out) {
    namespace b64 = boost::beast::detail::base64;
    // Beast's decoder stops at the first invalid character; require it to consume everything
    // but padding.
    std::size_t n = in.size();
    while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r')) --n;
    in = in.substr(0, n);
    if (in.size() % 4 != 0) return false;
    out.resize(b64::decoded_size(in.size()));
    auto [written, read] = b64::decode(out.data(), in.data(), in.size());
    std::size_t pad = 0;
    while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
    if (read + pad < in.size()) return false;
    out.resize(written);
    return true;
}

}  // namespace hfhub::util
