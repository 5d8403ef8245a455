// Xet's CPU-bound steps on 256 MiB of pseudo-random bytes (or --mib N): content-defined
// chunking alone, then chunk hashing (keyed BLAKE3 of every chunk), in MB/s; then building
// xorbs from those chunks with each compression policy, on the random bytes and on float32
// tensor-like bytes (where byte grouping pays). Compare with the JS client, whose chunker and
// hasher are in test/interop/node_modules/@huggingface/xetchunk-wasm.
#include "xet/chunker.hpp"
#include "xet/hash.hpp"
#include "xet/xorb.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

// Builds xorbs of all of `data`'s chunks with `policy`; prints MB/s and the size ratio.
void build(const char* what, const std::vector<std::uint8_t>& data, const std::vector<std::uint64_t>& ends,
           hfhub::xet::compression_policy policy) {
    auto t0 = clock_type::now();
    hfhub::xet::xorb_builder b(policy);
    std::uint64_t start = 0, out = 0;
    std::size_t counts[3] = {0, 0, 0};
    auto flush = [&] {
        auto x = b.finish();
        out += x.bytes.size();
        for (auto& c : x.chunks) ++counts[static_cast<int>(c.scheme)];
    };
    hfhub::xet::merkle_hash h{};  // the hash is not what this measures
    for (auto end : ends) {
        auto chunk = std::span(data).subspan(start, end - start);
        if (!b.add_chunk(chunk, h)) {
            flush();
            b.add_chunk(chunk, h);
        }
        start = end;
    }
    flush();
    double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    std::printf("xorbs, %-16s %8.1f MB/s  %5.1f%% of the bytes  (chunks none/lz4/bg4: %zu/%zu/%zu)\n", what,
                static_cast<double>(data.size()) / 1e6 / s, 100.0 * static_cast<double>(out) / static_cast<double>(data.size()),
                counts[0], counts[1], counts[2]);
}

}  // namespace

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
    auto mbs = [&](clock_type::duration d) { return static_cast<double>(data.size()) / 1e6 / std::chrono::duration<double>(d).count(); };

    auto t0 = clock_type::now();
    auto ends = hfhub::xet::chunk_ends(data);
    auto t1 = clock_type::now();
    std::uint64_t start = 0;
    std::uint8_t sink = 0;
    for (auto end : ends) {
        sink ^= hfhub::xet::chunk_hash(std::span(data).subspan(start, end - start)).bytes[0];
        start = end;
    }
    auto t2 = clock_type::now();
    std::printf("xet_chunk: %zu MiB, %zu chunks (mean %zu bytes)\n", mib, ends.size(), ends.empty() ? 0 : data.size() / ends.size());
    std::printf("chunking:      %8.1f MB/s\n", mbs(t1 - t0));
    std::printf("chunk hashing: %8.1f MB/s\n", mbs(t2 - t1));
    std::printf("both:          %8.1f MB/s   (%u)\n", mbs(t2 - t0), static_cast<unsigned>(sink));

    {
        auto p0 = clock_type::now();
        std::size_t bg4 = 0;
        std::uint64_t at = 0;
        for (auto end : ends) {
            bg4 += hfhub::xet::predict_compression(std::span(data).subspan(at, end - at)) == hfhub::xet::compression::byte_grouping4_lz4;
            at = end;
        }
        std::printf("prediction:    %8.1f MB/s   (%zu chunks predicted bg4)\n", mbs(clock_type::now() - p0), bg4);
    }

    using hfhub::xet::compression_policy;
    build("random, auto", data, ends, compression_policy::automatic);
    build("random, smallest", data, ends, compression_policy::smallest);
    build("random, lz4", data, ends, compression_policy::lz4);
    build("random, none", data, ends, compression_policy::none);

    // Float32 weights of a small spread: the exponent bytes repeat, the mantissa bytes don't.
    std::vector<std::uint8_t> floats(data.size());
    for (std::size_t i = 0; i + 4 <= floats.size(); i += 4) {
        std::uint32_t r;
        std::memcpy(&r, data.data() + i, 4);
        float f = static_cast<float>((static_cast<double>(r) / 4294967296.0 - 0.5) * 0.02);
        std::memcpy(floats.data() + i, &f, 4);
    }
    auto fends = hfhub::xet::chunk_ends(floats);
    build("floats, auto", floats, fends, compression_policy::automatic);
    build("floats, smallest", floats, fends, compression_policy::smallest);
    build("floats, lz4", floats, fends, compression_policy::lz4);
    build("floats, bg4", floats, fends, compression_policy::byte_grouping4_lz4);
}
