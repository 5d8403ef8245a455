// Every public co_ function called the way a user's coroutine calls it: inside co_await
// expressions, with default arguments, `{}` for options, string literals for std::string
// parameters, temporary paths, and options returned by value from a function. g++ 12 destroyed
// a brace-initialised default argument ("= {}") twice in the caller's frame; under ASan
// (scripts/sanitize.sh) any such mistake fails here. Also: every failure leaves as an hfhub::error, a cancelled call
// included, and an unreachable Hub costs a cached file one attempt, not the retry policy.
#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/receipts.hpp>
#include <hfhub/mirror.hpp>
#include <hfhub/mixin.hpp>
#include <hfhub/model_card.hpp>
#include <hfhub/repo_api.hpp>

#include "client_util.hpp"
#include "tick_meter.hpp"
#include "hub_helpers.hpp"
#include "util/fs.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/describe/class.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace cocalls {

struct tiny_config {
    int width = 3;
    bool operator==(const tiny_config&) const = default;
};
BOOST_DESCRIBE_STRUCT(tiny_config, (), (width))

class tiny : public safetensors_model_hub_mixin<tiny> {
public:
    using config_type = tiny_config;
    tiny() : tiny(tiny_config()) {}
    explicit tiny(tiny_config c) : cfg_(c), w_(static_cast<std::size_t>(c.width), 0.5f) {}
    const tiny_config& config() const { return cfg_; }
    safetensors::tensor_list named_tensors() const {
        return {{"w", safetensors::make_view(safetensors::dtype::F32, {w_.size()}, std::span<const float>(w_))}};
    }
    static tiny from_config(tiny_config c) { return tiny(c); }
    void load_tensors(const safetensors::checkpoint& ck) {
        auto s = ck.at("w").as<float>();
        w_.assign(s.begin(), s.end());
    }
    bool operator==(const tiny&) const = default;

private:
    tiny_config cfg_;
    std::vector<float> w_;
};

// Options made by a function: a prvalue, as users get from their own helpers.
commit_options message(std::string m) {
    commit_options o;
    o.commit_message = std::move(m);
    return o;
}
// Lists made by functions too: g++ 12 can't compile a braced list in a co_await expression.
std::vector<commit_add> one_add() {
    std::vector<commit_add> v;
    v.push_back(commit_add::bytes("c.txt", "gamma"));
    return v;
}
std::vector<std::string> two_paths() {
    std::vector<std::string> v;
    v.emplace_back("a.txt");
    v.emplace_back("missing");
    return v;
}
std::vector<commit_operation> two_files() {
    std::vector<commit_operation> ops;
    ops.emplace_back(commit_add::bytes("a.txt", "alpha"));
    ops.emplace_back(commit_add::bytes("dir/b.txt", "beta"));
    return ops;
}
repo_settings make_private() {
    repo_settings s;
    s.is_private = true;
    return s;
}
pull_request_options titled(std::string t) {
    pull_request_options p;
    p.title = std::move(t);
    return p;
}
http_request get(std::string url) {
    http_request r;
    r.url = std::move(url);
    return r;
}

struct seen {
    std::vector<std::string> calls;
    void operator()(std::string name) { calls.push_back(std::move(name)); }
};

