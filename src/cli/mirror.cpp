// hfhub mirror SRC_REPO DST_REPO: copy a repo (or the files that match) between two Hubs.
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/phases.hpp"

#include <hfhub/mirror.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/program_options.hpp>

#include <iostream>
#include <optional>
#include <thread>
#include <unistd.h>

namespace hfhub::cli {

namespace po = boost::program_options;
namespace asio = boost::asio;

namespace {

int usage(const std::string& why) {
    std::cerr << "hfhub mirror: " << why << "\n";
    return 2;
}

// The command line, as parsed.
struct mirror_args {
    std::string src_repo, dst_repo, repo_type = "model", revision = "main", message, src_endpoint, dst_endpoint,
                src_token, dst_token, format_name = "text";
    std::vector<std::string> include, exclude;
    unsigned max_workers = 8;
    std::uint64_t part_mib = 8;
    po::variables_map vm;
};

po::options_description mirror_options_of(mirror_args& a) {
    po::options_description desc(
        "usage: hfhub mirror SRC_REPO DST_REPO [options]\n\n"
        "Copies a repo, or the files that match, from one Hub to another as one commit, and\n"
        "prints the destination commit URL as the last line. Files stream from the source's\n"
        "downloads into the destination's uploads through bounded buffers: nothing is written\n"
        "to the local disk (--no-disk is the only mode). Files the destination already has, and\n"
        "LFS objects it already stores, are skipped, so a rerun after a failure moves only what\n"
        "is missing. Destination files that the source lacks are left alone.\n\n"
        "examples:\n"
        "  hfhub mirror gpt2 team/gpt2 --dst-endpoint http://hub.internal:8080 --dst-token hf_xxx\n"
        "  hfhub mirror alice/data acme/data --repo-type dataset --include '*.parquet'\n"
        "  hfhub mirror alice/model alice/model --src-endpoint https://huggingface.co \\\n"
        "      --dst-endpoint http://localhost:8080 --revision v2\n"
        "  hfhub mirror alice/model acme/model --format json | jq .lfs_bytes_sent\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("src-endpoint", po::value(&a.src_endpoint), "source Hub URL (default $HF_ENDPOINT)")
        ("dst-endpoint", po::value(&a.dst_endpoint), "destination Hub URL (default $HF_ENDPOINT)")
        ("src-token", po::value(&a.src_token), "source token (default $HF_TOKEN or the stored one)")
        ("dst-token", po::value(&a.dst_token), "destination token (default $HF_TOKEN or the stored one)")
        ("repo-type", po::value(&a.repo_type), "model, dataset or space")
        ("revision", po::value(&a.revision), "source branch, tag or commit; the destination branch of that name "
                                             "(main for a commit) is created when missing")
        ("include", po::value(&a.include)->composing(), "glob of files to copy (repeatable)")
        ("exclude", po::value(&a.exclude)->composing(), "glob of files to leave out (repeatable)")
        ("commit-message", po::value(&a.message), "the commit's summary (default \"Mirror SRC@<commit>\")")
        ("no-disk", "stream through memory only (always the case; accepted for scripts)")
        ("max-workers", po::value(&a.max_workers), "transfers at once; memory stays near max-workers x part size")
        ("part-size-mb", po::value(&a.part_mib), "MiB fetched from the source per range request (default 8)")
        ("private", "make the destination repo private if it is created")
        ("format", po::value(&a.format_name), "text (default), or json: one object on stdout, errors too")
        ("quiet,q", "print only the URL");
    return desc;
}

// Parses and checks argv into `a`: an exit code when the command is done (help, a usage
// error), else nullopt.
std::optional<int> parse(int argc, char** argv, mirror_args& a) {
    po::options_description desc = mirror_options_of(a);
    po::options_description hidden;
    hidden.add_options()("src", po::value(&a.src_repo))("dst", po::value(&a.dst_repo));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("src", 1).add("dst", 1);
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
    if (a.src_repo.empty() || a.dst_repo.empty()) return usage("a source and a destination repo are required (see --help)");
    if (!parse_repo_type(a.repo_type)) return usage("unknown repo type '" + a.repo_type + "'");
    if (!parse_format(a.format_name)) return usage("--format must be text or json");
    if (a.part_mib == 0 || a.part_mib > 1024) return usage("--part-size-mb must be between 1 and 1024");
    return std::nullopt;
}

config side(const std::string& endpoint, const std::string& token) {
    config cfg = config::from_env();
    if (!endpoint.empty()) cfg.endpoint = endpoint;
    while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
    if (!token.empty()) cfg.token = token;
    return cfg;
}

boost::json::object info_json(const mirror_info& info) {
    boost::json::object o;
    o["url"] = info.commit.url;
    o["commit"] = info.commit.oid;
    o["changed"] = info.commit.changed;
    o["src_commit"] = info.src_commit;
    o["files_selected"] = info.files_selected;
    o["files_unchanged"] = info.files_unchanged;
    o["lfs_objects_stored"] = info.lfs_objects_stored;
    o["lfs_objects_sent"] = info.lfs_objects_sent;
    o["lfs_bytes_sent"] = info.lfs_bytes_sent;
    o["regular_files_sent"] = info.regular_files_sent;
    return o;
}

}  // namespace

int mirror(int argc, char** argv) {
    mirror_args a;
    if (auto done = parse(argc, argv, a)) return *done;
    const auto format = *parse_format(a.format_name);
    bool quiet = a.vm.count("quiet") || !::isatty(STDERR_FILENO);

    mirror_options o;
    o.type = *parse_repo_type(a.repo_type);
    o.revision = a.revision;
    o.allow_patterns = a.include;
    o.ignore_patterns = a.exclude;
    o.commit_message = a.message;
    o.is_private = a.vm.count("private") > 0;
    o.max_workers = a.max_workers;
    o.part_size = a.part_mib << 20;
    phase_progress bar(terminal::bars_allowed(quiet));
    o.progress = commit_phases(bar, "file");

    asio::io_context ioc;
    client src(ioc.get_executor(), side(a.src_endpoint, a.src_token));
    client dst(ioc.get_executor(), side(a.dst_endpoint, a.dst_token));
    try {
        auto result = asio::co_spawn(ioc, co_mirror(src, dst, a.src_repo, a.dst_repo, o), asio::use_future);
        std::vector<std::thread> threads;
        for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
        for (auto& t : threads) t.join();
        mirror_info info = result.get();
        bar.finish();
        if (format == output_format::json) {
            print_json(info_json(info));
            return 0;
        }
        if (!quiet) {
            std::cerr << info.files_selected << " files selected, " << info.files_unchanged << " already there, "
                      << info.lfs_objects_stored << " LFS objects already stored, " << info.lfs_objects_sent
                      << " sent (" << info.lfs_bytes_sent << " bytes), " << info.regular_files_sent
                      << " regular files sent\n";
            if (!info.commit.changed) std::cerr << "nothing changed: no commit was made\n";
        }
        std::cout << info.commit.url << std::endl;
        return 0;
    } catch (const std::exception& e) {
        bar.finish();
        std::cerr << "hfhub mirror: " << e.what() << "\n";
        if (format == output_format::json) print_json(error_json(e));
        return 1;
    }
}

}  // namespace hfhub::cli
