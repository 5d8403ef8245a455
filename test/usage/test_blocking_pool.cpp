// The client's blocking pool as users meet it: the mixin's co_save_pretrained from their own
// coroutine on a single-threaded io_context, and a pool of one thread (config::blocking_threads)
// that still hashes, uploads and downloads big files without waiting on itself.
#include <hfhub/commit.hpp>
#include <hfhub/deadline.hpp>
#include <hfhub/download.hpp>
#include <hfhub/mixin.hpp>

#include "big_object.hpp"
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "tick_meter.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/describe/class.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <vector>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace pool_usage {

struct saved_config {
    std::uint64_t floats = 0;
    std::string name;
};
BOOST_DESCRIBE_STRUCT(saved_config, (), (floats, name))

// Weights big enough that writing and syncing them on the I/O thread would stall its timers.
class saved_model : public safetensors_model_hub_mixin<saved_model> {
public:
    using config_type = saved_config;
    static inline const model_card_metadata hub_metadata{.library_name = "pool-test", .tags = {"usage"}};
    explicit saved_model(std::uint64_t bytes) : cfg_{bytes / 4, "saved"}, w_(bytes / 4) {
        for (std::size_t i = 0; i < w_.size(); ++i) w_[i] = static_cast<float>(i % 1000) * 0.5f;
    }
    explicit saved_model(saved_config c) : cfg_(std::move(c)), w_(cfg_.floats, 0.f) {}
    const saved_config& config() const { return cfg_; }
    safetensors::tensor_list named_tensors() const {
        return {{"w", safetensors::make_view(safetensors::dtype::F32, {w_.size()}, std::span<const float>(w_))}};
    }
    static saved_model from_config(saved_config c) { return saved_model(std::move(c)); }
    void load_tensors(const safetensors::checkpoint& ck) {
        auto s = ck.at("w").as<float>();
        w_.assign(s.begin(), s.end());
    }

private:
    saved_config cfg_;
    std::vector<float> w_;
};

// Every regular file under `dir`, by relative path.
std::vector<std::string> files_of(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).generic_string());
    std::sort(out.begin(), out.end());
    return out;
}

bool same_bytes(const fs::path& a, const fs::path& b) {
    if (fs::file_size(a) != fs::file_size(b)) return false;
    std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
    std::vector<char> ba(4u << 20), bb(4u << 20);
    for (;;) {
        fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
        fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
        if (fa.gcount() != fb.gcount()) return false;
        if (!std::equal(ba.begin(), ba.begin() + fa.gcount(), bb.begin())) return false;
        if (fa.gcount() == 0 || !fa) return true;
    }
}

// `size` bytes of the big-object stream `seed`, written to `path`.
void write_big(const fs::path& path, std::uint64_t size, std::uint64_t seed) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    std::vector<char> buf(4u << 20);
    for (std::uint64_t at = 0; at < size; at += buf.size()) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
        test::big_bytes(seed, at, buf.data(), n);
        f.write(buf.data(), static_cast<std::streamsize>(n));
    }
}

}  // namespace pool_usage

BOOST_AUTO_TEST_SUITE(blocking_pool_usage)

