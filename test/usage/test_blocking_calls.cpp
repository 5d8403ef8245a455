// Every blocking twin as a script calls it: from a plain main() whose io_context nobody runs.
// They used to co_spawn onto the client's executor and wait, which hung forever there. A
// watchdog turns a hang into a failure. Also: a twin on a thread that runs the client's
// executor is refused with a typed error at once, instead of waiting on itself.
#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/mirror.hpp>
#include <hfhub/mixin.hpp>
#include <hfhub/receipts.hpp>
#include <hfhub/model_card.hpp>
#include <hfhub/repo_api.hpp>

#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "util/fs.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe/class.hpp>
#include <boost/test/unit_test.hpp>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace blocking {

struct small_config {
    int width = 2;
    bool operator==(const small_config&) const = default;
};
BOOST_DESCRIBE_STRUCT(small_config, (), (width))

class small : public safetensors_model_hub_mixin<small> {
public:
    using config_type = small_config;
    small() : small(small_config()) {}
    explicit small(small_config c) : cfg_(c), w_(static_cast<std::size_t>(c.width), 0.25f) {}
    const small_config& config() const { return cfg_; }
    safetensors::tensor_list named_tensors() const {
        return {{"w", safetensors::make_view(safetensors::dtype::F32, {w_.size()}, std::span<const float>(w_))}};
    }
    static small from_config(small_config c) { return small(c); }
    void load_tensors(const safetensors::checkpoint& ck) {
        auto s = ck.at("w").as<float>();
        w_.assign(s.begin(), s.end());
    }
    bool operator==(const small&) const = default;

private:
    small_config cfg_;
    std::vector<float> w_;
};

