// Big LFS files for download tests, written straight into a server's store (uploading hundreds
// of MiB through the API would only slow the tests down): a seeded stream in which every 8 bytes
// differ, so bytes put at the wrong offset never hash right.
#pragma once

#include "util/hash.hpp"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace hfhub::test {

struct big_object {
    std::string sha256;
    std::uint64_t size = 0;
};

// splitmix64 over the word index: any stretch of the stream can be made on its own.
inline std::uint64_t big_word(std::uint64_t seed, std::uint64_t index) {
    std::uint64_t z = seed * 0x9e3779b97f4a7c15ull + index + 1;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Bytes [offset, offset + n) of the stream (offset a multiple of 8).
inline void big_bytes(std::uint64_t seed, std::uint64_t offset, char* out, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 8) {
        std::uint64_t w = big_word(seed, (offset + i) / 8);
        std::memcpy(out + i, &w, std::min<std::size_t>(8, n - i));
    }
}

// Stores `size` bytes of stream `seed` as an LFS object under `server_root`/lfs, and records it as
// uploaded through model repo `repo_id` (which must exist), as the server does after a PUT.
inline big_object put_big_object(const std::filesystem::path& server_root, std::uint64_t size, std::uint64_t seed,
                                 const std::string& repo_id) {
    namespace fs = std::filesystem;
    fs::create_directories(server_root / "lfs");
    fs::path tmp = server_root / "lfs" / ("big." + std::to_string(seed) + ".tmp");
    util::hasher h(util::hash_algo::sha256);
    {
        std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
        std::vector<char> buf(4 << 20);
        for (std::uint64_t at = 0; at < size; at += buf.size()) {
            auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
            big_bytes(seed, at, buf.data(), n);
            h.update(buf.data(), n);
            f.write(buf.data(), static_cast<std::streamsize>(n));
        }
        if (!f) throw std::runtime_error("writing " + tmp.string());
    }
    big_object o{h.hex_digest(), size};
    fs::create_directories(server_root / "lfs" / o.sha256.substr(0, 2));
    fs::rename(tmp, server_root / "lfs" / o.sha256.substr(0, 2) / o.sha256);
    std::ofstream(server_root / "repos" / "models" / repo_id / "lfs-grants", std::ios::app) << o.sha256 << "\n";
    return o;
}

// The sha256 of a file, or "" when it can't be read.
inline std::string sha256_of_file(const std::filesystem::path& p) {
    std::ifstream f(p, std::ios::binary);
    if (!f) return {};
    util::hasher h(util::hash_algo::sha256);
    std::vector<char> buf(4 << 20);
    while (f) {
        f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
        h.update(buf.data(), static_cast<std::size_t>(f.gcount()));
    }
    return h.hex_digest();
}

}  // namespace hfhub::test
