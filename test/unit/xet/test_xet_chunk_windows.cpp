// Partial re-uploads: Merkle subtrees merge into the aggregated hash whatever the split and
// survive their JSON form; the window planner against xet-core's chunk_window_builder cases;
// and windows over real chunking that re-chunk to the new file's hash after edits.
#include "xet/chunk_windows.hpp"
#include "xet/chunker.hpp"
#include "xet/hash.hpp"
#include "xet/subtree.hpp"
#include "xet_test_data.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace hfhub::xet;
namespace json = boost::json;

namespace {

// n distinct chunk hashes with sizes 1..n.
std::vector<hash_and_size> fake_chunks(std::size_t n, std::uint32_t seed, std::uint64_t size = 0) {
    std::vector<hash_and_size> out;
    auto bytes = test::pseudo_random(n * 8, seed);
    for (std::size_t i = 0; i < n; ++i)
        out.push_back({chunk_hash(std::span(bytes).subspan(i * 8, 8)), size ? size : i + 1});
    return out;
}

merkle_subtree round_trip(const merkle_subtree& t) {
    auto text = json::serialize(t.to_json());
    auto back = merkle_subtree::from_json(json::parse(text));
    BOOST_REQUIRE(back);
    BOOST_TEST(json::serialize(back->to_json()) == text);
    return *back;
}

std::vector<hash_and_size> as_nodes(const std::vector<chunk_span>& cs) {
    std::vector<hash_and_size> out;
    for (auto& c : cs) out.push_back({c.hash, c.size});
    return out;
}

bool is_boundary(const std::vector<chunk_span>& cs, std::uint64_t at) {
    if (at == 0) return true;
    for (auto& c : cs)
        if (c.offset + c.size == at) return true;
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_chunk_windows)

BOOST_AUTO_TEST_CASE(a_closed_subtree_is_the_aggregated_hash) {
    for (std::size_t n : {0u, 1u, 2u, 3u, 5u, 9u, 10u, 17u, 64u, 300u, 2000u}) {
        auto chunks = fake_chunks(n, 7 + static_cast<std::uint32_t>(n));
        auto t = merkle_subtree::from_chunks(true, chunks, true);
        BOOST_REQUIRE(t.root().has_value());
        BOOST_TEST(*t.root() == xorb_hash(chunks), "n=" << n);
        BOOST_TEST(t.empty() == (n == 0));
        // Open on either side, it has no root yet.
        if (n) BOOST_TEST(!merkle_subtree::from_chunks(false, chunks, true).root().has_value());
        if (n) BOOST_TEST(!merkle_subtree::from_chunks(true, chunks, false).root().has_value());
    }
}

BOOST_AUTO_TEST_CASE(subtrees_merge_to_the_same_root_however_the_file_is_split) {
    std::uint32_t x = 12345;
    auto next = [&](std::uint32_t mod) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        return x % mod;
    };
    for (std::size_t n : {2u, 7u, 30u, 151u, 1200u}) {
        auto chunks = fake_chunks(n, 99 + static_cast<std::uint32_t>(n));
        const auto want = xorb_hash(chunks);
        for (int trial = 0; trial < 40; ++trial) {
            std::vector<std::size_t> cuts{0};
            std::size_t pieces = 2 + next(5);
            for (std::size_t k = 1; k < pieces; ++k) cuts.push_back(next(static_cast<std::uint32_t>(n + 1)));
            cuts.push_back(n);
            std::sort(cuts.begin(), cuts.end());
            std::optional<merkle_subtree> whole;
            for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
                std::span<const hash_and_size> part(chunks.data() + cuts[k], cuts[k + 1] - cuts[k]);
                auto t = round_trip(merkle_subtree::from_chunks(k == 0, part, k + 2 == cuts.size()));
                if (!whole) {
                    whole = t;
                } else {
                    BOOST_TEST(!whole->root().has_value());
                    BOOST_REQUIRE(!whole->merge(t));
                }
            }
            BOOST_REQUIRE(whole->root().has_value());
            BOOST_TEST(*whole->root() == want, "n=" << n << " trial " << trial);
        }
    }
}

BOOST_AUTO_TEST_CASE(an_open_subtree_is_small) {
    auto chunks = fake_chunks(20000, 5);
    auto t = merkle_subtree::from_chunks(false, chunks, false);
    auto nodes = t.to_json().at("nodes").as_array().size();
    BOOST_TEST(nodes > 0u);
    BOOST_TEST(nodes < 1000u);  // a few per level, not one per chunk
}

