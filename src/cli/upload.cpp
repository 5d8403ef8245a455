// hfhub upload REPO LOCAL_PATH [PATH_IN_REPO]: a file or a folder as one commit; with
// --watch DIR, each complete checkpoint folder in DIR as one commit, for as long as it runs.
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/interrupt.hpp"
#include "cli/phases.hpp"
#include "cli/watch.hpp"

#include <hfhub/commit.hpp>
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
}  // namespace

int upload(int argc, char** argv) {
    std::string repo, local, path_in_repo, repo_type = "model", revision = "main", message, description, token,
                endpoint, format = "text", watch_dir, marker = ".complete", folders = "*";
    std::vector<std::string> include, exclude, del;
    unsigned max_workers = 8;
    std::uint64_t max_commits = 0;
    double idle_exit = -1, poll_interval = 10;
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
        "  hfhub upload --watch ./ckpt alice/model --idle-exit 0   # what is complete now, then exit\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("repo-type", po::value(&repo_type), "model, dataset or space")
        ("revision", po::value(&revision), "branch to commit to (created from main when missing)")
        ("path-in-repo", po::value(&path_in_repo), "where the file or folder lands (the third argument); with "
                                                    "--watch, the prefix of every checkpoint folder")
        ("private", "make the repo private if it is created")
        ("include", po::value(&include)->composing(), "glob of files to upload (repeatable)")
        ("exclude", po::value(&exclude)->composing(), "glob of files to leave out (repeatable)")
        ("delete", po::value(&del)->composing(), "glob of remote files to delete in the same commit (repeatable)")
        ("commit-message", po::value(&message), "the commit's summary; with --watch, {folder} is the folder's name")
        ("commit-description", po::value(&description), "the commit's description")
        ("create-pr", "open a pull request instead of committing to the branch")
        ("multi-commit", "split a very large upload into several commits (resumable)")
        ("max-workers", po::value(&max_workers), "files hashed and uploaded at once")
        ("token", po::value(&token), "token (default $HF_TOKEN or the stored one)")
        ("endpoint", po::value(&endpoint), "Hub URL (default $HF_ENDPOINT)")
        ("format", po::value(&format), "text (the URL) or json (one object; one line per commit with --watch)")
        ("quiet,q", "print only the URL (or the JSON): no progress, no notes");
    po::options_description watch_desc("--watch options");
    watch_desc.add_options()
        ("watch", po::value(&watch_dir), "the folder whose checkpoint subfolders are pushed as they complete")
        ("marker", po::value(&marker), "the file (or glob over a folder's own files) that says a folder is "
                                       "complete (default .complete); '' when folders are renamed into DIR "
                                       "once written")
        ("upload-marker", "upload the marker file too (left out by default)")
        ("folders", po::value(&folders), "glob of the subfolder names that are checkpoints (default *; "
                                         "names starting with '.' never are)")
        ("max-commits", po::value(&max_commits), "stop after N commits")
        ("idle-exit", po::value(&idle_exit), "stop once nothing completed or was in flight for SECONDS "
                                             "(0: push what is complete now, then stop)")
        ("poll-interval", po::value(&poll_interval), "rescan DIR every SECONDS besides inotify (default 10)")
        ("no-inotify", "only rescan (for file systems inotify cannot see, such as NFS)");
    po::options_description hidden;
    hidden.add_options()("repo", po::value(&repo))("local", po::value(&local));
    po::options_description all;
    all.add(desc).add(watch_desc).add(hidden);
    po::positional_options_description pos;
    pos.add("repo", 1).add("local", 1).add("path-in-repo", 1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "hfhub upload: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n" << watch_desc << "\n";
        return 0;
    }
    auto usage = [](const std::string& why) {
        std::cerr << "hfhub upload: " << why << "\n";
        return 2;
    };
    bool watching = vm.count("watch") > 0;
    if (!parse_format(format)) return usage("--format is text or json, not '" + format + "'");
    if (!watching)
        for (const char* o : {"marker", "upload-marker", "folders", "max-commits", "idle-exit", "poll-interval",
                              "no-inotify"})
            if (vm.count(o)) return usage(std::string("--") + o + " applies to --watch only");
    if (watching) {
        if (repo.empty()) return usage("--watch DIR needs a repo id (see --help)");
        if (!local.empty())
            return usage("with --watch, DIR is the value of --watch; '" + local +
                         "' is one argument too many (a prefix goes to --path-in-repo)");
        if (!del.empty()) return usage("--delete does not apply to --watch");
        if (vm.count("multi-commit")) return usage("--multi-commit does not apply to --watch: each folder is one commit");
    } else if (repo.empty() || local.empty()) {
        return usage("a repo id and a local path are required (see --help)");
    }
    auto type = parse_repo_type(repo_type);
    if (!type) return usage("unknown repo type '" + repo_type + "'");
    try {
        validate_repo_id(repo);
    } catch (const error& e) {
        return usage(e.what());
    }
    config cfg = config::from_env();
    if (!endpoint.empty()) cfg.endpoint = endpoint;
    while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
    if (!token.empty()) cfg.token = token;
    bool quiet = vm.count("quiet") > 0;
    bool bars_on = terminal::bars_allowed(quiet);
    bool json_out = format == "json";

    push_options o;
    o.type = *type;
    o.revision = revision;
    o.is_private = vm.count("private") > 0;
    o.commit_message = message;
    o.commit_description = description;
    o.create_pr = vm.count("create-pr") > 0;
    o.multi_commit = vm.count("multi-commit") > 0;
    o.max_workers = max_workers;
    o.allow_patterns = include;
    o.ignore_patterns = exclude;
    o.delete_patterns = del;

    if (watching) {
        watch_settings w;
        w.dir = watch_dir;
        std::error_code ec;
        if (!fs::is_directory(w.dir, ec)) return usage("'" + watch_dir + "' is not a folder to watch");
        w.repo = repo;
        if (!path_in_repo.empty() && path_in_repo != "/" && path_in_repo != ".") {
            try {
                w.path_in_repo = upload::path_in_repo(path_in_repo, true);
            } catch (const error& e) {
                return usage(std::string("--path-in-repo: ") + e.what());
            }
        }
        w.marker = marker;
        if (marker.find('/') != std::string::npos && marker.find_first_of("*?[") != std::string::npos)
            return usage("--marker: a glob matches the folder's own files only (no '/')");
        w.upload_marker = vm.count("upload-marker") > 0;
        w.folders = folders;
        if (vm.count("max-commits")) {
            if (max_commits == 0) return usage("--max-commits must be at least 1");
            w.max_commits = max_commits;
        }
        if (vm.count("idle-exit")) {
            w.idle_exit = seconds_option(idle_exit);
            if (!w.idle_exit) return usage("--idle-exit takes seconds, 0 or more");
        }
        auto poll = seconds_option(poll_interval);
        if (!poll || *poll < std::chrono::milliseconds(10)) return usage("--poll-interval takes seconds, 0.01 or more");
        w.poll_interval = *poll;
        w.use_inotify = vm.count("no-inotify") == 0;
        w.json = json_out;
        w.quiet = quiet;
        w.progress = bars_on;
        w.message = message;
        w.push = o;
        w.push.commit_message.clear();
        return run_watch(cfg, std::move(w));
    }

    std::error_code ec;
    auto status = fs::status(local, ec);
    if (!fs::is_regular_file(status) && !fs::is_directory(status))
        return usage("'" + local + "' is not a file or a folder");
    bool is_file = fs::is_regular_file(status);
    if (is_file && (!include.empty() || !exclude.empty() || !del.empty()))
        return usage("--include, --exclude and --delete apply to folders only");
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
            id = co_await upload::co_ensure_target(hub, repo, o.type, o.revision, o.is_private, o.create_pr,
                                                   std::nullopt);
            if (is_file) {
                std::string dest = path_in_repo.empty() ? fs::path(local).filename().string() : path_in_repo;
                commit_options co = o;
                co_return co_await co_upload_file(hub, id, commit_add::file(dest, local), co);
            }
            folder_options fo = o;
            fo.path_in_repo = path_in_repo;
            if (fo.commit_message.empty()) fo.commit_message = "Upload folder using hfhub";
            co_return co_await co_upload_folder(hub, id, local, fo);
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

}  // namespace hfhub::cli
