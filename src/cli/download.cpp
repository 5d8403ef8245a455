// hfhub download REPO [FILES...]: files or a snapshot into the shared cache (or a folder).
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/interrupt.hpp"
#include "cli/phases.hpp"

#include <hfhub/download.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/program_options.hpp>

#include <iostream>
#include <unistd.h>

namespace hfhub::cli {

namespace po = boost::program_options;
namespace asio = boost::asio;

int download(int argc, char** argv) {
    std::string repo, repo_type = "model", revision = "main", cache_dir, local_dir, token, endpoint,
                format_name = "text";
    std::vector<std::string> files, include, exclude;
    unsigned max_workers = 8;
    po::options_description desc(
        "usage: hfhub download REPO [FILES...] [options]\n\n"
        "Downloads files (or the whole repo) into the cache Python and JS share, and prints the\n"
        "path as the last line: the file for one file, the folder otherwise.\n\n"
        "examples:\n"
        "  hfhub download gpt2 config.json\n"
        "  hfhub download acme/data --repo-type dataset --include '*.parquet' --revision v1\n"
        "  hfhub download acme/model --local-dir ./model --exclude '*.bin'\n"
        "  HF_ENDPOINT=http://127.0.0.1:8080 hfhub download local/demo\n"
        "  hfhub download acme/model model.safetensors --format json | jq -r .path\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("repo-type", po::value(&repo_type), "model, dataset or space")
        ("revision", po::value(&revision), "branch, tag, commit or refs/pr/N")
        ("include", po::value(&include)->composing(), "glob of files to download (repeatable)")
        ("exclude", po::value(&exclude)->composing(), "glob of files to skip (repeatable)")
        ("cache-dir", po::value(&cache_dir), "cache folder (default $HF_HUB_CACHE)")
        ("local-dir", po::value(&local_dir), "put the files in this folder instead of the cache")
        ("force-download", "download even when cached")
        ("local-files-only", "never touch the network")
        ("token", po::value(&token), "token (default $HF_TOKEN or the stored one)")
        ("endpoint", po::value(&endpoint), "Hub URL (default $HF_ENDPOINT)")
        ("max-workers", po::value(&max_workers), "files downloaded at once")
        ("no-verify", "skip the sha256 / git blob SHA-1 check of the downloaded bytes")
        ("format", po::value(&format_name), "text (default), or json: one object on stdout, errors too")
        ("quiet,q", "print only the path");
    po::options_description hidden;
    hidden.add_options()("repo", po::value(&repo))("files", po::value(&files));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("repo", 1).add("files", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "hfhub download: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (repo.empty()) {
        std::cerr << "hfhub download: a repo id is required (see --help)\n";
        return 2;
    }
    auto type = parse_repo_type(repo_type);
    if (!type) {
        std::cerr << "hfhub download: unknown repo type '" << repo_type << "'\n";
        return 2;
    }
    auto format = parse_format(format_name);
    if (!format) {
        std::cerr << "hfhub download: --format must be text or json\n";
        return 2;
    }
    config cfg = config::from_env();
    if (!endpoint.empty()) cfg.endpoint = endpoint;
    if (!token.empty()) cfg.token = token;
    bool bars_on = terminal::bars_allowed(vm.count("quiet") > 0);

    snapshot_options o;
    o.type = *type;
    o.revision = revision;
    if (!cache_dir.empty()) o.cache_dir = cache_dir;
    if (!local_dir.empty()) o.local_dir = local_dir;
    o.force_download = vm.count("force-download") > 0;
    o.local_files_only = vm.count("local-files-only") > 0;
    o.allow_patterns = include;
    o.ignore_patterns = exclude;
    o.max_workers = max_workers;
    o.verify = vm.count("no-verify") == 0;
    phase_progress bar(bars_on);
    auto phases = std::make_shared<download_phases>(bar, o.verify);
    o.progress = [phases](const download_progress& p) { (*phases)(p); };

    interrupt::arm("interrupted: partial downloads are kept; run the same command to resume");
    asio::io_context ioc;
    client hub(ioc.get_executor(), cfg);
    try {
        std::future<std::filesystem::path> result;
        if (files.size() == 1) {
            result = asio::co_spawn(ioc, co_hf_hub_download(hub, repo, files[0], o), asio::use_future);
        } else {
            if (!files.empty()) o.allow_patterns = files;  // exact names are patterns without wildcards
            result = asio::co_spawn(ioc, co_snapshot_download(hub, repo, o), asio::use_future);
        }
        // One I/O thread: a big file's hashing runs on a thread of its own, so a second one buys
        // little, and the pool loses wake-ups when its waiters run on several threads.
        ioc.run();
        auto path = result.get();
        phases->complete();
        if (*format == output_format::json) {
            boost::json::object o;
            o["path"] = path.string();
            o["repo_id"] = repo;
            o["repo_type"] = repo_type;
            o["revision"] = revision;
            if (files.size() == 1) o["file"] = files[0];
            print_json(o);
        } else {
            std::cout << path.string() << std::endl;
        }
        return 0;
    } catch (const std::exception& e) {
        bar.finish();
        std::cerr << "hfhub download: " << e.what() << "\n";
        if (*format == output_format::json) print_json(error_json(e));
        return 1;
    }
}

}  // namespace hfhub::cli
