// with_deadline around the long calls, as a service writes it inside its own coroutine; and one
// client shared by two io_contexts, each run by its own thread.
#include <hfhub/commit.hpp>
#include <hfhub/deadline.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/mirror.hpp>
#include <hfhub/mixin.hpp>

#include "big_object.hpp"
#include "client_util.hpp"
#include "tick_meter.hpp"
#include "hub_helpers.hpp"
#include "util/fs.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/describe/class.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace deadlines {

config config_for(const test_server& srv, const fs::path& cache) {
    return test::user_config(srv.url(), alice_token, cache);
}

std::int64_t ms(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Runs `f(hub)` in a coroutine on a fresh io_context; returns what it threw, or null.
template <class F>
std::exception_ptr in_coroutine(const test_server& srv, const fs::path& cache, F f) {
    asio::io_context ioc;
    client hub(ioc.get_executor(), config_for(srv, cache));
    std::exception_ptr out;
    asio::co_spawn(ioc, f(hub), [&](std::exception_ptr e) { out = e; });
    hfhub::test::run_all(ioc);
    return out;
}

std::error_code code_of(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const hfhub::error& x) {
        return x.code();
    } catch (...) {
        return make_error_code(std::errc::invalid_argument);  // not an hfhub::error
    }
}

// Runs the call made by `make_call(hub)` under a 500 ms deadline while the server holds it:
// it must end with `timeout` within 2.5 s.
template <class MakeCall>
void expect_timeout(const test_server& srv, const fs::path& cache, const char* what, MakeCall make_call) {
    auto t0 = std::chrono::steady_clock::now();
    auto e = in_coroutine(srv, cache, [&](client& hub) -> asio::awaitable<void> {
        co_await with_deadline(make_call(hub), 500ms);
    });
    auto took = ms(std::chrono::steady_clock::now() - t0);
    BOOST_TEST_MESSAGE(what << ": ended " << took << " ms after it began (deadline 500 ms)");
    BOOST_TEST(code_of(e) == make_error_code(client_errc::timeout), what);
    BOOST_TEST(took < 2500, what);
}

struct weights_config {
    std::uint64_t floats = 0;
};
BOOST_DESCRIBE_STRUCT(weights_config, (), (floats))

// A model whose weights make an LFS upload.
class weights : public safetensors_model_hub_mixin<weights> {
public:
    using config_type = weights_config;
    weights() = default;
    explicit weights(std::uint64_t bytes) : cfg_{bytes / 4}, w_(bytes / 4, 0.75f) {}
    explicit weights(weights_config c) : cfg_(c), w_(c.floats, 0.f) {}
    const weights_config& config() const { return cfg_; }
    safetensors::tensor_list named_tensors() const {
        return {{"w", safetensors::make_view(safetensors::dtype::F32, {w_.size()}, std::span<const float>(w_))}};
    }
    static weights from_config(weights_config c) { return weights(c); }
    void load_tensors(const safetensors::checkpoint& ck) {
        auto s = ck.at("w").as<float>();
        w_.assign(s.begin(), s.end());
    }

private:
    weights_config cfg_;
    std::vector<float> w_;
};

}  // namespace deadlines

BOOST_AUTO_TEST_SUITE(deadlines_and_contexts)

