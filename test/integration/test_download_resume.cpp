// Resuming big files across calls: parallel parts kept in <etag>.hfhub-parts with their map,
// a prefix another client left in <etag>.incomplete, and what is never trusted (a map that
// doesn't name the parts file, a torn map, a wrong prefix).
#include "big_object.hpp"
#include "client_util.hpp"
#include "test_server.hpp"

#include <hfhub/download.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t file_size = 8 << 20;
constexpr std::uint64_t chunk = 512 << 10;  // 16 parts
constexpr std::uint64_t seed = 5;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string stream_bytes(std::uint64_t from, std::uint64_t n) {
    std::string s(n, '\0');
    test::big_bytes(seed, from, s.data(), s.size());
    return s;
}

std::size_t records(const fs::path& map) {
    auto text = slurp(map);
    auto lines = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
    return lines ? lines - 1 : 0;
}

struct resume_fixture {
    test_server srv;
    temp_dir cache;
    asio::io_context ioc;
    std::unique_ptr<client> c;
    test::big_object obj;
    fs::path blobs;

    resume_fixture() {
        srv.create_repo("alice/r", alice_token);
        obj = test::put_big_object(srv.root(), file_size, seed, "alice/r");
        auto r = srv.commit("models/alice/r", "main", {test_server::add_lfs("big.bin", obj.sha256, obj.size)}, alice_token);
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
        c = std::make_unique<client>(ioc.get_executor(), quick_config(srv.url()));
        blobs = cache.path() / "models--alice--r" / "blobs";
    }
    download_options opts() const {
        download_options o;
        o.cache_dir = cache.path();
        o.parallel_threshold = 1 << 20;
        o.chunk_size = chunk;
        o.max_parallel = 4;
        return o;
    }
    fs::path incomplete() const { return blobs / (obj.sha256 + ".incomplete"); }
    fs::path parts() const { return blobs / (obj.sha256 + ".hfhub-parts"); }
    fs::path map() const { return blobs / (obj.sha256 + ".hfhub-parts.map"); }

    std::uint64_t storage_bytes_since(std::size_t from) const {
        std::uint64_t sent = 0;
        auto lines = srv.log_lines();
        for (std::size_t i = from; i < lines.size(); ++i) {
            auto e = json::parse(lines[i]).as_object();
            if (e.at("listener") == "storage") sent += e.at("bytes").to_number<std::uint64_t>();
        }
        return sent;
    }

    // Downloads and returns the storage bytes it took; checks the result and what is left.
    std::uint64_t download_and_check() {
        auto before = srv.log_lines().size();
        auto p = run(ioc, co_hf_hub_download(*c, "alice/r", "big.bin", opts()));
        BOOST_TEST(test::sha256_of_file(p) == obj.sha256);
        BOOST_TEST(!fs::exists(incomplete()));
        BOOST_TEST(!fs::exists(parts()));
        BOOST_TEST(!fs::exists(map()));
        return storage_bytes_since(before);
    }

    // A parallel download that gets `whole` parts (the server holds the others) and is
    // cancelled once it has recorded them.
    void leave_parts(std::size_t whole) {
        srv.post("/admin/faults", R"({"rules":[{"listener":"storage","method":"GET","nth":)" + std::to_string(whole + 1) +
                                      R"(,"times":0,"stall_ms":1000,"stall_after_bytes":65536}]})");
        asio::cancellation_signal sig;
        std::exception_ptr err;
        bool done = false;
        asio::co_spawn(ioc, co_hf_hub_download(*c, "alice/r", "big.bin", opts()),
                       asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, fs::path) {
                           err = e;
                           done = true;
                       }));
        asio::steady_timer poll(ioc);
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        std::function<void()> tick = [&] {
            if (done) return;
            if (records(map()) >= whole || std::chrono::steady_clock::now() > deadline) {
                sig.emit(asio::cancellation_type::terminal);
                return;
            }
            poll.expires_after(std::chrono::milliseconds(2));
            poll.async_wait([&](boost::system::error_code) { tick(); });
        };
        tick();
        ioc.restart();
        hfhub::test::run_all(ioc);
        srv.send("DELETE", "/admin/faults", "");
        BOOST_TEST_REQUIRE(done);
        BOOST_TEST_REQUIRE(static_cast<bool>(err), "the download was not cancelled");
        try {
            std::rethrow_exception(err);
        } catch (const hfhub::error& e) {
            BOOST_TEST((e.code() == client_errc::cancelled), e.what());
        }
        BOOST_TEST_REQUIRE(records(map()) == whole);
        BOOST_TEST(!fs::exists(incomplete()));  // parts never go there
        srv.log_lines();  // the held requests end (and are logged) before anything is counted
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(download_resume, resume_fixture)

