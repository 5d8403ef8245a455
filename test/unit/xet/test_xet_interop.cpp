// hfhub's Xet formats against the JS client's own (test/interop/xet_vectors.mjs): the same
// chunks, chunk/xorb/file/verification hashes for the same inputs, and the xorb and shard the
// JS client would upload parse here into the files it was given. Runs when HFHUB_NODE and
// HFHUB_INTEROP_DIR point at node and a test/interop with node_modules (ctest xet_interop).
#include "xet/chunker.hpp"
#include "xet/shard.hpp"
#include "xet/xorb.hpp"

#include "test_server.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>
#include "xet_test_data.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace hfhub::xet;

using hfhub::xet::test::pseudo_random;

namespace {

// The script's inputs, by name.
std::map<std::string, std::vector<std::uint8_t>> inputs() {
    std::map<std::string, std::vector<std::uint8_t>> m;
    m["empty"] = {};
    m["small"] = pseudo_random(5000, 11);
    m["zeros"] = std::vector<std::uint8_t>(300 * 1024);
    auto mixed = pseudo_random(3 * 1024 * 1024, 12);
    std::fill(mixed.begin() + 700000, mixed.begin() + 1000000, 0);
    m["mixed"] = std::move(mixed);
    m["random"] = pseudo_random(5 * 1024 * 1024 + 777, 13);
    return m;
}

// The JS client's chunker (@huggingface/xetchunk-wasm 0.1.0, in @huggingface/hub 2.15.0) takes
// a gear match anywhere after the skipped prefix of a chunk, without xet-core's check that the
// chunk has reached min_chunk_size: a match within the first 64 hashed bytes ends a chunk of
// 8128..8191 bytes. 20 of the 256 gear-table entries have their top 16 bits clear, so about one
// chunk in 13 ends at once, 8128 bytes long. Its rule, to compare the JS output with exactly.
std::vector<chunk_span> js_rule_chunks(const std::vector<std::uint8_t>& data) {
    std::vector<chunk_span> out;
    std::size_t start = 0;
    while (start < data.size()) {
        std::uint64_t h = 0;
        std::size_t i = start + (min_chunk_size - 64 - 1);
        std::size_t end = 0;
        for (; i < data.size() && i - start < max_chunk_size;) {
            h = (h << 1) + gear_table[data[i++]];
            if ((h & chunk_boundary_mask) == 0) {
                end = i;
                break;
            }
        }
        if (end == 0) end = i - start >= max_chunk_size ? start + max_chunk_size : data.size();
        auto bytes = std::span(data).subspan(start, end - start);
        out.push_back({start, static_cast<std::uint32_t>(bytes.size()), chunk_hash(bytes)});
        start = end;
    }
    return out;
}

bool same_boundaries(const std::vector<chunk_span>& a, const std::vector<chunk_span>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].offset != b[i].offset || a[i].size != b[i].size) return false;
    return true;
}

std::vector<std::uint8_t> slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_interop)