// A download the server holds mid-transfer: the deadline ends it with `timeout` soon after it
// passes, leaves no blob, and the next call (no deadline, no stall) completes.
BOOST_AUTO_TEST_CASE(a_deadline_stops_a_held_download_and_the_next_call_succeeds) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/held", alice_token);
    auto obj = test::put_big_object(srv.root(), 24u << 20, 5, "alice/held");
    srv.commit("models/alice/held", "main", {test_server::add_lfs("big.bin", obj.sha256, obj.size)}, alice_token);
    srv.post("/admin/faults",
             R"({"rules":[{"listener":"storage","method":"GET","times":0,"stall_ms":10000,"stall_after_bytes":1048576}]})");
    fs::path cache = work.path() / "cache";

    auto t0 = std::chrono::steady_clock::now();
    auto e = deadlines::in_coroutine(srv, cache, [](client& hub) -> asio::awaitable<void> {
        co_await with_deadline(co_hf_hub_download(hub, "alice/held", "big.bin"), 500ms);
    });
    auto took = std::chrono::steady_clock::now() - t0;
    BOOST_REQUIRE(e);
    BOOST_TEST(deadlines::code_of(e) == make_error_code(client_errc::timeout));
    try {
        std::rethrow_exception(e);
    } catch (const hfhub::error& x) {  // the client's account; the server said nothing
        BOOST_TEST(x.diag().client_message == "the deadline of 500 ms passed");
        BOOST_TEST(x.diag().server_message.empty());
    }
    BOOST_TEST_MESSAGE("deadline 500 ms: the call ended after " << deadlines::ms(took) << " ms");
    BOOST_TEST(deadlines::ms(took) < 2500);
    fs::path blobs = cache / "models--alice--held" / "blobs";
    BOOST_TEST(!fs::exists(blobs / obj.sha256), "the blob was published after the deadline");

    srv.send("DELETE", "/admin/faults", "");
    fs::path got;
    e = deadlines::in_coroutine(srv, cache, [&](client& hub) -> asio::awaitable<void> {
        got = co_await with_deadline(co_hf_hub_download(hub, "alice/held", "big.bin"), 60s);
    });
    BOOST_REQUIRE(!e);
    BOOST_TEST(test::sha256_of_file(got) == obj.sha256);
}

// A commit whose LFS upload is held: the deadline cancels it and nothing lands; a call that
// fails on its own fails at once with its own error, not with the deadline's.
BOOST_AUTO_TEST_CASE(a_deadline_leaves_no_commit_and_keeps_a_calls_own_error) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/slowup", alice_token);
    srv.post("/admin/faults", R"({"rules":[{"listener":"storage","method":"PUT","times":0,"stall_ms":10000}]})");
    auto e = deadlines::in_coroutine(srv, work.path() / "cache", [](client& hub) -> asio::awaitable<void> {
        std::vector<commit_operation> ops;
        ops.emplace_back(commit_add::bytes("w.bin", std::string(12u << 20, 'w')));
        commit_options o;
        o.commit_message = "held";
        co_await with_deadline(co_create_commit(hub, "alice/slowup", std::move(ops), std::move(o)), 400ms);
    });
    BOOST_REQUIRE(e);
    BOOST_TEST(deadlines::code_of(e) == make_error_code(client_errc::timeout));
    srv.send("DELETE", "/admin/faults", "");
    BOOST_TEST(srv.get("/api/models/alice/slowup/tree/main", alice_token).body.find("w.bin") == std::string::npos);

    auto t0 = std::chrono::steady_clock::now();
    e = deadlines::in_coroutine(srv, work.path() / "cache", [](client& hub) -> asio::awaitable<void> {
        (void)co_await with_deadline(co_repo_info(hub, "alice/does-not-exist"), 30s);
    });
    BOOST_REQUIRE(e);
    BOOST_TEST(deadlines::code_of(e) == make_error_code(hub_errc::repo_not_found));
    BOOST_TEST(deadlines::ms(std::chrono::steady_clock::now() - t0) < 5000);  // not the 30 s deadline
}

