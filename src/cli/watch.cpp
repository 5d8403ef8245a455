// `hfhub upload --watch`: complete checkpoint folders become commits, in order, while the next
// one is already being hashed and uploaded. At most two checkpoints are in flight: the one that
// commits next, and the one after it.
#include "cli/format.hpp"
#include "cli/progress.hpp"
#include "cli/watch.hpp"

#include <hfhub/client.hpp>

#include "upload/payload.hpp"
#include "upload/pipeline.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <csignal>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

namespace hfhub::cli {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

json::object commit_json(const std::string& repo_id, const commit_info& info) {
    json::object o;
    o["repo_id"] = repo_id;
    o["oid"] = info.oid;
    o["commit_url"] = info.url;
    o["pr_url"] = info.pr_url ? json::value(*info.pr_url) : json::value(nullptr);
    o["pr_num"] = info.pr_num ? json::value(*info.pr_num) : json::value(nullptr);
    o["changed"] = info.changed;
    o["commits"] = info.commits;
    o["operations"] = info.operations;
    o["lfs_files_uploaded"] = info.files_uploaded;
    o["lfs_bytes_uploaded"] = info.bytes_uploaded;
    return o;
}

namespace {

constexpr std::size_t max_in_flight = 2;

// One progress line shared by the checkpoints in flight; restarted after each message.
class bars {
public:
    explicit bars(bool on) : on_(on), bar_(std::make_unique<progress_bar>(!on)) {}
    void update(const std::string& key, std::uint64_t done, std::uint64_t total) {
        if (!on_) return;
        std::lock_guard lk(mu_);
        bar_->update(key, done, total);
    }
    void reset() {
        if (!on_) return;
        std::lock_guard lk(mu_);
        bar_->finish();
        bar_ = std::make_unique<progress_bar>(false);
    }

private:
    bool on_;
    std::mutex mu_;
    std::unique_ptr<progress_bar> bar_;
};

struct item {
    checkpoint_folder folder;
    std::string dest;  // the folder in the repo
    std::vector<commit_add> adds;
    std::size_t files = 0;
    bool done = false;       // the preupload finished, or failed
    bool abandoned = false;  // stopped before its commit: never committed
    std::exception_ptr error;
    asio::cancellation_signal cancel;
};

std::string count(std::uint64_t n, const std::string& what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

std::string what_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown error";
    }
}

class watcher {
public:
    using strand = asio::strand<asio::io_context::executor_type>;

    watcher(strand ex, client& hub, watch_settings s)
        : ex_(ex), hub_(hub), s_(std::move(s)), dw_(ex, s_.dir, s_.use_inotify), wake_(ex),
          signals_(ex, SIGINT, SIGTERM), bars_(s_.progress) {}

    asio::awaitable<int> co_run() {
        auto& p = s_.push;
        id_ = co_await upload::co_ensure_target(hub_, s_.repo, p.type, p.revision, p.is_private, p.create_pr,
                                                p.token);
        if (!s_.use_inotify || !dw_.inotify()) say("watching " + s_.dir.string() + " by rescanning it every " +
                                                    std::to_string(s_.poll_interval.count()) + " ms");
        last_activity_ = std::chrono::steady_clock::now();
        rescan();  // what is already there, oldest first
        arm_signals();
        asio::co_spawn(ex_, co_dir_loop(), asio::detached);
        std::exception_ptr failed;
        try {
            co_await co_loop();
        } catch (...) {
            failed = std::current_exception();
        }
        stopping_ = true;
        dw_.cancel();
        boost::system::error_code ignored;
        signals_.cancel(ignored);
        if (failed) std::rethrow_exception(failed);
        bars_.reset();
        if (!failure_.empty()) {
            std::cerr << "hfhub upload: " << failure_ << "\n";
            if (s_.json) print_json(failure_json_);
            co_return 1;
        }
        say(count(commits_, "commit") + "; stopped: " + reason_);
        co_return 0;
    }

private:
    void say(const std::string& line) {
        if (s_.quiet) return;
        bars_.reset();
        std::cerr << line << std::endl;
    }

    bool limit_reached() const { return s_.max_commits && commits_ >= *s_.max_commits; }

    void stop(std::string reason) {
        if (stopping_) return;
        stopping_ = true;
        reason_ = std::move(reason);
        // Checkpoints not committing yet are dropped; a commit being sent finishes.
        for (auto& it : flight_) {
            it->abandoned = true;
            if (!it->done) it->cancel.emit(asio::cancellation_type::terminal);
        }
        dw_.cancel();
        wake_.cancel();
    }

