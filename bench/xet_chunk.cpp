// Xet's CPU-bound steps on 256 MiB of pseudo-random bytes (or --mib N): content-defined
// chunking alone, then chunk hashing (keyed BLAKE3 of every chunk), in MB/s. Compare with the
// JS client, whose chunker and hasher are in test/interop/node_modules/@huggingface/xetchunk-wasm.
#include "xet/chunker.hpp"
#include "xet/hash.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv) {
    std::size_t mib = 256;
    if (argc == 3 && std::strcmp(argv[1], "--mib") == 0) mib = static_cast<std::size_t>(std::atoll(argv[2]));
    std::vector<std::uint8_t> data(mib << 20);
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    for (std::size_t i = 0; i + 8 <= data.size(); i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(data.data() + i, &x, 8);
    }
    using clock = std::chrono::steady_clock;
    auto mbs = [&](clock::duration d) { return static_cast<double>(data.size()) / 1e6 / std::chrono::duration<double>(d).count(); };

    auto t0 = clock::now();
    auto ends = hfhub::xet::chunk_ends(data);
    auto t1 = clock::now();
    std::uint64_t start = 0;
    std::uint8_t sink = 0;
    for (auto end : ends) {
        sink ^= hfhub::xet::chunk_hash(std::span(data).subspan(start, end - start)).bytes[0];
        start = end;
    }
    auto t2 = clock::now();
    std::printf("xet_chunk: %zu MiB, %zu chunks (mean %zu bytes)\n", mib, ends.size(), ends.empty() ? 0 : data.size() / ends.size());
    std::printf("chunking:      %8.1f MB/s\n", mbs(t1 - t0));
    std::printf("chunk hashing: %8.1f MB/s\n", mbs(t2 - t1));
    std::printf("both:          %8.1f MB/s   (%u)\n", mbs(t2 - t0), static_cast<unsigned>(sink));
}