// The other long calls under a deadline that passes mid-transfer: a snapshot, a mirror and a
// mixin's push each end with `timeout` within 2 s of it, leave no blob or commit, and the same
// call without the stall then completes.
BOOST_AUTO_TEST_CASE(snapshot_mirror_and_mixin_push_stop_at_their_deadline) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/held", alice_token);
    auto obj = test::put_big_object(srv.root(), 24u << 20, 6, "alice/held");
    srv.commit("models/alice/held", "main", {test_server::add_lfs("big.bin", obj.sha256, obj.size)}, alice_token);
    fs::path cache = work.path() / "cache";
    const char* hold_gets =
        R"({"rules":[{"listener":"storage","method":"GET","times":0,"stall_ms":10000,"stall_after_bytes":1048576}]})";
    const char* hold_puts = R"({"rules":[{"listener":"storage","method":"PUT","times":0,"stall_ms":10000}]})";

    auto timed_out = [&](const char* what, auto make_call) { deadlines::expect_timeout(srv, cache, what, make_call); };

    srv.post("/admin/faults", hold_gets);
    timed_out("co_snapshot_download", [](client& hub) -> asio::awaitable<void> {
        (void)co_await co_snapshot_download(hub, "alice/held");
    });
    BOOST_TEST(!fs::exists(cache / "models--alice--held" / "blobs" / obj.sha256));

    timed_out("co_mirror", [&](client& hub) -> asio::awaitable<void> {
        client dst(co_await asio::this_coro::executor, deadlines::config_for(srv, cache));
        (void)co_await co_mirror(hub, dst, "alice/held", "alice/held-copy");
    });
    srv.send("DELETE", "/admin/faults", "");
    BOOST_TEST(srv.get("/api/models/alice/held-copy/tree/main", alice_token).body.find("big.bin") == std::string::npos);

    srv.post("/admin/faults", hold_puts);
    deadlines::weights model(6u << 20);
    timed_out("mixin co_push_to_hub", [&](client& hub) -> asio::awaitable<void> {
        (void)co_await model.co_push_to_hub(hub, "alice/held-model");
    });
    srv.send("DELETE", "/admin/faults", "");
    BOOST_TEST(srv.get("/api/models/alice/held-model/tree/main", alice_token).body.find("safetensors") == std::string::npos);

    // Without the stalls, the same calls complete.
    auto e = deadlines::in_coroutine(srv, cache, [&](client& hub) -> asio::awaitable<void> {
        fs::path snap = co_await co_snapshot_download(hub, "alice/held");
        BOOST_TEST(test::sha256_of_file(snap / "big.bin") == obj.sha256);
        client dst(co_await asio::this_coro::executor, deadlines::config_for(srv, cache));
        auto m = co_await co_mirror(hub, dst, "alice/held", "alice/held-copy");
        BOOST_TEST(m.commit.changed);
        auto c = co_await model.co_push_to_hub(hub, "alice/held-model");
        BOOST_TEST(c.changed);
    });
    BOOST_TEST(!e);
}

// The rest of the long calls: uploading a folder, pushing one, and a mixin's from_pretrained,
// each held by the server mid-transfer. Each ends with `timeout` within 2 s of its deadline,
// leaves no commit and no blob, and completes once the stall is gone.
BOOST_AUTO_TEST_CASE(folder_upload_folder_push_and_from_pretrained_stop_at_their_deadline) {
    test_server srv;
    temp_dir work;
    fs::path cache = work.path() / "cache";
    fs::path folder = work.path() / "folder";
    fs::create_directories(folder);
    std::ofstream(folder / "w.bin", std::ios::binary) << std::string(12u << 20, 'w');
    std::ofstream(folder / "config.json") << R"({"a": 1})";
    srv.create_repo("alice/folder", alice_token);
    const char* hold_puts = R"({"rules":[{"listener":"storage","method":"PUT","times":0,"stall_ms":10000}]})";
    const char* hold_gets =
        R"({"rules":[{"listener":"storage","method":"GET","times":0,"stall_ms":10000,"stall_after_bytes":1048576}]})";

    auto timed_out = [&](const char* what, auto make_call) { deadlines::expect_timeout(srv, cache, what, make_call); };
    auto tree = [&](const char* repo) { return srv.get(std::string("/api/models/") + repo + "/tree/main", alice_token).body; };

    srv.post("/admin/faults", hold_puts);
    timed_out("co_upload_folder", [&](client& hub) -> asio::awaitable<void> {
        folder_options o;
        o.commit_message = "held";
        (void)co_await co_upload_folder(hub, "alice/folder", folder, std::move(o));
    });
    timed_out("co_push_to_hub", [&](client& hub) -> asio::awaitable<void> {
        (void)co_await co_push_to_hub(hub, "alice/pushed", folder);
    });
    srv.send("DELETE", "/admin/faults", "");
    BOOST_TEST(tree("alice/folder").find("w.bin") == std::string::npos);
    BOOST_TEST(tree("alice/pushed").find("w.bin") == std::string::npos);

    // A model to load, then its weights held on the way down.
    deadlines::weights model(6u << 20);
    auto e = deadlines::in_coroutine(srv, cache, [&](client& hub) -> asio::awaitable<void> {
        (void)co_await model.co_push_to_hub(hub, "alice/to-load");
    });
    BOOST_REQUIRE(!e);
    srv.post("/admin/faults", hold_gets);
    timed_out("mixin co_from_pretrained", [&](client& hub) -> asio::awaitable<void> {
        (void)co_await deadlines::weights::co_from_pretrained(hub, "alice/to-load");
    });
    srv.send("DELETE", "/admin/faults", "");
    fs::path blobs = cache / "models--alice--to-load" / "blobs";
    BOOST_REQUIRE(fs::exists(blobs));  // config.json came first
    for (const auto& b : fs::directory_iterator(blobs))
        BOOST_TEST(fs::file_size(b.path()) < (6u << 20), "a full weights blob was published: " << b.path());

    e = deadlines::in_coroutine(srv, cache, [&](client& hub) -> asio::awaitable<void> {
        folder_options o;
        o.commit_message = "again";
        BOOST_TEST((co_await co_upload_folder(hub, "alice/folder", folder, std::move(o))).changed);
        BOOST_TEST((co_await co_push_to_hub(hub, "alice/pushed", folder)).changed);
        auto loaded = co_await deadlines::weights::co_from_pretrained(hub, "alice/to-load");
        BOOST_TEST(loaded.config().floats == model.config().floats);
    });
    BOOST_TEST(!e);
    BOOST_TEST(tree("alice/folder").find("w.bin") != std::string::npos);
}