    void arm_signals() {
        signals_.async_wait(asio::bind_executor(ex_, [this](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            if (stop_signals_++ > 0) {
                // A second signal: leave now. A commit is atomic on the Hub, so nothing is half done.
                std::cout.flush();
                std::_Exit(128 + sig);
            }
            say(std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") +
                ": stopping after the commit being sent, if any (again to quit at once)");
            stop(sig == SIGINT ? "SIGINT" : "SIGTERM");
            arm_signals();
        }));
    }

    void rescan() {
        folder_scan scan = scan_folders(s_.dir, s_.folders, s_.marker, known_, [this](const fs::path& p) { dw_.add(p); });
        for (auto& f : scan.complete) {
            known_.insert(f.name);
            dw_.remove(f.path);
            auto it = std::make_shared<item>();
            it->folder = f;
            std::string prefix = s_.path_in_repo;
            it->dest = prefix.empty() ? f.name : prefix + "/" + f.name;
            pending_.push_back(std::move(it));
        }
        if (!scan.complete.empty()) {
            last_activity_ = std::chrono::steady_clock::now();
            wake_.cancel();
        }
    }

    asio::awaitable<void> co_dir_loop() {
        while (!stopping_) {
            co_await dw_.co_wait(s_.poll_interval);
            if (stopping_) break;
            try {
                rescan();
            } catch (const std::exception& e) {
                note_failure(e.what(), std::current_exception());
                stop("error");
            }
        }
    }

    void start(std::shared_ptr<item> it) {
        flight_.push_back(it);
        auto done = [this, it](std::exception_ptr e) {
            it->error = e;
            it->done = true;
            wake_.cancel();
        };
        asio::co_spawn(ex_, co_prepare(it),
                       asio::bind_cancellation_slot(it->cancel.slot(), asio::bind_executor(ex_, std::move(done))));
    }

    // Lists, hashes and uploads the LFS objects of one checkpoint; the commit comes later, in order.
    asio::awaitable<void> co_prepare(std::shared_ptr<item> it) {
        std::vector<std::string> local;
        const fs::path& root = it->folder.path;
        for (auto f = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink);
             f != fs::recursive_directory_iterator(); ++f)
            if (f->is_regular_file()) local.push_back(fs::relative(f->path(), root).generic_string());
        folder_options fo;
        fo.path_in_repo = upload::path_in_repo(it->dest, true);
        it->dest = fo.path_in_repo;
        fo.allow_patterns = s_.push.allow_patterns;
        fo.ignore_patterns = s_.push.ignore_patterns;
        if (!s_.upload_marker && !s_.marker.empty()) fo.ignore_patterns.push_back(s_.marker);
        folder_plan plan = plan_folder(local, {}, fo);
        std::vector<commit_add> adds;
        for (auto& f : plan.upload) adds.push_back(commit_add::file(it->dest + "/" + f, root / f));
        it->files = adds.size();
        commit_options o = s_.push;
        std::string name = it->folder.name;
        o.progress = [this, name](const commit_progress& p) {
            if (p.what == commit_progress::stage::hashing) bars_.update(name + " hashing", p.bytes_done, p.bytes_total);
            if (p.what == commit_progress::stage::uploading)
                bars_.update(name + " uploading", p.bytes_done, p.bytes_total);
        };
        auto prepared = co_await co_preupload_lfs_files(hub_, id_, std::move(adds), std::move(o));
        it->adds = std::move(prepared);
    }

    std::string message_for(const std::string& name) const {
        std::string m = s_.message.empty() ? "Upload checkpoint {folder} with hfhub" : s_.message;
        for (auto pos = m.find("{folder}"); pos != std::string::npos; pos = m.find("{folder}", pos + name.size()))
            m.replace(pos, 8, name);
        return m;
    }