BOOST_AUTO_TEST_CASE(subtrees_merge_only_left_to_right_and_parse_only_when_whole) {
    auto chunks = fake_chunks(40, 3);
    std::span<const hash_and_size> all(chunks);
    auto head = merkle_subtree::from_chunks(true, all.first(20), false);
    auto tail = merkle_subtree::from_chunks(false, all.subspan(20), true);
    auto closed = merkle_subtree::from_chunks(true, all, true);
    BOOST_TEST(closed.merge(tail) == std::error_code(errc::invalid_subtree));
    auto tail2 = tail;
    BOOST_TEST(tail2.merge(head) == std::error_code(errc::invalid_subtree));
    BOOST_TEST(!head.merge(tail));
    BOOST_TEST(*head.root() == xorb_hash(chunks));

    auto good = tail.to_json();
    BOOST_TEST(merkle_subtree::from_json(good).has_value());
    auto broken = [&](auto edit) {
        json::value v = good;
        edit(v.as_object());
        return merkle_subtree::from_json(v);
    };
    BOOST_TEST(!broken([](json::object& o) { o.erase("levels"); }));
    BOOST_TEST(!broken([](json::object& o) { o["at_end"] = "yes"; }));
    BOOST_TEST(!broken([](json::object& o) { o["nodes"].as_array().pop_back(); }));
    BOOST_TEST(!broken([](json::object& o) { o["levels"].as_array().emplace_back(json::array{1, 0}); }));
    BOOST_TEST(!broken([](json::object& o) { o["nodes"].as_array()[0].as_object()["size"] = -1; }));
    auto bad_hash = broken([](json::object& o) { o["nodes"].as_array()[0].as_object()["hash"] = "xyz"; });
    BOOST_REQUIRE(!bad_hash);
    BOOST_TEST(bad_hash.error() == std::error_code(errc::invalid_hash));
    BOOST_TEST(!merkle_subtree::from_json(json::value("nodes")));
}

// xet-core's chunk_window_builder tests (xet_client/src/cas_client/chunk_window_builder.rs):
// equal chunks of a stable size (2 * 8 KiB) unless said otherwise.
BOOST_AUTO_TEST_CASE(windows_stretch_to_stable_boundaries_as_xet_core_does) {
    const std::uint64_t s = 2 * min_chunk_size;
    BOOST_REQUIRE(is_stable_chunk_size(s));
    BOOST_TEST(!is_stable_chunk_size(max_chunk_size));
    BOOST_TEST(!is_stable_chunk_size(s - 1));
    auto plan = [&](std::size_t n, std::uint64_t size, std::vector<byte_range> dirty) {
        auto chunks = fake_chunks(n, 11, size);
        auto p = plan_chunk_windows(chunks, normalize_dirty_ranges(std::move(dirty), n * size));
        BOOST_TEST(p.gaps.size() == p.windows.size() + 1);
        return p;
    };
    // Past the dirty chunks, two clean stable ones, then the window closes.
    auto p = plan(6, s, {{1, s + 1}});
    BOOST_REQUIRE_EQUAL(p.windows.size(), 1u);
    BOOST_TEST((p.windows[0] == byte_range{0, 4 * s}));
    BOOST_TEST(!p.gaps[0].has_value());
    BOOST_REQUIRE(p.gaps[1].has_value());
    BOOST_TEST(p.gaps[1]->at_end());
    BOOST_TEST(!p.gaps[1]->at_start());
    // A dirty chunk inside the stretch starts it again and joins the ranges into one window.
    p = plan(8, s, {{1, s + 1}, {3 * s + 7, 3 * s + 42}});
    BOOST_REQUIRE_EQUAL(p.windows.size(), 1u);
    BOOST_TEST((p.windows[0] == byte_range{0, 6 * s}));
    // Already at the file's end.
    p = plan(6, s, {{4 * s, 6 * s}});
    BOOST_REQUIRE_EQUAL(p.windows.size(), 1u);
    BOOST_TEST((p.windows[0] == byte_range{4 * s, 6 * s}));
    BOOST_REQUIRE(p.gaps[0].has_value());
    BOOST_TEST(p.gaps[0]->at_start());
    BOOST_TEST(!p.gaps[1].has_value());
    // Far apart: separate windows.
    p = plan(20, s, {{0, s}, {14 * s, 15 * s}});
    BOOST_REQUIRE_EQUAL(p.windows.size(), 2u);
    BOOST_TEST((p.windows[0] == byte_range{0, 3 * s}));
    BOOST_TEST((p.windows[1] == byte_range{14 * s, 17 * s}));
    BOOST_TEST(p.gaps[1].has_value());
    // No stable chunk after the dirty ones: to the file's end.
    p = plan(4, max_chunk_size, {{0, max_chunk_size}});
    BOOST_REQUIRE_EQUAL(p.windows.size(), 1u);
    BOOST_TEST((p.windows[0] == byte_range{0, 4 * max_chunk_size}));
}