// A hang must fail the run, not stall ctest until its timeout: after `seconds` the process
// exits with the name of the call it was stuck in.
class watchdog {
public:
    explicit watchdog(int seconds)
        : thread_([this, seconds] {
              std::unique_lock lk(mu_);
              if (!cv_.wait_for(lk, std::chrono::seconds(seconds), [&] { return done_; })) {
                  std::fprintf(stderr, "blocking call '%s' did not return within %d s\n", current_.c_str(), seconds);
                  std::_Exit(3);
              }
          }) {}
    ~watchdog() {
        {
            std::lock_guard lk(mu_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    void at(std::string call) {
        std::lock_guard lk(mu_);
        current_ = std::move(call);
        ++calls_;
    }
    unsigned calls() {
        std::lock_guard lk(mu_);
        return calls_;
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false;
    std::string current_ = "(none yet)";
    unsigned calls_ = 0;
    std::thread thread_;
};

config config_for(const test_server& srv, const fs::path& cache) {
    return test::user_config(srv.url(), alice_token, cache);
}

commit_options message(std::string m) {
    commit_options o;
    o.commit_message = std::move(m);
    return o;
}

std::vector<commit_operation> two_files() {
    std::vector<commit_operation> ops;
    ops.emplace_back(commit_add::bytes("a.txt", "alpha"));
    ops.emplace_back(commit_add::bytes("dir/b.txt", "beta"));
    return ops;
}

}  // namespace blocking

BOOST_AUTO_TEST_SUITE(blocking_calls)

// The script: an io_context that nobody runs, and one blocking call after another.
BOOST_AUTO_TEST_CASE(every_blocking_twin_from_a_plain_main) {
    test_server srv;
    temp_dir work;
    asio::io_context ioc;  // never run
    client hub(ioc.get_executor(), blocking::config_for(srv, work.path() / "cache"));
    client other(ioc.get_executor(), blocking::config_for(srv, work.path() / "cache"));
    blocking::watchdog dog(120);

    dog.at("create_repo");
    BOOST_TEST(create_repo(hub, "alice/script").repo_id == "alice/script");
    dog.at("create_commit");
    BOOST_TEST(create_commit(hub, "alice/script", blocking::two_files(), blocking::message("two files")).changed);
    dog.at("preupload_lfs_files");
    {
        std::vector<commit_add> adds;
        adds.push_back(commit_add::bytes("c.txt", "gamma"));
        BOOST_TEST(preupload_lfs_files(hub, "alice/script", std::move(adds), blocking::message("pre")).size() == 1u);
    }
    dog.at("preupload");
    {
        std::vector<commit_add> adds;
        adds.push_back(commit_add::bytes("c.txt", "gamma"));
        BOOST_TEST(preupload(hub, "alice/script", std::move(adds), blocking::message("pre")).size() == 1u);
    }
    dog.at("upload_file");
    BOOST_TEST(upload_file(hub, "alice/script", commit_add::bytes("d.txt", "delta")).changed);
    fs::create_directories(work.path() / "folder");
    std::ofstream(work.path() / "folder" / "e.txt") << "epsilon";
    dog.at("upload_folder");
    BOOST_TEST(upload_folder(hub, "alice/script", work.path() / "folder").changed);
    dog.at("push_to_hub");
    BOOST_TEST(push_to_hub(hub, "alice/script-pushed", work.path() / "folder").changed);
    dog.at("hf_hub_download");
    BOOST_TEST(util::read_file(hf_hub_download(hub, "alice/script", "a.txt")).value_or("") == "alpha");
    dog.at("snapshot_download");
    BOOST_TEST(fs::exists(snapshot_download(hub, "alice/script") / "dir" / "b.txt"));
    dog.at("repo_info");
    BOOST_TEST(repo_info(hub, "alice/script").sha.size() == 40u);
    dog.at("repo_info with expand");
    {
        repo_info_query q;
        q.expand = {"downloads"};
        BOOST_TEST(repo_info(hub, "alice/script", q).downloads.has_value());
    }
    dog.at("list_repo_tree");
    BOOST_TEST(!list_repo_tree(hub, "alice/script").empty());
    dog.at("get_paths_info");
    BOOST_TEST(get_paths_info(hub, "alice/script", {"a.txt"}).size() == 1u);
    dog.at("create_branch");
    create_branch(hub, "alice/script", "dev");
    dog.at("create_tag");
    create_tag(hub, "alice/script", "v1");
    dog.at("list_repo_refs");
    BOOST_TEST(list_repo_refs(hub, "alice/script").tags.size() == 1u);
    dog.at("list_repo_commits");
    BOOST_TEST(list_repo_commits(hub, "alice/script").size() >= 3u);
    dog.at("file_exists");
    BOOST_TEST(file_exists(hub, "alice/script", "dir/b.txt"));
    dog.at("whoami");
    BOOST_TEST(whoami(hub).name == "alice");
    dog.at("create_pull_request");
    {
        pull_request_options pr;
        pr.title = "Retrain";
        BOOST_TEST(create_pull_request(hub, "alice/script", pr).num >= 1u);
    }
    dog.at("delete_tag");
    delete_tag(hub, "alice/script", "v1");
    dog.at("delete_branch");
    delete_branch(hub, "alice/script", "dev");
    dog.at("update_repo_settings");
    {
        repo_settings s;
        s.is_private = true;
        update_repo_settings(hub, "alice/script", s);
    }
    dog.at("model_card::push_to_hub");
    BOOST_TEST(model_card(boost::json::object{{"license", "mit"}}, "A card\n").push_to_hub(hub, "alice/script").changed);
    dog.at("model_card::load");
    BOOST_TEST(model_card::load(hub, "alice/script").text() == "A card\n");
    dog.at("model_card::validate");
    BOOST_TEST(model_card(boost::json::object{{"license", "mit"}}, "A card\n").validate(hub).empty());
    dog.at("validate_card");
    BOOST_TEST(validate_card(hub, "no front matter\n").size() == 1u);
    dog.at("mirror");
    BOOST_TEST(mirror(hub, other, "alice/script", "alice/script-mirror").commit.changed);
    dog.at("mixin push_to_hub");
    {
        // The mixin saves into its working folder first.
        BOOST_TEST(blocking::small(blocking::small_config()).push_to_hub(hub, "alice/small").changed);
    }
    dog.at("mixin push_to_hub with a config");
    BOOST_TEST(!blocking::small(blocking::small_config()).push_to_hub(hub, "alice/small", blocking::small_config()).changed);
    dog.at("mixin save_pretrained with a push");
    {
        blocking::small::save_options o;
        o.push_to_hub = true;
        o.repo_id = "alice/small-saved";
        BOOST_TEST(blocking::small(blocking::small_config()).save_pretrained(hub, work.path() / "small", o).has_value());
    }
    dog.at("mixin from_pretrained");
    BOOST_TEST((blocking::small::from_pretrained(hub, "alice/small") == blocking::small(blocking::small_config())));
    dog.at("client::request");
    {
        http_request r;
        r.url = hub.settings().endpoint + "/api/whoami-v2";
        BOOST_TEST(hub.request(r).status == 200u);
    }
    dog.at("delete_repo");
    delete_repo(hub, "alice/script-mirror");
    BOOST_TEST(dog.calls() == 34u);  // every blocking twin in the public headers, and client::request
    // Nothing ran on the io_context the client was made with.
    BOOST_TEST(ioc.poll() == 0u);
}

// A twin on the thread that runs the client's executor would wait on that thread. It is refused
// with a typed error at once, for an io_context and for a thread_pool.
BOOST_AUTO_TEST_CASE(a_twin_on_the_executors_own_thread_is_refused_at_once) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/own", alice_token);

    auto expect_refused = [](client& hub, const char* where) {
        auto t0 = std::chrono::steady_clock::now();
        try {
            (void)repo_info(hub, "alice/own");
            BOOST_ERROR(where << ": the blocking call on the executor's thread returned");
        } catch (const hfhub::error& e) {
            BOOST_TEST(e.code() == make_error_code(client_errc::would_deadlock), where << ": " << e.what());
        }
        BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1)), where);
    };

    {
        asio::io_context ioc;
        client hub(ioc.get_executor(), blocking::config_for(srv, work.path() / "cache"));
        bool ran = false;
        asio::post(ioc, [&] {
            expect_refused(hub, "io_context handler");
            ran = true;
        });
        // From a coroutine on it too, which then goes on with the co_ call.
        std::string sha;
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                expect_refused(hub, "io_context coroutine");
                sha = (co_await co_repo_info(hub, "alice/own")).sha;
            },
            [](std::exception_ptr e) {
                if (e) std::rethrow_exception(e);
            });
        ioc.run();
        BOOST_TEST(ran);
        BOOST_TEST(sha.size() == 40u);
    }
    {
        asio::thread_pool pool(2);
        client hub(pool.get_executor(), blocking::config_for(srv, work.path() / "cache"));
        std::promise<void> done;
        asio::post(pool, [&] {
            expect_refused(hub, "thread_pool handler");
            done.set_value();
        });
        done.get_future().wait();
        pool.join();
    }
}

