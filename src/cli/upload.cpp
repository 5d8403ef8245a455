// hfhub upload REPO LOCAL_PATH [PATH_IN_REPO]: a file or a folder as one commit; with
// --watch DIR, each complete checkpoint folder in DIR as one commit, for as long as it runs.
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/interrupt.hpp"
#include "cli/phases.hpp"
#include "cli/watch.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/receipts.hpp>
#include <hfhub/repo.hpp>

#include "upload/payload.hpp"
#include "upload/pipeline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <cmath>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace hfhub::cli {

namespace po = boost::program_options;
namespace asio = boost::asio;
namespace fs = std::filesystem;

namespace {

// Seconds from the command line, as milliseconds; nullopt when negative or not finite.
std::optional<std::chrono::milliseconds> seconds_option(double s) {
    if (!std::isfinite(s) || s < 0 || s > 1e9) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(s * 1000)));
}

int usage(const std::string& why) {
    std::cerr << "hfhub upload: " << why << "\n";
    return 2;
}

// The command line, as parsed.
struct upload_args {
    std::string repo, local, path_in_repo, repo_type = "model", revision = "main", message, description, token,
                endpoint, format = "text", watch_dir, receipts_out, marker = ".complete", folders = "*";
    std::vector<std::string> include, exclude, del;
    unsigned max_workers = 8;
    std::uint64_t max_commits = 0;
    double idle_exit = -1, poll_interval = 10;
    po::variables_map vm;
    bool has(const char* option) const { return vm.count(option) > 0; }
};

po::options_description main_options(upload_args& a) {
    po::options_description desc(
        "usage: hfhub upload REPO LOCAL_PATH [PATH_IN_REPO] [options]\n"
        "       hfhub upload --watch DIR REPO [options]\n\n"
        "Uploads a file or a folder as one commit, creating the repo (and the branch) when\n"
        "missing, and prints the commit URL (or the pull request URL) as the last line.\n"
        "A file lands at PATH_IN_REPO (default: its name), a folder under it (default: the root).\n\n"
        "With --watch, it keeps running: each subfolder of DIR becomes one commit under\n"
        "<subfolder>/ (or --path-in-repo PREFIX/<subfolder>/) once it holds the marker file, in\n"
        "the order they complete; the next one is hashed and uploaded while the previous one\n"
        "finishes. It prints one line per commit (the URL, or JSON with --format json). A folder\n"
        "already on the Hub is hashed again but makes no commit. SIGINT or SIGTERM stops it after\n"
        "the commit being sent; --max-commits and --idle-exit stop it too.\n\n"
        "examples:\n"
        "  hfhub upload alice/model ./checkpoint\n"
        "  hfhub upload alice/model ./model.safetensors weights/model.safetensors\n"
        "  hfhub upload alice/data ./out --repo-type dataset --include '*.parquet' --delete '*.parquet'\n"
        "  hfhub upload alice/model ./checkpoint --format json\n"
        "  hfhub upload --watch ./runs/exp1 alice/exp1 --revision exp1 --folders 'checkpoint-*'\n"
        "  hfhub upload --watch ./ckpt alice/model --marker trainer_state.json --upload-marker \\\n"
        "      --path-in-repo checkpoints --commit-message 'Checkpoint {folder}'\n"
        "  hfhub upload --watch ./ckpt alice/model --idle-exit 0   # what is complete now, then exit\n"
        "  hfhub upload alice/model ./rank3 --receipts-out rank3.jsonl   # no commit: see hfhub commit\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("repo-type", po::value(&a.repo_type), "model, dataset or space")
        ("revision", po::value(&a.revision), "branch to commit to (created from main when missing)")
        ("path-in-repo", po::value(&a.path_in_repo), "where the file or folder lands (the third argument); with "
                                                      "--watch, the prefix of every checkpoint folder")
        ("private", "make the repo private if it is created")
        ("include", po::value(&a.include)->composing(), "glob of files to upload (repeatable)")
        ("exclude", po::value(&a.exclude)->composing(), "glob of files to leave out (repeatable)")
        ("delete", po::value(&a.del)->composing(), "glob of remote files to delete in the same commit (repeatable)")
        ("commit-message", po::value(&a.message), "the commit's summary; with --watch, {folder} is the folder's name")
        ("commit-description", po::value(&a.description), "the commit's description")
        ("create-pr", "open a pull request instead of committing to the branch")
        ("receipts-out", po::value(&a.receipts_out), "store the files' LFS objects without committing and write "
                                                     "their receipts to FILE as JSON lines ('-': stdout), for "
                                                     "'hfhub commit --receipts'")
        ("multi-commit", "split a very large upload into several commits (resumable)")
        ("max-workers", po::value(&a.max_workers), "files hashed and uploaded at once")
        ("token", po::value(&a.token), "token (default $HF_TOKEN or the stored one)")
        ("endpoint", po::value(&a.endpoint), "Hub URL (default $HF_ENDPOINT)")
        ("format", po::value(&a.format), "text (the URL) or json (one object; one line per commit with --watch)")
        ("quiet,q", "print only the URL (or the JSON): no progress, no notes");
    return desc;
}

po::options_description watch_options(upload_args& a) {
    po::options_description watch_desc("--watch options");
    watch_desc.add_options()
        ("watch", po::value(&a.watch_dir), "the folder whose checkpoint subfolders are pushed as they complete")
        ("marker", po::value(&a.marker), "the file (or glob over a folder's own files) that says a folder is "
                                         "complete (default .complete); '' when folders are renamed into DIR "
                                         "once written")
        ("upload-marker", "upload the marker file too (left out by default)")
        ("folders", po::value(&a.folders), "glob of the subfolder names that are checkpoints (default *; "
                                           "names starting with '.' never are)")
        ("max-commits", po::value(&a.max_commits), "stop after N commits")
        ("idle-exit", po::value(&a.idle_exit), "stop once nothing completed or was in flight for SECONDS "
                                               "(0: push what is complete now, then stop)")
        ("poll-interval", po::value(&a.poll_interval), "rescan DIR every SECONDS besides inotify (default 10)")
        ("no-inotify", "only rescan (for file systems inotify cannot see, such as NFS)");
    return watch_desc;
}

// Parses argv into `a`: an exit code when the command is done (help, a bad option), else nullopt.
std::optional<int> parse(int argc, char** argv, upload_args& a) {
    po::options_description desc = main_options(a), watch_desc = watch_options(a);
    po::options_description hidden;
    hidden.add_options()("repo", po::value(&a.repo))("local", po::value(&a.local));
    po::options_description all;
    all.add(desc).add(watch_desc).add(hidden);
    po::positional_options_description pos;
    pos.add("repo", 1).add("local", 1).add("path-in-repo", 1);
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), a.vm);
        po::notify(a.vm);
    } catch (const po::error& e) {
        std::cerr << "hfhub upload: " << e.what() << "\n";
        return 2;
    }
    if (a.has("help")) {
        std::cout << desc << "\n" << watch_desc << "\n";
        return 0;
    }
    return std::nullopt;
}

