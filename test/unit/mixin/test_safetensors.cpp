// safetensors: the writer against golden files built from the spec (test/golden/make_golden.py),
// the reader's zero-copy views, every header validation error, and sharding with its index.
#include <hfhub/safetensors.hpp>

#include "golden.hpp"
#include "test_server.hpp"  // temp_dir

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <fstream>

namespace st = hfhub::safetensors;
namespace fs = std::filesystem;
using hfhub::safetensors_errc;

namespace {

using hfhub::test::golden;
using hfhub::test::slurp;

template <class T>
std::span<const std::byte> bytes_of(const std::vector<T>& v) {
    return std::as_bytes(std::span<const T>(v));
}

// The tensors of test/golden/basic.safetensors, kept alive by the fixture.
struct basic_tensors {
    std::vector<float> weight{1, 2, 3, 4}, bias{0.5f, -0.5f};
    std::vector<std::int64_t> ids{1, -2, 3};
    std::vector<std::uint8_t> mask{1, 0, 1, 1};
    std::vector<std::uint16_t> half{0x3e00, 0xc000};  // 1.5 and -2.0 as IEEE half
    std::vector<std::uint8_t> empty;
    std::vector<double> scalar{3.25};

    st::tensor_list list() const {
        return {{"weight", {st::dtype::F32, {2, 2}, bytes_of(weight)}},
                {"bias", {st::dtype::F32, {2}, bytes_of(bias)}},
                {"ids", {st::dtype::I64, {3}, bytes_of(ids)}},
                {"mask", {st::dtype::BOOL, {4}, bytes_of(mask)}},
                {"half", {st::dtype::F16, {2}, bytes_of(half)}},
                {"empty", {st::dtype::U8, {0}, bytes_of(empty)}},
                {"scalar", {st::dtype::F64, {}, bytes_of(scalar)}}};
    }
};

// A file from a header text and a data size.
std::string make_file(const std::string& header, std::size_t data_size) {
    std::string out(8, '\0');
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + header + std::string(data_size, '\x01');
}

// Parses and returns the error code and message; fails the test when it parses.
std::pair<std::error_code, std::string> parse_error(const std::string& file) {
    try {
        st::parse_header(std::as_bytes(std::span<const char>(file.data(), file.size())));
    } catch (const hfhub::error& e) {
        return {e.code(), e.what()};
    }
    BOOST_FAIL("parsed: " + file.substr(8));
    return {};
}

void expect_error(const std::string& header, std::size_t data, safetensors_errc want, const std::string& mentions = {}) {
    auto [ec, msg] = parse_error(make_file(header, data));
    BOOST_TEST(ec == make_error_code(want), header << " -> " << msg);
    if (!mentions.empty()) BOOST_TEST(msg.find(mentions) != std::string::npos, msg);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(safetensors)

BOOST_AUTO_TEST_CASE(dtype_names_and_sizes) {
    const char* names[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};
    std::size_t sizes[] = {1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 8, 8, 8};
    for (std::size_t i = 0; i < 15; ++i) {
        auto t = st::parse_dtype(names[i]);
        BOOST_TEST_REQUIRE(t.has_value(), names[i]);
        BOOST_TEST(st::to_string(*t) == names[i]);
        BOOST_TEST(st::dtype_size(*t) == sizes[i]);
    }
    BOOST_TEST(!st::parse_dtype("F128").has_value());
    BOOST_TEST(!st::parse_dtype("f32").has_value());
}

BOOST_AUTO_TEST_CASE(writer_matches_golden_byte_for_byte) {
    basic_tensors b;
    std::string want = slurp(golden / "basic.safetensors");
    BOOST_TEST_REQUIRE(!want.empty());
    BOOST_TEST(st::serialize(b.list(), st::metadata_map{{"format", "pt"}}) == want);

    // The given order does not matter: layout is by dtype, then name.
    auto reversed = b.list();
    std::reverse(reversed.begin(), reversed.end());
    BOOST_TEST(st::serialize(reversed, st::metadata_map{{"format", "pt"}}) == want);

    hfhub::test::temp_dir tmp;
    st::save_file(b.list(), tmp.path() / "m.safetensors", st::metadata_map{{"format", "pt"}});
    BOOST_TEST(slurp(tmp.path() / "m.safetensors") == want);
}

BOOST_AUTO_TEST_CASE(every_dtype_matches_golden) {
    const char* names[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"};
    std::vector<std::vector<std::byte>> store;
    st::tensor_list list;
    for (int i = 0; i < 15; ++i) {
        auto t = *st::parse_dtype(names[i]);
        std::vector<std::byte> raw;
        for (std::size_t k = 0; k < 2 * st::dtype_size(t); ++k) raw.push_back(static_cast<std::byte>((i * 16 + k) & 0xff));
        store.push_back(std::move(raw));
        std::string name = "t_" + std::string(names[i]);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        list.emplace_back(name, st::tensor_view{t, {2}, store.back()});
    }
    BOOST_TEST(st::serialize(list) == slurp(golden / "all_dtypes.safetensors"));

    auto f = st::file::open(golden / "all_dtypes.safetensors");
    BOOST_TEST(f.names().size() == 15u);
    BOOST_TEST(!f.metadata().has_value());
    auto u64 = f.at("t_u64");
    BOOST_TEST((u64.type == st::dtype::U64));
    BOOST_TEST(u64.data.size() == 16u);
    BOOST_TEST(std::to_integer<int>(u64.data[0]) == (14 * 16) % 256);
}

BOOST_AUTO_TEST_CASE(reader_gives_zero_copy_aligned_views) {
    auto f = st::file::open(golden / "basic.safetensors");
    BOOST_TEST((f.names() == std::vector<std::string>{"bias", "empty", "half", "ids", "mask", "scalar", "weight"}));
    BOOST_TEST_REQUIRE(f.metadata().has_value());
    BOOST_TEST(f.metadata()->at("format") == "pt");

    auto w = f.at("weight");
    BOOST_TEST((w.shape == std::vector<std::uint64_t>{2, 2}));
    BOOST_TEST(w.element_count() == 4u);
    auto values = w.as<float>();
    BOOST_TEST((std::vector<float>(values.begin(), values.end()) == std::vector<float>{1, 2, 3, 4}));
    auto ids = f.at("ids").as<std::int64_t>();
    BOOST_TEST(ids[1] == -2);
    BOOST_TEST(f.at("scalar").as<double>()[0] == 3.25);
    BOOST_TEST(f.at("scalar").shape.empty());
    BOOST_TEST(f.at("empty").data.empty());
    // Views point into the mapping, not into copies: consecutive tensors are adjacent.
    auto bias = f.at("bias");
    BOOST_TEST(bias.data.data() + bias.data.size() == w.data.data());

    BOOST_CHECK_THROW(f.at("ids").as<float>(), hfhub::error);  // 8-byte dtype as a 4-byte type
    try {
        f.at("nope");
        BOOST_FAIL("found");
    } catch (const hfhub::error& e) {
        BOOST_TEST(e.code() == make_error_code(safetensors_errc::tensor_not_found));
        BOOST_TEST(std::string(e.what()).find("\"nope\"") != std::string::npos);
    }
    auto all = f.tensors();
    BOOST_TEST(all.front().first == "ids");  // buffer order: widest dtype first
}

BOOST_AUTO_TEST_CASE(header_length_errors) {
    auto [ec1, m1] = parse_error(std::string(7, '\0'));
    BOOST_TEST(ec1 == make_error_code(safetensors_errc::truncated));
    std::string big(8, '\0');
    big[4] = 1;  // 2^32
    BOOST_TEST(parse_error(big).first == make_error_code(safetensors_errc::header_too_large));
    std::string long_header = make_file("{}", 0);
    long_header[0] = 100;  // says 100 bytes, has 2
    BOOST_TEST(parse_error(long_header).first == make_error_code(safetensors_errc::truncated));
    // Exactly the limit passes the size check and then fails as truncated.
    std::string at_limit(8, '\0');
    std::uint64_t n = st::max_header_size;
    for (int i = 0; i < 8; ++i) at_limit[i] = static_cast<char>((n >> (8 * i)) & 0xff);
    BOOST_TEST(parse_error(at_limit).first == make_error_code(safetensors_errc::truncated));
}

BOOST_AUTO_TEST_CASE(header_content_errors) {
    expect_error(" {}", 0, safetensors_errc::invalid_header, "start");
    expect_error("{\"a\":", 0, safetensors_errc::invalid_header, "not JSON");
    expect_error("{\"a\":\"\xff\"}", 0, safetensors_errc::invalid_header);
    expect_error("{\"a\":1}", 0, safetensors_errc::invalid_tensor, "\"a\"");
    expect_error(R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4, safetensors_errc::invalid_tensor, "dtype");
    expect_error(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4, safetensors_errc::invalid_tensor, "shape");
    expect_error(R"({"w":{"dtype":"F32","shape":[1]}})", 4, safetensors_errc::invalid_tensor, "data_offsets");
    expect_error(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, safetensors_errc::invalid_tensor, "shape");
    expect_error(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4, safetensors_errc::invalid_tensor, "[begin, end]");
    expect_error(R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4, safetensors_errc::unknown_dtype, "F33");
    expect_error(R"({"__metadata__":{"k":1}})", 0, safetensors_errc::invalid_metadata, "\"k\"");
    expect_error(R"({"__metadata__":[]})", 0, safetensors_errc::invalid_metadata);
}

BOOST_AUTO_TEST_CASE(layout_errors) {
    // Overlap, gap, reversed offsets, size against shape, and coverage of the buffer.
    expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                 8, safetensors_errc::invalid_offsets, "overlapping");
    expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                 12, safetensors_errc::invalid_offsets, "gap");
    expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4, safetensors_errc::invalid_offsets, "\"a\"");
    expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4, safetensors_errc::size_mismatch, "needs 8");
    expect_error(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8,
                 safetensors_errc::size_mismatch, "too many");
    expect_error(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8, safetensors_errc::out_of_bounds, "8 bytes");
    expect_error(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4, safetensors_errc::out_of_bounds);
    // Valid edge cases: no tensors, trailing spaces, zero-sized tensors sharing an offset.
    BOOST_CHECK_NO_THROW(st::parse_header(std::as_bytes(std::span<const char>(make_file("{}      ", 0)))));
    auto ok = make_file(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"U8","shape":[0,3],"data_offsets":[0,0]}})", 0);
    auto h = st::parse_header(std::as_bytes(std::span<const char>(ok)));
    BOOST_TEST(h.tensors.size() == 2u);
}