// One client, two io_contexts on two threads, 100 interleaved requests: each context gets its
// own connections, and every request completes.
BOOST_AUTO_TEST_CASE(one_client_two_io_contexts_one_hundred_requests) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/shared", alice_token);
    srv.commit("models/alice/shared", "main", {test_server::add_file("a.txt", "a")}, alice_token);
    asio::io_context first, second;
    client hub(first.get_executor(), deadlines::config_for(srv, work.path() / "cache"));
    std::atomic<int> ok{0}, failed{0};
    for (int i = 0; i < 100; ++i) {
        auto& ctx = i % 2 ? second : first;
        asio::co_spawn(
            ctx, [&]() -> asio::awaitable<void> { co_await co_file_exists(hub, "alice/shared", "a.txt"); },
            [&](std::exception_ptr e) { ++(e ? failed : ok); });
    }
    std::thread a([&] { first.run(); });
    std::thread b([&] { second.run(); });
    a.join();
    b.join();
    BOOST_TEST(ok.load() == 100);
    BOOST_TEST(failed.load() == 0);
    BOOST_TEST(hub.stats().reused > 0u);
}

// The user's io_context keeps its timers on time while a mixin pushes a 256 MiB safetensors
// model from it: the weights are serialised, synced and finally unlinked on the blocking pool,
// not on the I/O thread. One thread runs everything here, as in a small service.
BOOST_AUTO_TEST_CASE(a_timer_keeps_ticking_during_a_mixin_push) {
    test_server srv;
    temp_dir work;
    deadlines::weights model(256u << 20);
    asio::io_context ioc(1);
    client hub(ioc.get_executor(), deadlines::config_for(srv, work.path() / "cache"));
    test::tick_meter meter(ioc);
    std::exception_ptr failure;
    asio::co_spawn(
        ioc, [&]() -> asio::awaitable<void> { (void)co_await model.co_push_to_hub(hub, "alice/ticking-model"); },
        [&](std::exception_ptr e) {
            failure = e;
            meter.stop();
        });
    hfhub::test::run_all(ioc);
    BOOST_REQUIRE(!failure);
    BOOST_TEST(meter.ticks() > 100u);
    BOOST_TEST_MESSAGE("mixin push of 256 MiB: " << meter.summary());
    BOOST_TEST(meter.worst() <= test::tick_meter::bound(), meter.summary());
}