BOOST_AUTO_TEST_CASE(the_js_client_agrees) {
    const char* node = std::getenv("HFHUB_NODE");
    const char* dir = std::getenv("HFHUB_INTEROP_DIR");
    if (!node || !dir || !*node || !*dir || !fs::exists(fs::path(dir) / "node_modules" / "@huggingface" / "hub")) {
        BOOST_TEST_MESSAGE("node or test/interop/node_modules missing: the JS cross-check was skipped");
        return;
    }
    hfhub::test::temp_dir tmp;
    std::string cmd = std::string("cd '") + dir + "' && '" + node + "' xet_vectors.mjs '" + tmp.path().string() +
                      "' 2>'" + (tmp.path() / "stderr").string() + "'";
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    BOOST_REQUIRE(p);
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    int rc = ::pclose(p);
    auto err = slurp(tmp.path() / "stderr");
    BOOST_REQUIRE_MESSAGE(rc == 0, "xet_vectors.mjs failed: " << std::string(err.begin(), err.end()));
    json::value doc = json::parse(out);

    auto data = inputs();
    std::size_t same_as_spec = 0;
    const auto& cases = doc.at("cases").as_array();
    BOOST_TEST(cases.size() == data.size());
    for (const auto& c : cases) {
        std::string name = str(c.at("name"));
        BOOST_TEST_CONTEXT("case " << name) {
            const auto& bytes = data.at(name);
            BOOST_TEST(c.at("size").to_number<std::size_t>() == bytes.size());
            // hfhub follows the spec and xet-core; where the JS rule cuts the same chunks, the
            // JS output must be hfhub's, and it must always be the JS rule's.
            auto spec = chunk_buffer(bytes);
            auto mine = js_rule_chunks(bytes);
            if (same_boundaries(spec, mine)) {
                ++same_as_spec;
            } else {
                std::size_t short_chunks = 0;
                for (std::size_t i = 0; i + 1 < mine.size(); ++i) short_chunks += mine[i].size < min_chunk_size;
                BOOST_TEST(short_chunks > 0u);  // the only way the two rules part
                BOOST_TEST_MESSAGE(name << ": the JS client cut " << short_chunks << " chunk(s) under 8 KiB of "
                                        << mine.size() << "; hfhub cuts " << spec.size());
            }
            const auto& js = c.at("chunks").as_array();
            BOOST_REQUIRE(mine.size() == js.size());
            std::vector<hash_and_size> leaves;
            std::vector<merkle_hash> hashes;
            for (std::size_t i = 0; i < mine.size(); ++i) {
                BOOST_TEST(mine[i].size == js[i].as_array()[0].to_number<std::uint32_t>(), "chunk " << i);
                BOOST_TEST(mine[i].hash.hex() == str(js[i].as_array()[1]), "chunk " << i);
                leaves.push_back({mine[i].hash, mine[i].size});
                hashes.push_back(mine[i].hash);
            }
            BOOST_TEST(xorb_hash(leaves).hex() == str(c.at("xorb_hash")));
            BOOST_TEST(file_hash(leaves).hex() == str(c.at("file_hash")));
            BOOST_TEST(verification_hash(hashes).hex() == str(c.at("verification_hash")));
        }
    }
    // empty, small (one chunk under 8 KiB) and zeros (cuts at 128 KiB) chunk alike by both rules.
    BOOST_TEST(same_as_spec >= 3u);

    // What the JS client uploads: every xorb parses to its hash; the shard's files rebuild
    // from those xorbs into the inputs, with the verification hashes and sha256 they need.
    const auto& up = doc.at("upload").as_object();
    std::map<merkle_hash, parsed_xorb> xorbs;
    for (const auto& x : up.at("xorbs").as_array()) {
        auto hash = merkle_hash::from_hex(str(x.at("hash"))).value();
        auto body = slurp(str(x.at("path")));
        BOOST_TEST(body.size() == x.at("size").to_number<std::size_t>());
        auto parsed = parse_xorb(body, {.expected_hash = hash});
        BOOST_REQUIRE_MESSAGE(parsed.has_value(), "JS xorb " << hash << ": " << parsed.error().message());
        xorbs.emplace(hash, std::move(*parsed));
    }
    BOOST_REQUIRE(!xorbs.empty());
    const auto& shards = up.at("shards").as_array();
    BOOST_REQUIRE(shards.size() == 1u);
    auto shard_bytes = slurp(str(shards[0].at("path")));
    auto s = parse_shard(shard_bytes);
    BOOST_REQUIRE_MESSAGE(s.has_value(), "JS shard: " << s.error().message());
    BOOST_TEST(s->footer.has_value());  // the JS client sends one, unlike xet-core
    BOOST_TEST(s->xorbs.size() == xorbs.size());
    for (const auto& x : s->xorbs) {
        auto it = xorbs.find(x.cas_hash);
        BOOST_REQUIRE(it != xorbs.end());
        const auto& px = it->second;
        BOOST_TEST(x.num_bytes_in_cas == px.unpacked_size);
        BOOST_REQUIRE(x.chunks.size() == px.chunks.chunks.size());
        // The CAS info the JS client writes is what make_cas_info gives for its xorb.
        std::uint32_t on_disk = 0;
        for (const auto& c : px.chunks.chunks) on_disk += c.serialized_size;
        auto mine = make_cas_info(x.cas_hash, px.chunks.chunks, on_disk);
        BOOST_TEST(x.num_bytes_on_disk == mine.num_bytes_on_disk);
        for (std::size_t i = 0; i < x.chunks.size(); ++i) {
            BOOST_TEST((x.chunks[i].chunk_hash == mine.chunks[i].chunk_hash));
            BOOST_TEST(x.chunks[i].chunk_byte_range_start == mine.chunks[i].chunk_byte_range_start);
            BOOST_TEST(x.chunks[i].unpacked_segment_bytes == mine.chunks[i].unpacked_segment_bytes);
        }
    }
    const auto& files = up.at("files").as_array();
    BOOST_REQUIRE(s->files.size() == files.size());
    for (std::size_t f = 0; f < files.size(); ++f) {
        std::string name = str(files[f].at("path"));
        BOOST_TEST_CONTEXT("file " << name) {
            const auto& fi = s->files[f];
            const auto& bytes = data.at(name);
            BOOST_TEST(fi.file_hash.hex() == str(files[f].at("hash")));
            std::vector<hash_and_size> leaves;
            for (auto& c : js_rule_chunks(bytes)) leaves.push_back({c.hash, c.size});
            BOOST_TEST((fi.file_hash == file_hash(leaves)));
            BOOST_REQUIRE(fi.sha256.has_value());
            BOOST_TEST(fi.sha256->hex() == str(files[f].at("sha256")));
            BOOST_TEST(fi.sha256->hex() == hfhub::util::sha256_hex({reinterpret_cast<const char*>(bytes.data()), bytes.size()}));
            BOOST_REQUIRE(fi.verification.size() == fi.entries.size());
            std::vector<std::uint8_t> rebuilt;
            for (std::size_t t = 0; t < fi.entries.size(); ++t) {
                const auto& e = fi.entries[t];
                auto it = xorbs.find(e.cas_hash);
                BOOST_REQUIRE(it != xorbs.end());
                const auto& pc = it->second.chunks;
                BOOST_REQUIRE(e.chunk_index_start < e.chunk_index_end);
                BOOST_REQUIRE(e.chunk_index_end <= pc.chunks.size());
                std::vector<merkle_hash> range;
                std::uint64_t term = 0;
                for (std::uint32_t i = e.chunk_index_start; i < e.chunk_index_end; ++i) {
                    range.push_back(pc.chunks[i].hash);
                    auto d = pc.chunk_data(i);
                    rebuilt.insert(rebuilt.end(), d.begin(), d.end());
                    term += d.size();
                }
                BOOST_TEST(e.unpacked_segment_bytes == term);
                BOOST_TEST((fi.verification[t] == verification_hash(range)));
            }
            BOOST_TEST(rebuilt.size() == bytes.size());
            BOOST_TEST((rebuilt == bytes));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