// Options that contradict each other or the mode: a usage error's exit code.
std::optional<int> check(const upload_args& a) {
    bool watching = a.has("watch");
    if (!parse_format(a.format)) return usage("--format is text or json, not '" + a.format + "'");
    if (!watching)
        for (const char* o : {"marker", "upload-marker", "folders", "max-commits", "idle-exit", "poll-interval",
                              "no-inotify"})
            if (a.has(o)) return usage(std::string("--") + o + " applies to --watch only");
    if (watching) {
        if (a.repo.empty()) return usage("--watch DIR needs a repo id (see --help)");
        if (!a.local.empty())
            return usage("with --watch, DIR is the value of --watch; '" + a.local +
                         "' is one argument too many (a prefix goes to --path-in-repo)");
        if (!a.del.empty()) return usage("--delete does not apply to --watch");
        if (a.has("multi-commit")) return usage("--multi-commit does not apply to --watch: each folder is one commit");
    } else if (a.repo.empty() || a.local.empty()) {
        return usage("a repo id and a local path are required (see --help)");
    }
    if (a.has("receipts-out")) {
        if (watching) return usage("--receipts-out does not apply to --watch");
        if (!a.del.empty()) return usage("--delete belongs to the commit: 'hfhub commit --delete'");
        if (a.has("multi-commit")) return usage("--multi-commit does not apply to --receipts-out: nothing is committed");
        if (a.receipts_out.empty()) return usage("--receipts-out needs a file name (or '-' for stdout)");
    }
    if (!parse_repo_type(a.repo_type)) return usage("unknown repo type '" + a.repo_type + "'");
    try {
        validate_repo_id(a.repo);
    } catch (const error& e) {
        return usage(e.what());
    }
    return std::nullopt;
}