// The user's coroutines. Each line is one public call as the docs write it. First: commits,
// uploads and downloads.
asio::awaitable<void> transfer_calls(client& hub, fs::path work, seen& s) {
    auto repo = co_await co_create_repo(hub, "alice/calls");
    BOOST_TEST(repo.repo_id == "alice/calls");
    s("co_create_repo");

    auto c1 = co_await co_create_commit(hub, "alice/calls", two_files(), message("two files"));
    BOOST_TEST(c1.changed);
    s("co_create_commit");

    auto pre = co_await co_preupload_lfs_files(hub, "alice/calls", one_add(), message("pre"));
    BOOST_TEST(pre.size() == 1u);
    s("co_preupload_lfs_files");
    auto receipts = co_await co_preupload(hub, "alice/calls", one_add(), message("pre"));
    BOOST_TEST((receipts.size() == 1u && receipts[0].repo_id == "alice/calls"));
    s("co_preupload");

    auto up = co_await co_upload_file(hub, "alice/calls", commit_add::bytes("d.txt", "delta"));
    BOOST_TEST(up.changed);
    s("co_upload_file");

    fs::create_directories(work / "folder");
    std::ofstream(work / "folder" / "e.txt") << "epsilon";
    auto folder = co_await co_upload_folder(hub, "alice/calls", work / "folder");
    BOOST_TEST(folder.changed);
    s("co_upload_folder");

    auto pushed = co_await co_push_to_hub(hub, "alice/pushed", work / "folder");
    BOOST_TEST(pushed.changed);
    s("co_push_to_hub");

    fs::path a = co_await co_hf_hub_download(hub, "alice/calls", "a.txt");
    BOOST_TEST(util::read_file(a).value_or("") == "alpha");
    s("co_hf_hub_download");

    fs::path snap = co_await co_snapshot_download(hub, "alice/calls");
    BOOST_TEST(fs::exists(snap / "dir" / "b.txt"));
    s("co_snapshot_download");
}

// Metadata, refs, pull requests and settings.
asio::awaitable<void> metadata_calls(client& hub, seen& s) {
    auto info = co_await co_repo_info(hub, "alice/calls");
    BOOST_TEST(info.sha.size() == 40u);
    s("co_repo_info");
    repo_info_query expand_downloads;
    expand_downloads.expand = {"downloads", "downloadsAllTime"};
    auto counted = co_await co_repo_info(hub, "alice/calls", expand_downloads);
    BOOST_TEST(counted.downloads_all_time.has_value());
    s("co_repo_info with expand");

    auto tree = co_await co_list_repo_tree(hub, "alice/calls");
    BOOST_TEST(!tree.empty());
    s("co_list_repo_tree");

    auto paths = co_await co_get_paths_info(hub, "alice/calls", two_paths());
    BOOST_TEST(paths.size() == 1u);
    s("co_get_paths_info");

    co_await co_create_branch(hub, "alice/calls", "dev");
    s("co_create_branch");
    co_await co_create_tag(hub, "alice/calls", "v1");
    s("co_create_tag");

    auto refs = co_await co_list_repo_refs(hub, "alice/calls");
    BOOST_TEST(refs.branches.size() == 2u);
    BOOST_TEST(refs.tags.size() == 1u);
    s("co_list_repo_refs");

    auto commits = co_await co_list_repo_commits(hub, "alice/calls");
    BOOST_TEST(commits.size() >= 3u);
    s("co_list_repo_commits");

    BOOST_TEST(co_await co_file_exists(hub, "alice/calls", "dir/b.txt"));
    BOOST_TEST(!(co_await co_file_exists(hub, "alice/calls", "nope.txt")));
    s("co_file_exists");

    auto me = co_await co_whoami(hub);
    BOOST_TEST(me.name == "alice");
    s("co_whoami");

    auto pr = co_await co_create_pull_request(hub, "alice/calls", titled("Retrain"));
    BOOST_TEST(pr.num >= 1u);
    s("co_create_pull_request");

    co_await co_delete_tag(hub, "alice/calls", "v1");
    s("co_delete_tag");
    co_await co_delete_branch(hub, "alice/calls", "dev");
    s("co_delete_branch");
    co_await co_update_repo_settings(hub, "alice/calls", make_private());
    s("co_update_repo_settings");
}

