// hfhub upload REPO LOCAL_PATH [PATH_IN_REPO]: a file or a folder as one commit.
#include "cli/commands.hpp"
#include "cli/progress.hpp"

#include <hfhub/commit.hpp>

#include "upload/pipeline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/program_options.hpp>

#include <iostream>
#include <thread>
#include <unistd.h>

namespace hfhub::cli {

namespace po = boost::program_options;
namespace asio = boost::asio;
namespace fs = std::filesystem;

int upload(int argc, char** argv) {
    std::string repo, local, path_in_repo, repo_type = "model", revision = "main", message, description, token,
                endpoint;
    std::vector<std::string> include, exclude, del;
    unsigned max_workers = 8;
    po::options_description desc(
        "usage: hfhub upload REPO LOCAL_PATH [PATH_IN_REPO] [options]\n\n"
        "Uploads a file or a folder as one commit, creating the repo (and the branch) when\n"
        "missing, and prints the commit URL (or the pull request URL) as the last line.\n"
        "A file lands at PATH_IN_REPO (default: its name), a folder under it (default: the root).\n\n"
        "examples:\n"
        "  hfhub upload alice/model ./checkpoint\n"
        "  hfhub upload alice/model ./model.safetensors weights/model.safetensors\n"
        "  hfhub upload alice/data ./out --repo-type dataset --include '*.parquet' --delete '*.parquet'\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("repo-type", po::value(&repo_type), "model, dataset or space")
        ("revision", po::value(&revision), "branch to commit to (created from main when missing)")
        ("private", "make the repo private if it is created")
        ("include", po::value(&include)->composing(), "glob of files to upload (repeatable)")
        ("exclude", po::value(&exclude)->composing(), "glob of files to leave out (repeatable)")
        ("delete", po::value(&del)->composing(), "glob of remote files to delete in the same commit (repeatable)")
        ("commit-message", po::value(&message), "the commit's summary")
        ("commit-description", po::value(&description), "the commit's description")
        ("create-pr", "open a pull request instead of committing to the branch")
        ("multi-commit", "split a very large upload into several commits (resumable)")
        ("max-workers", po::value(&max_workers), "files hashed and uploaded at once")
        ("token", po::value(&token), "token (default $HF_TOKEN or the stored one)")
        ("endpoint", po::value(&endpoint), "Hub URL (default $HF_ENDPOINT)")
        ("quiet,q", "print only the URL");
    po::options_description hidden;
    hidden.add_options()("repo", po::value(&repo))("local", po::value(&local))("path-in-repo", po::value(&path_in_repo));
    po::options_description all;
    all.add(desc).add(hidden);
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
        std::cout << desc << "\n";
        return 0;
    }
    if (repo.empty() || local.empty()) {
        std::cerr << "hfhub upload: a repo id and a local path are required (see --help)\n";
        return 2;
    }
    auto type = parse_repo_type(repo_type);
    if (!type) {
        std::cerr << "hfhub upload: unknown repo type '" << repo_type << "'\n";
        return 2;
    }
    std::error_code ec;
    auto status = fs::status(local, ec);
    if (!fs::is_regular_file(status) && !fs::is_directory(status)) {
        std::cerr << "hfhub upload: '" << local << "' is not a file or a folder\n";
        return 2;
    }
    bool is_file = fs::is_regular_file(status);
    if (is_file && (!include.empty() || !exclude.empty() || !del.empty())) {
        std::cerr << "hfhub upload: --include, --exclude and --delete apply to folders only\n";
        return 2;
    }
    config cfg = config::from_env();
    if (!endpoint.empty()) cfg.endpoint = endpoint;
    while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
    if (!token.empty()) cfg.token = token;
    bool quiet = vm.count("quiet") || !::isatty(STDERR_FILENO);

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
    progress_bar bar(quiet);
    o.progress = [&](const commit_progress& p) {
        const char* what = p.what == commit_progress::stage::hashing ? "hashing" : "uploading";
        if (p.what == commit_progress::stage::hashing || p.what == commit_progress::stage::uploading)
            bar.update(what, p.bytes_done, p.bytes_total);
    };

    asio::io_context ioc;
    client hub(ioc.get_executor(), cfg);
    try {
        // The same steps as push_to_hub, for one file. It outlives the run: the coroutine
        // reads its captures through it.
        auto one = [&]() -> asio::awaitable<commit_info> {
            std::string id = co_await upload::co_ensure_target(hub, repo, o.type, o.revision, o.is_private,
                                                               o.create_pr, std::nullopt);
            std::string dest = path_in_repo.empty() ? fs::path(local).filename().string() : path_in_repo;
            commit_options co = o;
            co_return co_await co_upload_file(hub, id, commit_add::file(dest, local), co);
        };
        std::future<commit_info> result;
        if (is_file) {
            result = asio::co_spawn(ioc, one(), asio::use_future);
        } else {
            o.path_in_repo = path_in_repo;
            if (o.commit_message.empty()) o.commit_message = "Upload folder using hfhub";
            result = asio::co_spawn(ioc, co_push_to_hub(hub, repo, local, o), asio::use_future);
        }
        std::vector<std::thread> threads;
        for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
        for (auto& t : threads) t.join();
        commit_info info = result.get();
        bar.finish();
        if (!quiet && !info.changed) std::cerr << "nothing changed: no commit was made\n";
        std::cout << (info.pr_url ? *info.pr_url : info.url) << std::endl;
        return 0;
    } catch (const std::exception& e) {
        bar.finish();
        std::cerr << "hfhub upload: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace hfhub::cli