push_options push_opts(const upload_args& a) {
    push_options o;
    o.type = *parse_repo_type(a.repo_type);
    o.revision = a.revision;
    o.is_private = a.has("private");
    o.commit_message = a.message;
    o.commit_description = a.description;
    o.create_pr = a.has("create-pr");
    o.multi_commit = a.has("multi-commit");
    o.max_workers = a.max_workers;
    o.allow_patterns = a.include;
    o.ignore_patterns = a.exclude;
    o.delete_patterns = a.del;
    return o;
}

int watch_mode(const upload_args& a, const config& cfg, const push_options& o, bool bars_on) {
    watch_settings w;
    w.dir = a.watch_dir;
    std::error_code ec;
    if (!fs::is_directory(w.dir, ec)) return usage("'" + a.watch_dir + "' is not a folder to watch");
    w.repo = a.repo;
    if (!a.path_in_repo.empty() && a.path_in_repo != "/" && a.path_in_repo != ".") {
        try {
            w.path_in_repo = upload::path_in_repo(a.path_in_repo, true);
        } catch (const error& e) {
            return usage(std::string("--path-in-repo: ") + e.what());
        }
    }
    w.marker = a.marker;
    if (a.marker.find('/') != std::string::npos && a.marker.find_first_of("*?[") != std::string::npos)
        return usage("--marker: a glob matches the folder's own files only (no '/')");
    w.upload_marker = a.has("upload-marker");
    w.folders = a.folders;
    if (a.has("max-commits")) {
        if (a.max_commits == 0) return usage("--max-commits must be at least 1");
        w.max_commits = a.max_commits;
    }
    if (a.has("idle-exit")) {
        w.idle_exit = seconds_option(a.idle_exit);
        if (!w.idle_exit) return usage("--idle-exit takes seconds, 0 or more");
    }
    auto poll = seconds_option(a.poll_interval);
    if (!poll || *poll < std::chrono::milliseconds(10)) return usage("--poll-interval takes seconds, 0.01 or more");
    w.poll_interval = *poll;
    w.use_inotify = !a.has("no-inotify");
    w.json = a.format == "json";
    w.quiet = a.has("quiet");
    w.progress = bars_on;
    w.message = a.message;
    w.push = o;
    w.push.commit_message.clear();
    return run_watch(cfg, std::move(w));
}

// The adds an upload of `local` makes: a file at `dest`, or a folder's matching files under it.
std::vector<commit_add> adds_of(const upload_args& a, bool is_file, const push_options& o) {
    std::vector<commit_add> adds;
    if (is_file) {
        std::string dest = a.path_in_repo.empty() ? fs::path(a.local).filename().string() : a.path_in_repo;
        adds.push_back(commit_add::file(dest, a.local));
        return adds;
    }
    folder_options fo = o;
    std::string prefix;
    if (!a.path_in_repo.empty() && a.path_in_repo != "/" && a.path_in_repo != ".")
        prefix = upload::path_in_repo(a.path_in_repo, true) + "/";
    std::vector<std::string> local;
    for (auto it = fs::recursive_directory_iterator(a.local, fs::directory_options::follow_directory_symlink);
         it != fs::recursive_directory_iterator(); ++it)
        if (it->is_regular_file()) local.push_back(fs::relative(it->path(), a.local).generic_string());
    for (auto& f : plan_folder(local, {}, fo).upload) adds.push_back(commit_add::file(prefix + f, fs::path(a.local) / f));
    return adds;
}

// --receipts-out: the LFS objects are stored, nothing is committed; the receipts go to a file.
int upload_receipts(const upload_args& a, const config& cfg, push_options o, bool is_file, bool bars_on) {
    bool json_out = a.format == "json", to_stdout = a.receipts_out == "-";
    phase_progress bar(bars_on);
    interrupt::arm("interrupted: no receipts were written; LFS files already sent stay on the Hub");
    o.progress = commit_phases(bar, "LFS file");
    asio::io_context ioc;
    client hub(ioc.get_executor(), cfg);
    try {
        std::string id;
        std::vector<commit_add> adds = adds_of(a, is_file, o);
        auto run = [&]() -> asio::awaitable<std::vector<upload_receipt>> {
            id = co_await upload::co_ensure_target(hub, a.repo, o.type, o.revision, o.is_private, o.create_pr,
                                                   std::nullopt);
            commit_options co = o;
            co_return co_await co_preupload(hub, id, std::move(adds), co);
        };
        std::future<std::vector<upload_receipt>> result = asio::co_spawn(ioc, run(), asio::use_future);
        std::vector<std::thread> threads;
        for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
        for (auto& t : threads) t.join();
        std::vector<upload_receipt> receipts = result.get();
        bar.finish();
        std::uint64_t bytes = 0, lfs_files = 0;
        for (auto& r : receipts) {
            bytes += r.size;
            lfs_files += r.is_lfs;
        }
        if (to_stdout) {
            std::cout << receipts_to_jsonl(receipts) << std::flush;
            return 0;
        }
        write_receipts(a.receipts_out, receipts);
        if (json_out) {
            boost::json::object out{{"repo_id", id}, {"receipts", a.receipts_out}, {"files", receipts.size()},
                                    {"lfs_files", lfs_files}, {"bytes", bytes}, {"committed", false}};
            print_json(out);
        } else {
            std::cout << receipts.size() << " receipts for " << id << " in " << a.receipts_out
                      << " (nothing committed: hfhub commit " << id << " --receipts FILE...)" << std::endl;
        }
        return 0;
    } catch (const std::exception& e) {
        bar.finish();
        std::cerr << "hfhub upload: " << e.what() << "\n";
        if (json_out) print_json(error_json(e));
        return 1;
    }
}