// The caller's io_context runs on another thread (a service): blocking calls work from here,
// and co_ calls on that io_context at the same time are unaffected.
BOOST_AUTO_TEST_CASE(blocking_and_co_calls_side_by_side) {
    test_server srv;
    temp_dir work;
    srv.create_repo("alice/side", alice_token);
    srv.commit("models/alice/side", "main", {test_server::add_file("x.txt", "x")}, alice_token);
    asio::io_context ioc;
    auto guard = asio::make_work_guard(ioc);
    std::thread runner([&] { ioc.run(); });
    client hub(ioc.get_executor(), blocking::config_for(srv, work.path() / "cache"));
    std::atomic<int> co_done{0}, co_failed{0};  // Boost.Test's checks are for this thread only
    for (int i = 0; i < 20; ++i)
        asio::co_spawn(
            ioc, [&]() -> asio::awaitable<void> { co_await co_file_exists(hub, "alice/side", "x.txt"); },
            [&](std::exception_ptr e) {
                if (e) ++co_failed;
                ++co_done;
            });
    for (int i = 0; i < 20; ++i) BOOST_TEST(file_exists(hub, "alice/side", "x.txt"));
    while (co_done.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    guard.reset();
    runner.join();
    BOOST_TEST(co_failed.load() == 0);
    // Two sets of connections, one per context, each reused.
    BOOST_TEST(hub.stats().reused > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
