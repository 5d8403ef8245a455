// Deterministic test bytes for the Xet suites: xorshift32, one byte per step, the same stream
// test/interop/xet_vectors.mjs generates, so C++ and the JS client see identical inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace hfhub::xet::test {

inline std::vector<std::uint8_t> pseudo_random(std::size_t n, std::uint32_t seed) {
    std::vector<std::uint8_t> out(n);
    std::uint32_t x = seed;
    for (auto& b : out) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b = static_cast<std::uint8_t>(x);
    }
    return out;
}

}  // namespace hfhub::xet::test