// One file or one folder as one commit, with phases on stderr.
int upload_once(const upload_args& a, const config& cfg, push_options o, bool bars_on) {
    std::error_code ec;
    auto status = fs::status(a.local, ec);
    if (!fs::is_regular_file(status) && !fs::is_directory(status))
        return usage("'" + a.local + "' is not a file or a folder");
    bool is_file = fs::is_regular_file(status);
    if (is_file && (!a.include.empty() || !a.exclude.empty() || !a.del.empty()))
        return usage("--include, --exclude and --delete apply to folders only");
    if (a.has("receipts-out")) return upload_receipts(a, cfg, std::move(o), is_file, bars_on);
    bool json_out = a.format == "json";
    phase_progress bar(bars_on);
    // Until the commit is sent, Ctrl-C loses nothing on the Hub: stored LFS objects stay there.
    interrupt::arm("interrupted: nothing was committed; LFS files already sent stay on the Hub");
    o.progress = [phases = commit_phases(bar, "LFS file")](const commit_progress& p) mutable {
        if (p.what == commit_progress::stage::committing)
            interrupt::message = "interrupted while committing: the commit may have landed; check the repo";
        phases(p);
    };

    asio::io_context ioc;
    client hub(ioc.get_executor(), cfg);
    try {
        // The same steps as push_to_hub, keeping the repo id (a bare name gets the user's
        // namespace). It outlives the run: the coroutine reads its captures through it.
        std::string id;
        auto one = [&]() -> asio::awaitable<commit_info> {
            id = co_await upload::co_ensure_target(hub, a.repo, o.type, o.revision, o.is_private, o.create_pr,
                                                   std::nullopt);
            if (is_file) {
                std::string dest = a.path_in_repo.empty() ? fs::path(a.local).filename().string() : a.path_in_repo;
                commit_options co = o;
                co_return co_await co_upload_file(hub, id, commit_add::file(dest, a.local), co);
            }
            folder_options fo = o;
            fo.path_in_repo = a.path_in_repo;
            if (fo.commit_message.empty()) fo.commit_message = "Upload folder using hfhub";
            co_return co_await co_upload_folder(hub, id, a.local, fo);
        };
        std::future<commit_info> result = asio::co_spawn(ioc, one(), asio::use_future);
        std::vector<std::thread> threads;
        for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
        for (auto& t : threads) t.join();
        commit_info info = result.get();
        bar.finish();
        if (!info.changed) bar.say("nothing changed: no commit was made");
        if (json_out)
            print_json(commit_json(id, info));
        else
            std::cout << (info.pr_url ? *info.pr_url : info.url) << std::endl;
        return 0;
    } catch (const std::exception& e) {
        bar.finish();
        std::cerr << "hfhub upload: " << e.what() << "\n";
        if (json_out) print_json(error_json(e));
        return 1;
    }
}

}  // namespace

int upload(int argc, char** argv) {
    upload_args a;
    if (auto done = parse(argc, argv, a)) return *done;
    if (auto bad = check(a)) return *bad;
    config cfg = config::from_env();
    if (!a.endpoint.empty()) cfg.endpoint = a.endpoint;
    while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
    if (!a.token.empty()) cfg.token = a.token;
    bool bars_on = terminal::bars_allowed(a.has("quiet"));
    push_options o = push_opts(a);
    if (a.has("watch")) return watch_mode(a, cfg, o, bars_on);
    return upload_once(a, cfg, std::move(o), bars_on);
}

}  // namespace hfhub::cli