BOOST_AUTO_TEST_CASE(a_cancelled_parallel_download_fetches_only_missing_parts_next_time) {
    leave_parts(6);
    BOOST_TEST(download_and_check() == file_size - 6 * chunk);
}

BOOST_AUTO_TEST_CASE(a_map_whose_parts_file_was_replaced_is_not_trusted) {
    leave_parts(5);
    // Same name, same size, another file: as if something else had written it.
    std::string garbage(file_size, 'x');
    { std::ofstream(blobs / "other", std::ios::binary) << garbage; }
    fs::rename(blobs / "other", parts());
    BOOST_TEST(download_and_check() == file_size);
}

BOOST_AUTO_TEST_CASE(a_torn_map_header_starts_over) {
    leave_parts(5);
    fs::resize_file(map(), 40);
    BOOST_TEST(download_and_check() == file_size);
}

BOOST_AUTO_TEST_CASE(a_torn_record_loses_that_part_only) {
    leave_parts(5);
    fs::resize_file(map(), fs::file_size(map()) - 3);
    BOOST_TEST(download_and_check() == file_size - 4 * chunk);
}

BOOST_AUTO_TEST_CASE(a_record_with_a_bad_check_is_ignored) {
    leave_parts(5);
    // A record appended by hand with a bad check: ignored; the five good ones still count.
    { std::ofstream(map(), std::ios::app) << "part 5242880 5767167 0123456789abcdef\n"; }
    BOOST_TEST(download_and_check() == file_size - 5 * chunk);
}

// A prefix written the way the Python client writes it (sequentially, then killed) is continued
// with one Range request, also for a file big enough for parallel parts, and verified.
BOOST_AUTO_TEST_CASE(a_prefix_left_by_another_client_is_resumed_with_range) {
    const std::uint64_t have = (5 << 20) + 12345;
    fs::create_directories(blobs);
    { std::ofstream(incomplete(), std::ios::binary) << stream_bytes(0, have); }
    auto before = srv.log_lines().size();
    BOOST_TEST(download_and_check() == file_size - have);
    int ranged = 0;
    auto lines = srv.log_lines();
    for (std::size_t i = before; i < lines.size(); ++i) {
        auto e = json::parse(lines[i]).as_object();
        if (e.at("listener") == "storage" && e.at("status") == 206) ++ranged;
    }
    BOOST_TEST(ranged == 1);
}

BOOST_AUTO_TEST_CASE(a_wrong_prefix_is_caught_and_the_file_fetched_again) {
    const std::uint64_t have = 3 << 20;
    std::string prefix = stream_bytes(0, have);
    prefix[777777] ^= 0x20;
    fs::create_directories(blobs);
    { std::ofstream(incomplete(), std::ios::binary) << prefix; }
    BOOST_TEST(download_and_check() == (file_size - have) + file_size);
}

// What older hfhub versions left after a kill: the full size, with holes.
BOOST_AUTO_TEST_CASE(a_full_size_partial_with_holes_is_not_published) {
    fs::create_directories(blobs);
    { std::ofstream(incomplete(), std::ios::binary) << stream_bytes(0, chunk); }
    fs::resize_file(incomplete(), file_size);
    BOOST_TEST(download_and_check() == file_size);
}

BOOST_AUTO_TEST_SUITE_END()