    // The front checkpoint is prepared (or failed): commit it, or say why not.
    asio::awaitable<void> co_finish(std::shared_ptr<item> it) {
        const std::string& name = it->folder.name;
        if (it->abandoned) {
            say(name + ": not committed (stopped before its commit)");
            co_return;
        }
        if (it->error) {
            std::error_code ec;
            if (!fs::exists(it->folder.path, ec)) {  // deleted meanwhile, e.g. by checkpoint rotation
                say(name + ": removed before it was uploaded; skipped");
                co_return;
            }
            note_failure(name + ": " + what_of(it->error), it->error);
            stop("error");
            co_return;
        }
        commit_options co = s_.push;
        co.commit_message = message_for(name);
        std::vector<commit_operation> ops(std::make_move_iterator(it->adds.begin()),
                                          std::make_move_iterator(it->adds.end()));
        it->adds.clear();
        commit_info info;
        std::exception_ptr failed;
        try {
            info = co_await co_create_commit(hub_, id_, std::move(ops), co);
        } catch (...) {
            failed = std::current_exception();
        }
        last_activity_ = std::chrono::steady_clock::now();
        if (failed) {
            note_failure(name + ": " + what_of(failed), failed);
            stop("error");
            co_return;
        }
        if (!info.changed) {
            say(name + ": already on the Hub at " + it->dest + "/; no commit");
            co_return;
        }
        ++commits_;
        bars_.reset();
        if (s_.json) {
            json::object o = commit_json(id_, info);
            o["folder"] = name;
            o["path_in_repo"] = it->dest;
            o["files"] = it->files;
            std::cout << json::serialize(o) << std::endl;
        } else {
            std::cout << (info.pr_url ? *info.pr_url : info.url) << std::endl;
        }
        std::string line = name + ": committed " + count(it->files, "file") + " to " + it->dest + "/";
        if (info.files_uploaded)
            line += " (" + count(info.files_uploaded, "LFS object") + ", " + progress_bar::human(info.bytes_uploaded) +
                    " sent)";
        say(line);
        if (limit_reached()) stop("--max-commits " + std::to_string(*s_.max_commits) + " reached");
    }

    asio::awaitable<void> co_loop() {
        while (true) {
            // A started checkpoint is expected to commit, so --max-commits bounds what starts.
            while (!stopping_ && flight_.size() < max_in_flight && !pending_.empty() &&
                   (!s_.max_commits || commits_ + flight_.size() < *s_.max_commits)) {
                start(pending_.front());
                pending_.pop_front();
            }
            if (!flight_.empty() && flight_.front()->done) {
                auto it = flight_.front();
                flight_.pop_front();
                co_await co_finish(it);
                continue;
            }
            if (flight_.empty() && stopping_) co_return;
            auto deadline = std::chrono::steady_clock::time_point::max();
            if (s_.idle_exit && flight_.empty() && pending_.empty()) {
                deadline = last_activity_ + *s_.idle_exit;
                if (std::chrono::steady_clock::now() >= deadline) {
                    stop("nothing new for " + std::to_string(s_.idle_exit->count()) + " ms (--idle-exit)");
                    continue;
                }
            }
            wake_.expires_at(deadline);
            boost::system::error_code ec;
            co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }

    strand ex_;
    client& hub_;
    watch_settings s_;
    dir_watch dw_;
    asio::steady_timer wake_;  // only co_loop waits on it; the others cancel it
    asio::signal_set signals_;
    bars bars_;
    std::string id_;
    std::set<std::string> known_;  // folders queued or done, by name
    std::deque<std::shared_ptr<item>> pending_;
    std::deque<std::shared_ptr<item>> flight_;  // in commit order
    std::uint64_t commits_ = 0;
    bool stopping_ = false;
    int stop_signals_ = 0;
    std::string reason_;
    std::string failure_;
    boost::json::object failure_json_;  // the first failure, typed, for --format json

    void note_failure(std::string text, std::exception_ptr e) {
        if (!failure_.empty()) return;
        failure_ = std::move(text);
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            failure_json_ = error_json(x);
        } catch (...) {
        }
        if (failure_json_.empty()) failure_json_["error"] = boost::json::object{{"code", "error"}};
        failure_json_["error"].as_object()["message"] = failure_;
    }
    std::chrono::steady_clock::time_point last_activity_;
};

}  // namespace

int run_watch(const config& cfg, watch_settings s) {
    asio::io_context ioc;
    client hub(ioc.get_executor(), cfg);
    auto ex = asio::make_strand(ioc);
    const bool json = s.json;
    watcher w(ex, hub, std::move(s));
    auto result = asio::co_spawn(ex, w.co_run(), asio::use_future);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
    for (auto& t : threads) t.join();
    try {
        return result.get();
    } catch (const std::exception& e) {
        std::cerr << "hfhub upload: " << e.what() << "\n";
        if (json) print_json(error_json(e));
        return 1;
    }
}

}  // namespace hfhub::cli
