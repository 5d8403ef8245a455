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
#include <optional>
#include <unistd.h>

namespace hfhub::cli {

namespace po = boost::program_options;
namespace asio = boost::asio;

namespace {

int usage(const std::string& why) {
    std::cerr << "hfhub download: " << why << "\n";
    return 2;
}

// The command line, as parsed.
struct download_args {
    std::string repo, repo_type = "model", revision = "main", cache_dir, local_dir, token, endpoint,
                format_name = "text";
    std::vector<std::string> files, include, exclude;
    unsigned max_workers = 8;
    po::variables_map vm;
};

po::options_description download_options_of(download_args& a) {
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
        ("repo-type", po::value(&a.repo_type), "model, dataset or space")
        ("revision", po::value(&a.revision), "branch, tag, commit or refs/pr/N")
        ("include", po::value(&a.include)->composing(), "glob of files to download (repeatable)")
        ("exclude", po::value(&a.exclude)->composing(), "glob of files to skip (repeatable)")
        ("cache-dir", po::value(&a.cache_dir), "cache folder (default $HF_HUB_CACHE)")
        ("local-dir", po::value(&a.local_dir), "put the files in this folder instead of the cache")
        ("force-download", "download even when cached")
        ("local-files-only", "never touch the network")
        ("token", po::value(&a.token), "token (default $HF_TOKEN or the stored one)")
        ("endpoint", po::value(&a.endpoint), "Hub URL (default $HF_ENDPOINT)")
        ("max-workers", po::value(&a.max_workers), "files downloaded at once")
        ("no-verify", "skip the sha256 / git blob SHA-1 check of the downloaded bytes")
        ("format", po::value(&a.format_name), "text (default), or json: one object on stdout, errors too")
        ("quiet,q", "print only the path");
    return desc;
}

// Parses and checks argv into `a`: an exit code when the command is done (help, a usage
// error), else nullopt.
std::optional<int> parse(int argc, char** argv, download_args& a) {
    po::options_description desc = download_options_of(a);
    po::options_description hidden;
    hidden.add_options()("repo", po::value(&a.repo))("files", po::value(&a.files));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("repo", 1).add("files", -1);
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), a.vm);
        po::notify(a.vm);
    } catch (const po::error& e) {
        return usage(e.what());
    }
    if (a.vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (a.repo.empty()) return usage("a repo id is required (see --help)");
    if (!parse_repo_type(a.repo_type)) return usage("unknown repo type '" + a.repo_type + "'");
    if (!parse_format(a.format_name)) return usage("--format must be text or json");
    return std::nullopt;
}

snapshot_options snapshot_opts(const download_args& a) {
    snapshot_options o;
    o.type = *parse_repo_type(a.repo_type);
    o.revision = a.revision;
    if (!a.cache_dir.empty()) o.cache_dir = a.cache_dir;
    if (!a.local_dir.empty()) o.local_dir = a.local_dir;
    o.force_download = a.vm.count("force-download") > 0;
    o.local_files_only = a.vm.count("local-files-only") > 0;
    o.allow_patterns = a.include;
    o.ignore_patterns = a.exclude;
    o.max_workers = a.max_workers;
    o.verify = a.vm.count("no-verify") == 0;
    return o;
}

void print_result(const download_args& a, const std::filesystem::path& path) {
    if (*parse_format(a.format_name) == output_format::text) {
        std::cout << path.string() << std::endl;
        return;
    }
    boost::json::object o;
    o["path"] = path.string();
    o["repo_id"] = a.repo;
    o["repo_type"] = a.repo_type;
    o["revision"] = a.revision;
    if (a.files.size() == 1) o["file"] = a.files[0];
    print_json(o);
}

}  // namespace

int download(int argc, char** argv) {
    download_args a;
    if (auto done = parse(argc, argv, a)) return *done;
    config cfg = config::from_env();
    if (!a.endpoint.empty()) cfg.endpoint = a.endpoint;
    if (!a.token.empty()) cfg.token = a.token;
    bool bars_on = terminal::bars_allowed(a.vm.count("quiet") > 0);

    snapshot_options o = snapshot_opts(a);
    phase_progress bar(bars_on);
    auto phases = std::make_shared<download_phases>(bar, o.verify);
    o.progress = [phases](const download_progress& p) { (*phases)(p); };

    interrupt::arm("interrupted: partial downloads are kept; run the same command to resume");
    asio::io_context ioc;
    client hub(ioc.get_executor(), cfg);
    try {
        std::future<std::filesystem::path> result;
        if (a.files.size() == 1) {
            result = asio::co_spawn(ioc, co_hf_hub_download(hub, a.repo, a.files[0], o), asio::use_future);
        } else {
            if (!a.files.empty()) o.allow_patterns = a.files;  // exact names are patterns without wildcards
            result = asio::co_spawn(ioc, co_snapshot_download(hub, a.repo, o), asio::use_future);
        }
        // One I/O thread: a big file's hashing runs on a thread of its own, so a second one buys
        // little, and the pool loses wake-ups when its waiters run on several threads.
        ioc.run();
        auto path = result.get();
        phases->complete();
        print_result(a, path);
        return 0;
    } catch (const std::exception& e) {
        bar.finish();
        std::cerr << "hfhub download: " << e.what() << "\n";
        if (*parse_format(a.format_name) == output_format::json) print_json(error_json(e));
        return 1;
    }
}

}  // namespace hfhub::cli