// co_save_pretrained from the user's coroutine, with a temporary path, on the one thread that also
// runs a 1 ms timer: the timer keeps ticking while 256 MiB of weights are serialised and synced,
// and the folder holds exactly what the blocking save_pretrained writes.
BOOST_AUTO_TEST_CASE(co_save_pretrained_keeps_the_io_thread_free_and_writes_what_save_pretrained_does) {
    temp_dir work;
    const pool_usage::saved_model model(256u << 20);
    asio::io_context ioc(1);
    config cfg;
    cfg.hub_cache = work.path() / "cache";
    client hub(ioc.get_executor(), cfg);
    test::tick_meter meter(ioc);
    std::exception_ptr failure;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            template_vars vars{{"model_name", "pool-model"}};  // braces outside the co_await: see client.md
            co_await model.co_save_pretrained(hub, work.path() / "async", vars);
        },
        [&](std::exception_ptr e) {
            failure = e;
            meter.stop();
        });
    hfhub::test::run_all(ioc);
    BOOST_REQUIRE(!failure);
    BOOST_TEST_MESSAGE("co_save_pretrained of 256 MiB: " << meter.summary());
    BOOST_TEST(meter.ticks() > 20u);
    BOOST_TEST(meter.worst() <= test::tick_meter::bound(), meter.summary());

    model.save_pretrained(work.path() / "blocking", {{"model_name", "pool-model"}});
    auto async_files = pool_usage::files_of(work.path() / "async");
    auto blocking_files = pool_usage::files_of(work.path() / "blocking");
    BOOST_TEST(async_files.size() >= 3u);  // config.json, model.safetensors, README.md
    BOOST_TEST((std::find(async_files.begin(), async_files.end(), "model.safetensors") != async_files.end()));
    BOOST_TEST((async_files == blocking_files));
    for (const auto& name : blocking_files)
        if (std::find(async_files.begin(), async_files.end(), name) != async_files.end())
            BOOST_TEST(pool_usage::same_bytes(work.path() / "async" / name, work.path() / "blocking" / name),
                       name << " differs");
    // And it loads back.
    auto back = pool_usage::saved_model::from_pretrained(work.path() / "async");
    BOOST_TEST(back.config().name == "saved");
}

// Errors come back typed and on the caller's coroutine: a folder that can't be made.
BOOST_AUTO_TEST_CASE(co_save_pretrained_reports_a_local_failure_as_an_hfhub_error) {
    temp_dir work;
    const pool_usage::saved_model model(1u << 10);
    std::ofstream(work.path() / "a_file") << "x";
    asio::io_context ioc(1);
    config cfg;
    cfg.hub_cache = work.path() / "cache";
    client hub(ioc.get_executor(), cfg);
    std::exception_ptr failure;
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { co_await model.co_save_pretrained(hub, work.path() / "a_file" / "under"); },
        [&](std::exception_ptr e) { failure = e; });
    hfhub::test::run_all(ioc);
    BOOST_REQUIRE(failure);
    try {
        std::rethrow_exception(failure);
    } catch (const hfhub::error& e) {
        BOOST_TEST(e.code() == make_error_code(client_errc::io_error), e.what());
    } catch (const std::exception& e) {
        BOOST_ERROR("a non-hfhub exception escaped: " << e.what());
    }
}

// With a blocking pool of one thread, hashing two big files for a commit (each read ahead by a
// helper that can never start while the other hash holds the thread) and downloading them again
// as parallel ranges (hashed in order on the pool, parts recorded, synced and renamed there too)
// all complete: no job waits on one queued behind it.
BOOST_AUTO_TEST_CASE(a_pool_of_one_thread_uploads_and_downloads_big_files) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/one-thread", alice_token);
    fs::create_directories(work.path() / "folder");
    const std::uint64_t size = (64u << 20) + 4096;  // past read-ahead and parallel-download thresholds
    pool_usage::write_big(work.path() / "folder" / "a.bin", size, 71);
    pool_usage::write_big(work.path() / "folder" / "b.bin", size, 72);

    asio::io_context ioc(1);
    config cfg = test::user_config(srv.url(), alice_token, work.path() / "cache");
    cfg.blocking_threads = 1;
    client hub(ioc.get_executor(), cfg);
    BOOST_TEST(hub.settings().blocking_threads == 1u);
    std::exception_ptr failure;
    fs::path snap;
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            // A deadline, so that a pool waiting on itself fails the test instead of hanging it.
            co_await with_deadline(co_upload_folder(hub, "alice/one-thread", work.path() / "folder"), 120s);
            snap = co_await with_deadline(co_snapshot_download(hub, "alice/one-thread"), 120s);
        },
        [&](std::exception_ptr e) { failure = e; });
    hfhub::test::run_all(ioc);
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            BOOST_FAIL("failed: " << e.what());
        }
    }
    BOOST_TEST(fs::file_size(snap / "a.bin") == size);
    BOOST_TEST(fs::file_size(snap / "b.bin") == size);
    // The download verified both against their sha256; the upload computed them: they agree.
    auto tree = srv.get("/api/models/alice/one-thread/tree/main", alice_token).body;
    BOOST_TEST(tree.find("a.bin") != std::string::npos);
    BOOST_TEST(tree.find("b.bin") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