// Model cards, the mirror, the mixin, the raw client, and deleting a repo.
asio::awaitable<void> other_calls(client& hub, client& other, fs::path work, seen& s) {
    auto card = model_card(boost::json::object{{"license", "mit"}}, "A card\n");
    auto card_commit = co_await card.co_push_to_hub(hub, "alice/calls");
    BOOST_TEST(card_commit.changed);
    s("model_card::co_push_to_hub");
    auto loaded = co_await model_card::co_load(hub, "alice/calls");
    BOOST_TEST(loaded.text() == "A card\n");
    s("model_card::co_load");

    auto mirrored = co_await co_mirror(hub, other, "alice/calls", "alice/mirrored");
    BOOST_TEST(mirrored.commit.changed);
    s("co_mirror");

    auto model_commit = co_await tiny(tiny_config()).co_push_to_hub(hub, "alice/tiny");
    BOOST_TEST(model_commit.changed);
    s("mixin co_push_to_hub");
    tiny back = co_await tiny::co_from_pretrained(hub, "alice/tiny");
    BOOST_TEST((back == tiny(tiny_config())));
    s("mixin co_from_pretrained");
    co_await tiny(tiny_config()).co_save_pretrained(hub, work / "saved");
    BOOST_TEST((tiny::from_pretrained(work / "saved") == tiny(tiny_config())));
    s("mixin co_save_pretrained");
    tiny::save_options push_too;
    push_too.push_to_hub = true;
    push_too.repo_id = "alice/tiny-saved";
    auto saved = co_await tiny(tiny_config()).co_save_pretrained(hub, work / "saved-pushed", push_too);
    BOOST_TEST((saved && saved->changed));
    s("mixin co_save_pretrained with save_options");
    tiny_config same;  // named: g++ 12 mishandles a braced temporary in a co_await expression
    auto with_config = co_await tiny(tiny_config()).co_push_to_hub(hub, "alice/tiny", same);
    BOOST_TEST(!with_config.changed);  // the same config and weights as the first push
    s("mixin co_push_to_hub with a config");
    card_validate_options as_model;
    model_card valid(boost::json::object{{"license", "mit"}}, "Valid\n");  // a braced list can't be in a co_await on g++ 12
    auto warnings = co_await valid.co_validate(hub, as_model);
    BOOST_TEST(warnings.empty());
    s("model_card::co_validate");
    auto raw_warnings = co_await co_validate_card(hub, "no front matter\n", as_model);
    BOOST_TEST(raw_warnings.size() == 1u);
    s("co_validate_card");

    auto resp = co_await hub.co_request(get(hub.settings().endpoint + "/api/whoami-v2"));
    BOOST_TEST(resp.status == 200u);
    s("client::co_request");
    std::string body;
    auto streamed = co_await hub.co_stream(get(hub.settings().endpoint + "/alice/calls/resolve/main/a.txt"),
                                           test::string_sink(body));
    BOOST_TEST(streamed.status == 200u);
    BOOST_TEST(body == "alpha");
    s("client::co_stream");

    co_await co_delete_repo(hub, "alice/mirrored");
    s("co_delete_repo");
}