// The same during a snapshot download of 4 x 64 MiB: files are written, verified, synced and
// renamed into the cache off the I/O thread.
BOOST_AUTO_TEST_CASE(a_timer_keeps_ticking_during_a_snapshot_download) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/four", alice_token);
    std::vector<std::string> files;
    for (unsigned i = 0; i < 4; ++i) {
        auto obj = test::put_big_object(srv.root(), 64u << 20, 20 + i, "alice/four");
        files.push_back(test_server::add_lfs("w" + std::to_string(i) + ".bin", obj.sha256, obj.size));
    }
    srv.commit("models/alice/four", "main", files, alice_token);
    asio::io_context ioc(1);
    client hub(ioc.get_executor(), deadlines::config_for(srv, work.path() / "cache"));
    test::tick_meter meter(ioc);
    std::exception_ptr failure;
    fs::path snap;
    asio::co_spawn(ioc, co_snapshot_download(hub, "alice/four"), [&](std::exception_ptr e, fs::path p) {
        failure = e;
        snap = p;
        meter.stop();
    });
    hfhub::test::run_all(ioc);
    BOOST_REQUIRE(!failure);
    BOOST_TEST(fs::file_size(snap / "w3.bin") == (64u << 20));
    BOOST_TEST(meter.ticks() > 30u);  // the snapshot takes 0.1-0.3 s here
    BOOST_TEST_MESSAGE("snapshot of 4 x 64 MiB: " << meter.summary());
    BOOST_TEST(meter.worst() <= test::tick_meter::bound(), meter.summary());
}

BOOST_AUTO_TEST_SUITE_END()

// Local I/O failures are hfhub::errors with a typed code, from the blocking twins and the co_
// calls alike: a missing file or folder to upload, a file that shrinks while it is uploaded, and
// a cache folder that can't be written.
BOOST_AUTO_TEST_SUITE(local_io_errors)

BOOST_AUTO_TEST_CASE(missing_shrinking_and_unwritable_are_typed) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/io", alice_token);
    srv.commit("models/alice/io", "main", {test_server::add_file("a.txt", "a")}, alice_token);
    asio::io_context ioc;
    client hub(ioc.get_executor(), deadlines::config_for(srv, work.path() / "cache"));
    auto code_of = [](auto&& f) -> std::error_code {
        try {
            f();
        } catch (const hfhub::error& e) {
            BOOST_TEST_MESSAGE(error_name(e.code()) << ": " << e.what());
            return e.code();
        } catch (const std::exception& e) {
            BOOST_ERROR("not an hfhub::error: " << e.what());
            return {};
        }
        BOOST_ERROR("no error");
        return {};
    };
    commit_options o;
    o.commit_message = "m";

    // A file to upload that isn't there.
    auto missing = code_of([&] { upload_file(hub, "alice/io", commit_add::file("x.bin", work.path() / "nope.bin"), o); });
    BOOST_TEST(missing == make_error_code(client_errc::io_error), missing.message());
    // A folder to upload that isn't there.
    auto no_dir = code_of([&] { upload_folder(hub, "alice/io", work.path() / "no-such-folder"); });
    BOOST_TEST(no_dir == make_error_code(client_errc::io_error), no_dir.message());

    // A cache folder that can't be written (a file where the folder should be).
    {
        std::ofstream(work.path() / "blocked") << "a file, not a folder";
        client blocked(ioc.get_executor(), deadlines::config_for(srv, work.path() / "blocked" / "cache"));
        auto ro = code_of([&] { hf_hub_download(blocked, "alice/io", "a.txt"); });
        BOOST_TEST(ro == make_error_code(client_errc::io_error), ro.message());
    }

    // A file that shrinks after it was hashed, before its bytes are sent.
    {
        fs::path f = work.path() / "shrinks.bin";
        std::ofstream(f) << std::string(1u << 20, 's');
        std::vector<commit_operation> ops;
        ops.emplace_back(commit_add::file("s.bin", f));
        commit_options po = o;
        bool shrunk = false;
        po.progress = [&](const commit_progress& p) {
            if (!shrunk && p.what != commit_progress::stage::hashing) {  // hashed, not yet sent
                fs::resize_file(f, 10);
                shrunk = true;
            }
        };
        auto changed = code_of([&] { create_commit(hub, "alice/io", std::move(ops), po); });
        BOOST_TEST(shrunk);
        BOOST_TEST(changed == make_error_code(client_errc::local_file_changed), changed.message());
        BOOST_TEST(srv.get("/api/models/alice/io/tree/main", alice_token).body.find("s.bin") == std::string::npos);
    }
}

BOOST_AUTO_TEST_SUITE_END()