BOOST_AUTO_TEST_CASE(dirty_ranges_are_sorted_merged_and_clamped) {
    auto n = normalize_dirty_ranges({{5, 10}, {0, 3}, {3, 4}, {8, 20}, {30, 40}, {7, 7}}, 15);
    BOOST_REQUIRE_EQUAL(n.size(), 2u);
    BOOST_TEST((n[0] == byte_range{0, 4}));
    BOOST_TEST((n[1] == byte_range{5, 15}));
    BOOST_TEST(normalize_dirty_ranges({{15, 20}}, 15).empty());
    BOOST_TEST(normalize_dirty_ranges({}, 15).empty());
    BOOST_TEST(plan_chunk_windows(fake_chunks(3, 1), {}).windows.empty());
}

BOOST_AUTO_TEST_CASE(untouched_segments_are_those_no_window_meets) {
    std::vector<std::uint64_t> seg{10, 10, 10, 10, 10};
    auto u = untouched_segments(seg, std::vector<byte_range>{{10, 20}, {35, 40}});
    BOOST_TEST(u == (std::vector<std::size_t>{0, 2, 4}));
    BOOST_TEST(untouched_segments(seg, std::vector<byte_range>{{0, 50}}).empty());
    BOOST_TEST(untouched_segments(seg, std::vector<byte_range>{{19, 21}}) == (std::vector<std::size_t>{0, 3, 4}));
}

// Real chunking: edits inside the windows, the windows re-chunked from their start, merged
// with the gaps, give the edited file's hash.
BOOST_AUTO_TEST_CASE(rechunked_windows_and_gaps_give_the_edited_files_hash) {
    for (std::uint32_t seed : {1u, 2u, 3u, 4u}) {
        auto data = test::pseudo_random(3 * 1024 * 1024 + seed * 777, seed);
        auto chunks = chunk_buffer(data);
        BOOST_REQUIRE(chunks.size() > 20);
        std::vector<byte_range> asked{{data.size() / 5, data.size() / 5 + 100},
                                      {data.size() / 2, data.size() / 2 + 70000},
                                      {data.size() - 10, data.size() + 99}};
        auto dirty = normalize_dirty_ranges(asked, data.size());
        auto p = plan_chunk_windows(as_nodes(chunks), dirty);
        BOOST_REQUIRE(!p.windows.empty());
        BOOST_REQUIRE_EQUAL(p.gaps.size(), p.windows.size() + 1);
        for (auto& w : p.windows) {
            BOOST_TEST(is_boundary(chunks, w.start));
            BOOST_TEST(is_boundary(chunks, w.end));
        }
        for (auto& d : dirty)
            BOOST_TEST(std::any_of(p.windows.begin(), p.windows.end(),
                                   [&](auto& w) { return w.start <= d.start && d.end <= w.end; }));

        for (bool edit : {false, true}) {
            auto changed = data;
            if (edit)
                for (auto& d : dirty)
                    for (auto i = d.start; i < d.end; ++i) changed[i] ^= 0x5a;
            std::vector<std::vector<hash_and_size>> rechunked;
            for (auto& w : p.windows)
                rechunked.push_back(as_nodes(chunk_buffer(std::span(changed).subspan(w.start, w.end - w.start))));
            auto got = compose_file_hash(p.gaps, rechunked);
            BOOST_REQUIRE(got);
            BOOST_TEST(*got == file_hash(as_nodes(chunk_buffer(changed))), "seed " << seed << " edit " << edit);
        }
        // The pieces must fit: a window short is refused.
        auto fewer = std::vector<std::vector<hash_and_size>>(p.windows.size() - 1);
        if (!fewer.empty()) BOOST_TEST(!compose_file_hash(p.gaps, fewer));
    }
}

BOOST_AUTO_TEST_SUITE_END()