// Every options argument written `{}`, as the pitfall reads: `co_await f(hub, "x", {})`. g++ 12
// builds such an aggregate temporary in one place of the caller's frame and destroys another
// (ASan: a free of a pointer never allocated); the use_defaults overloads keep `{}` from
// building one.
asio::awaitable<void> brace_calls(client& hub, client& other, fs::path work, seen& s) {
    auto repo = co_await co_create_repo(hub, "alice/braces", {});
    BOOST_TEST(repo.repo_id == "alice/braces");
    s("co_create_repo");
    // A commit needs a message (as in Python): the defaults are refused, typed.
    bool refused = false;
    try {
        co_await co_create_commit(hub, "alice/braces", two_files(), {});
    } catch (const hfhub::error& e) {
        refused = e.code() == client_errc::invalid_argument;
    }
    BOOST_TEST(refused, "a commit without a message was not refused as invalid_argument");
    s("co_create_commit");
    BOOST_TEST((co_await co_create_commit(hub, "alice/braces", two_files(), message("two files"))).changed);
    BOOST_TEST((co_await co_preupload_lfs_files(hub, "alice/braces", one_add(), {})).size() == 1u);
    s("co_preupload_lfs_files");
    BOOST_TEST((co_await co_preupload(hub, "alice/braces", one_add(), {})).size() == 1u);
    s("co_preupload");
    BOOST_TEST((co_await co_upload_file(hub, "alice/braces", commit_add::bytes("d.txt", "delta"), {})).changed);
    s("co_upload_file");
    fs::create_directories(work / "braces");
    std::ofstream(work / "braces" / "e.txt") << "epsilon";
    BOOST_TEST((co_await co_upload_folder(hub, "alice/braces", work / "braces", {})).changed);
    s("co_upload_folder");
    BOOST_TEST((co_await co_push_to_hub(hub, "alice/braces-pushed", work / "braces", {})).changed);
    s("co_push_to_hub");
    fs::path a = co_await co_hf_hub_download(hub, "alice/braces", "a.txt", {});
    BOOST_TEST(util::read_file(a).value_or("") == "alpha");
    s("co_hf_hub_download");
    fs::path snap = co_await co_snapshot_download(hub, "alice/braces", {});
    BOOST_TEST(fs::exists(snap / "e.txt"));
    s("co_snapshot_download");

    BOOST_TEST((co_await co_repo_info(hub, "alice/braces", {})).sha.size() == 40u);
    s("co_repo_info");
    BOOST_TEST(!(co_await co_list_repo_tree(hub, "alice/braces", {})).empty());
    s("co_list_repo_tree");
    BOOST_TEST((co_await co_get_paths_info(hub, "alice/braces", two_paths(), {})).size() == 1u);
    s("co_get_paths_info");
    co_await co_create_branch(hub, "alice/braces", "dev", {});
    s("co_create_branch");
    co_await co_create_tag(hub, "alice/braces", "v1", {});
    s("co_create_tag");
    auto refs = co_await co_list_repo_refs(hub, "alice/braces", {});
    BOOST_TEST(refs.branches.size() == 2u);
    s("co_list_repo_refs");
    BOOST_TEST((co_await co_list_repo_commits(hub, "alice/braces", {})).size() >= 3u);
    s("co_list_repo_commits");
    BOOST_TEST(co_await co_file_exists(hub, "alice/braces", "d.txt", {}));
    s("co_file_exists");
    BOOST_TEST((co_await co_whoami(hub, {})).name == "alice");
    s("co_whoami");
    // The defaults have no title: the Hub's refusal comes back typed, and the caller lives on.
    bool pr_refused = false;
    try {
        co_await co_create_pull_request(hub, "alice/braces", {});
    } catch (const hfhub::error&) {
        pr_refused = true;
    }
    BOOST_TEST(pr_refused, "a pull request without a title was accepted");
    s("co_create_pull_request");
    co_await co_delete_tag(hub, "alice/braces", "v1", {});
    s("co_delete_tag");
    co_await co_delete_branch(hub, "alice/braces", "dev", {});
    s("co_delete_branch");
    co_await co_update_repo_settings(hub, "alice/braces", {});
    s("co_update_repo_settings");

    auto card = model_card(boost::json::object{{"license", "mit"}}, "Braces\n");
    BOOST_TEST((co_await card.co_push_to_hub(hub, "alice/braces", {})).changed);
    s("model_card::co_push_to_hub");
    BOOST_TEST((co_await model_card::co_load(hub, "alice/braces", {})).text() == "Braces\n");
    s("model_card::co_load");
    BOOST_TEST((co_await co_mirror(hub, other, "alice/braces", "alice/braces-mirrored", {})).commit.changed);
    s("co_mirror");
    BOOST_TEST((co_await tiny(tiny_config()).co_push_to_hub(hub, "alice/braces-tiny", {})).changed);
    s("mixin co_push_to_hub");
    tiny back = co_await tiny::co_from_pretrained(hub, "alice/braces-tiny", {});
    BOOST_TEST((back == tiny(tiny_config())));
    s("mixin co_from_pretrained");
    co_await tiny(tiny_config()).co_save_pretrained(hub, work / "braces-saved", {});
    BOOST_TEST((tiny::from_pretrained(work / "braces-saved") == tiny(tiny_config())));
    s("mixin co_save_pretrained");
    model_card valid(boost::json::object{{"license", "mit"}}, "Valid\n");  // a braced list can't be in a co_await on g++ 12
    BOOST_TEST((co_await valid.co_validate(hub, {})).empty());
    s("model_card::co_validate");
    BOOST_TEST((co_await co_validate_card(hub, "no front matter\n", {})).size() == 1u);
    s("co_validate_card");
    co_await co_delete_repo(hub, "alice/braces-mirrored", {});
    s("co_delete_repo");
}