BOOST_AUTO_TEST_CASE(open_names_the_file) {
    hfhub::test::temp_dir tmp;
    std::ofstream(tmp.path() / "bad.safetensors") << "short";
    try {
        st::file::open(tmp.path() / "bad.safetensors");
        BOOST_FAIL("opened");
    } catch (const hfhub::error& e) {
        BOOST_TEST(e.code() == make_error_code(safetensors_errc::truncated));
        BOOST_TEST(std::string(e.what()).find("bad.safetensors") != std::string::npos, e.what());
    }
    BOOST_CHECK_THROW(st::file::open(tmp.path() / "missing.safetensors"), hfhub::error);
}

BOOST_AUTO_TEST_CASE(writer_errors) {
    std::vector<float> v{1, 2};
    st::tensor_list dup{{"a", {st::dtype::F32, {2}, bytes_of(v)}}, {"a", {st::dtype::F32, {2}, bytes_of(v)}}};
    try {
        st::serialize(dup);
        BOOST_FAIL("serialized");
    } catch (const hfhub::error& e) {
        BOOST_TEST(e.code() == make_error_code(safetensors_errc::duplicate_tensor));
    }
    st::tensor_list wrong{{"a", {st::dtype::F32, {3}, bytes_of(v)}}};
    try {
        st::serialize(wrong);
        BOOST_FAIL("serialized");
    } catch (const hfhub::error& e) {
        BOOST_TEST(e.code() == make_error_code(safetensors_errc::size_mismatch));
        BOOST_TEST(std::string(e.what()).find("F32[3] needs 12 bytes, the view has 8") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(names_are_escaped_like_serde) {
    std::vector<std::uint8_t> v{7};
    st::tensor_list l{{"q\"uote\\ \xc3\xa9\n", {st::dtype::U8, {1}, bytes_of(v)}}};
    std::string bytes = st::serialize(l);
    BOOST_TEST(bytes.find(R"("q\"uote\\ )" "\xc3\xa9" R"(\n")") != std::string::npos);
    auto f = st::file::over(std::as_bytes(std::span<const char>(bytes)));
    BOOST_TEST(f.names().front() == "q\"uote\\ \xc3\xa9\n");
    BOOST_TEST((f.info().data_start % 8) == 0u);
}

BOOST_AUTO_TEST_CASE(sharding_matches_golden_and_loads) {
    std::vector<float> a{1, 2, 3, 4}, b{5, 6, 7, 8}, c{9, 10, 11, 12}, big(12);
    for (int i = 0; i < 12; ++i) big[i] = static_cast<float>(i);
    st::tensor_list l{{"a", {st::dtype::F32, {4}, bytes_of(a)}},
                      {"b", {st::dtype::F32, {4}, bytes_of(b)}},
                      {"big", {st::dtype::F32, {12}, bytes_of(big)}},
                      {"c", {st::dtype::F32, {4}, bytes_of(c)}}};
    hfhub::test::temp_dir tmp;
    st::shard_options o;
    o.max_shard_size = 40;
    o.metadata = st::metadata_map{{"format", "pt"}};
    auto files = st::save_sharded(l, tmp.path(), o);
    BOOST_TEST_REQUIRE(files.size() == 4u);
    for (const auto& f : files) BOOST_TEST(slurp(f) == slurp(golden / "sharded" / f.filename()), f.filename());
    BOOST_TEST(!fs::exists(tmp.path() / "model.safetensors"));

    auto ck = st::checkpoint::open(tmp.path());
    BOOST_TEST((ck.names() == std::vector<std::string>{"a", "b", "big", "c"}));
    BOOST_TEST(ck.files().size() == 3u);
    BOOST_TEST(ck.total_size() == 96u);
    BOOST_TEST(ck.at("big").as<float>()[11] == 11.0f);
    BOOST_TEST(ck.at("c").as<float>()[0] == 9.0f);
    // The index file itself opens too.
    BOOST_TEST(st::checkpoint::open(tmp.path() / "model.safetensors.index.json").names().size() == 4u);

    // Below the limit: one model.safetensors, no index.
    hfhub::test::temp_dir one;
    auto single = st::save_sharded(l, one.path());
    BOOST_TEST_REQUIRE(single.size() == 1u);
    BOOST_TEST(single[0].filename() == "model.safetensors");
    BOOST_TEST(st::checkpoint::open(one.path()).at("b").as<float>()[3] == 8.0f);

    // Saving again over a folder replaces the other layout's files; others stay.
    std::ofstream(tmp.path() / "notes.txt") << "keep";
    BOOST_TEST(st::save_sharded(l, tmp.path()).size() == 1u);
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(tmp.path())) left.push_back(e.path().filename().string());
    std::sort(left.begin(), left.end());
    BOOST_TEST((left == std::vector<std::string>{"model.safetensors", "notes.txt"}));
    st::save_sharded(l, one.path(), o);
    BOOST_TEST(!fs::exists(one.path() / "model.safetensors"));
    BOOST_TEST(st::checkpoint::open(one.path()).files().size() == 3u);
}

BOOST_AUTO_TEST_CASE(index_errors) {
    hfhub::test::temp_dir tmp;
    fs::copy(golden / "sharded", tmp.path(), fs::copy_options::recursive);
    auto idx = tmp.path() / "model.safetensors.index.json";
    auto expect = [&](const std::string& text, safetensors_errc want) {
        std::ofstream(idx, std::ios::trunc) << text;
        try {
            st::checkpoint::open(tmp.path());
            BOOST_FAIL("opened " + text);
        } catch (const hfhub::error& e) {
            BOOST_TEST(e.code() == make_error_code(want), e.what());
        }
    };
    expect("[]", safetensors_errc::invalid_index);
    expect(R"({"weight_map":{"a":"../model-00002-of-00003.safetensors"}})", safetensors_errc::invalid_index);
    expect(R"({"weight_map":{"zz":"model-00002-of-00003.safetensors"}})", safetensors_errc::invalid_index);
    expect(R"({"weight_map":{"a":"model-00009-of-00009.safetensors"}})", safetensors_errc::io_error);
    BOOST_CHECK_THROW(st::checkpoint::open(tmp.path() / "nowhere"), hfhub::error);
}

BOOST_AUTO_TEST_SUITE_END()
