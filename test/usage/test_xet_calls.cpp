// Xet as a user meets it: nothing to call differently. The same public functions, from a user's
// coroutine with `{}` options and temporary paths, and from a plain main(), move a file through
// Xet when the Hub offers it: xorbs go up, a reconstruction comes down, and the cache looks as
// Python's does (a blob named by the file's sha256, nothing half-written beside it).
#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/repo_api.hpp>

#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace xetcalls {

// Several chunks' worth of bytes that don't compress away, with a repeated stretch.
std::string weights(std::size_t n) {
    std::string s(n, '\0');
    std::uint32_t x = 0x9e3779b9u;
    for (auto& c : s) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        c = static_cast<char>(x);
    }
    s.replace(n / 2, n / 8, s.substr(0, n / 8));
    return s;
}

// How many access-log lines have this method and a target containing `needle`.
std::size_t requests(const test_server& srv, const std::string& method, const std::string& needle) {
    std::size_t n = 0;
    for (auto& line : hfhub::test::settled_log(srv)) {
        auto v = json::parse(line).as_object();
        if (v.at("method").as_string() == method &&
            std::string_view(v.at("target").as_string()).find(needle) != std::string_view::npos)
            ++n;
    }
    return n;
}

// Files in the cache's blobs folders that are not a finished blob.
std::vector<std::string> leftovers(const fs::path& cache) {
    std::vector<std::string> out;
    if (!fs::exists(cache)) return out;
    for (auto& e : fs::recursive_directory_iterator(cache))
        if (e.path().parent_path().filename() == "blobs" && e.path().filename().string().find('.') != std::string::npos)
            out.push_back(e.path().string());
    return out;
}

config xet_config_for(const test_server& srv, const fs::path& work) {
    config c = test::user_config(srv.url(), alice_token, work / "cache");
    c.xet.enabled = true;
    c.xet.chunk_cache_dir = work / "chunks";
    return c;
}

asio::awaitable<void> user_code(client& hub, fs::path work, std::string data) {
    co_await co_create_repo(hub, "alice/xw", {});
    std::ofstream(work / "w.bin", std::ios::binary) << data;
    auto up = co_await co_upload_file(hub, "alice/xw", commit_add::file("w.bin", work / "w.bin"), {});
    BOOST_TEST(up.changed);
    fs::path got = co_await co_hf_hub_download(hub, "alice/xw", "w.bin", {});
    BOOST_TEST((util::read_file(got).value_or("") == data));
    fs::path snap = co_await co_snapshot_download(hub, "alice/xw", {});
    BOOST_TEST((util::read_file(snap / "w.bin").value_or("") == data));
}

}  // namespace xetcalls

BOOST_AUTO_TEST_SUITE(xet_calls)

BOOST_AUTO_TEST_CASE(a_user_coroutine_with_braces_moves_a_file_through_xet) {
    test_server srv{[](server::options& o) { o.xet_by_default = true; }};
    temp_dir work;
    const std::string data = xetcalls::weights((3 << 20) + 321);
    asio::io_context ioc;
    client hub(ioc.get_executor(), xetcalls::xet_config_for(srv, work.path()));
    std::exception_ptr failure;
    asio::co_spawn(ioc, xetcalls::user_code(hub, work.path(), data), [&](std::exception_ptr e) { failure = e; });
    hfhub::test::run_all(ioc);
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            BOOST_FAIL(e.what());
        }
    }
    // Through Xet both ways, not the LFS bridge.
    BOOST_TEST(xetcalls::requests(srv, "POST", "/v1/xorbs/") >= 1u);
    BOOST_TEST(xetcalls::requests(srv, "POST", "/shards") == 1u);
    BOOST_TEST(xetcalls::requests(srv, "GET", "/reconstructions/") >= 1u);
    BOOST_TEST(xetcalls::requests(srv, "PUT", "/lfs/") == 0u);
    // Python's layout: the blob is named by the sha256, and nothing half-written is left.
    const fs::path blob = work.path() / "cache" / "models--alice--xw" / "blobs" / util::sha256_hex(data);
    BOOST_TEST(fs::file_size(blob) == data.size());
    BOOST_TEST(xetcalls::leftovers(work.path() / "cache").empty());
}

// A script's main(): an io_context nobody runs, the blocking twins, another cache.
BOOST_AUTO_TEST_CASE(a_plain_main_downloads_what_a_coroutine_uploaded_through_xet) {
    test_server srv{[](server::options& o) { o.xet_by_default = true; }};
    srv.create_repo("alice/xm", alice_token);
    temp_dir work;
    const std::string data = xetcalls::weights((2 << 20) + 77);
    asio::io_context ioc;  // never run
    client hub(ioc.get_executor(), xetcalls::xet_config_for(srv, work.path()));
    BOOST_TEST(upload_file(hub, "alice/xm", commit_add::bytes("w.bin", data)).changed);
    const std::size_t reconstructions = xetcalls::requests(srv, "GET", "/reconstructions/");
    download_options elsewhere;
    elsewhere.cache_dir = work.path() / "other-cache";
    fs::path got = hf_hub_download(hub, "alice/xm", "w.bin", elsewhere);
    BOOST_TEST((util::read_file(got).value_or("") == data));
    BOOST_TEST(xetcalls::requests(srv, "GET", "/reconstructions/") > reconstructions);
    BOOST_TEST(xetcalls::leftovers(work.path() / "other-cache").empty());
}

BOOST_AUTO_TEST_SUITE_END()