asio::awaitable<void> user_code(client& hub, client& other, fs::path work, seen& s) {
    co_await transfer_calls(hub, work, s);
    co_await metadata_calls(hub, s);
    co_await other_calls(hub, other, work, s);
}

config config_for(const test_server& srv, const fs::path& cache) {
    return test::user_config(srv.url(), alice_token, cache);
}

// Runs one of the user's coroutines above on its own io_context against a fresh Hub, with two
// clients; a failure names how many calls went through first. Returns the calls made.
std::size_t calls_made_by(asio::awaitable<void> (*user)(client&, client&, fs::path, seen&)) {
    test_server srv;
    temp_dir work;
    asio::io_context ioc;
    client hub(ioc.get_executor(), config_for(srv, work.path() / "cache"));
    client other(ioc.get_executor(), config_for(srv, work.path() / "cache"));
    seen s;
    std::exception_ptr failure;
    asio::co_spawn(ioc, user(hub, other, work.path(), s), [&](std::exception_ptr e) { failure = e; });
    hfhub::test::run_all(ioc);
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            BOOST_FAIL("after " << s.calls.size() << " calls: " << e.what());
        }
    }
    return s.calls.size();
}

}  // namespace cocalls

BOOST_AUTO_TEST_SUITE(coroutine_calls)

BOOST_AUTO_TEST_CASE(every_public_co_function_from_a_user_coroutine) {
    // 36 calls: every co_ function in the public headers (each overload with an options type of
    // its own), and the client's two.
    BOOST_TEST(cocalls::calls_made_by(cocalls::user_code) == 36u);
}

// The same functions, each with `{}` for its options (those without options are left out:
// the client's co_request and co_stream).
BOOST_AUTO_TEST_CASE(every_options_argument_written_as_empty_braces) {
    BOOST_TEST(cocalls::calls_made_by(cocalls::brace_calls) == 31u);
}

// A cancellation that lands anywhere in a commit surfaces as hfhub::error(cancelled), never
// as Asio's own operation_aborted, whichever co_await noticed it; and nothing is committed.
BOOST_AUTO_TEST_CASE(a_cancelled_commit_is_typed_and_commits_nothing) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/slow", alice_token);
    // Big enough that the commit is still hashing or uploading when most cancels land.
    const std::string big(48u << 20, 'x');
    unsigned cancelled = 0;
    for (int at_ms : {0, 2, 10, 30, 80, 200}) {
        asio::io_context ioc;
        client hub(ioc.get_executor(), cocalls::config_for(srv, work.path() / "cache"));
        std::vector<commit_operation> ops;
        std::string name = "big" + std::to_string(at_ms) + ".bin";
        ops.emplace_back(commit_add::bytes(name, big));
        asio::cancellation_signal sig;
        std::exception_ptr failure;
        bool finished = false;
        asio::co_spawn(ioc, co_create_commit(hub, "alice/slow", std::move(ops), cocalls::message("big")),
                       asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, commit_info) {
                           failure = e;
                           finished = true;
                       }));
        asio::steady_timer t(ioc, std::chrono::milliseconds(at_ms));
        t.async_wait([&](boost::system::error_code) {
            if (!finished) sig.emit(asio::cancellation_type::terminal);
        });
        hfhub::test::run_all(ioc);
        BOOST_REQUIRE(finished);
        auto tree = srv.get("/api/models/alice/slow/tree/main", alice_token).body;
        if (!failure) {
            BOOST_TEST(tree.find(name) != std::string::npos);  // it won the race: it landed
            continue;
        }
        try {
            std::rethrow_exception(failure);
        } catch (const hfhub::error& e) {
            BOOST_TEST(e.code() == make_error_code(client_errc::cancelled), "at " << at_ms << " ms: " << e.what());
        } catch (const std::exception& e) {
            BOOST_ERROR("at " << at_ms << " ms a non-hfhub exception escaped: " << e.what());
        }
        ++cancelled;
        BOOST_TEST(tree.find(name) == std::string::npos, "at " << at_ms << " ms the commit landed anyway");
    }
    BOOST_TEST(cancelled >= 3u);  // most cancels land mid-call
}

BOOST_AUTO_TEST_CASE(an_unreachable_hub_answers_from_the_cache_after_one_attempt) {
    temp_dir work;
    fs::path cache = work.path() / "cache";
    {
        test_server srv;
        srv.create_repo("alice/offline", alice_token);
        BOOST_REQUIRE_EQUAL(srv.commit("models/alice/offline", "main", {test_server::add_file("f.txt", "cached")},
                                       alice_token).status,
                            200u);
        asio::io_context ioc;
        client hub(ioc.get_executor(), cocalls::config_for(srv, cache));
        test::run(ioc, co_hf_hub_download(hub, "alice/offline", "f.txt"));
    }
    // A port nothing listens on: connection refused.
    std::string dead;
    {
        asio::io_context ioc;
        asio::ip::tcp::acceptor a(ioc, {asio::ip::make_address("127.0.0.1"), 0});
        dead = "http://127.0.0.1:" + std::to_string(a.local_endpoint().port());
    }
    config cfg;  // the default retry policy: 5 retries from 1 s, about 16 s in all
    cfg.endpoint = dead;
    cfg.token = alice_token;
    cfg.hub_cache = cache;
    asio::io_context ioc;
    std::thread runner;
    auto guard = asio::make_work_guard(ioc);
    runner = std::thread([&] { ioc.run(); });
    client hub(ioc.get_executor(), cfg);

    auto t0 = std::chrono::steady_clock::now();
    fs::path p = hf_hub_download(hub, "alice/offline", "f.txt");
    auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(util::read_file(p).value_or("") == "cached");
    BOOST_TEST(took < std::chrono::seconds(1), "took " << std::chrono::duration<double>(took).count() << " s");

    // Not cached: the retry policy applies (quick here), then a typed failure.
    config quick = test::quick_config(dead);
    quick.hub_cache = cache;
    quick.retry.max_retries = 2;
    quick.retry.base_delay = std::chrono::milliseconds(100);
    quick.retry.max_delay = std::chrono::milliseconds(200);
    client hub2(ioc.get_executor(), quick);
    t0 = std::chrono::steady_clock::now();
    auto ec = test::error_of([&] { hf_hub_download(hub2, "alice/offline", "other.txt"); });
    took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(ec == make_error_code(client_errc::connection_failed), ec.message());
    BOOST_TEST(took >= std::chrono::milliseconds(100), "no retry was made");
    guard.reset();
    runner.join();
}

// The user's io_context keeps its own timers on time while a big upload runs on it: hashing
// and file I/O happen off the I/O thread. One thread runs everything here, as in a small service.
BOOST_AUTO_TEST_CASE(a_timer_keeps_ticking_during_a_big_upload) {
    test_server srv;
    temp_dir work;
    {
        std::ofstream out(work.path() / "big.bin", std::ios::binary);
        std::string block(1u << 20, '\0');
        for (unsigned i = 0; i < 512; ++i) {
            for (std::size_t j = 0; j < block.size(); j += 4096) block[j] = static_cast<char>(i + j / 4096);
            out.write(block.data(), static_cast<std::streamsize>(block.size()));
        }
    }
    asio::io_context ioc(1);
    client hub(ioc.get_executor(), cocalls::config_for(srv, work.path() / "cache"));
    srv.create_repo("alice/ticks", alice_token);
    test::tick_meter meter(ioc);
    std::exception_ptr failure;
    asio::co_spawn(ioc, co_upload_file(hub, "alice/ticks", commit_add::file("big.bin", work.path() / "big.bin")),
                   [&](std::exception_ptr e, commit_info) {
                       failure = e;
                       meter.stop();
                   });
    hfhub::test::run_all(ioc);
    BOOST_REQUIRE(!failure);
    BOOST_TEST(meter.ticks() > 100u);
    BOOST_TEST_MESSAGE("upload of 512 MiB: " << meter.summary());
    BOOST_TEST(meter.worst() <= test::tick_meter::bound(), meter.summary());
}

BOOST_AUTO_TEST_SUITE_END()
