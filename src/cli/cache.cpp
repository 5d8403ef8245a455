// hfhub cache scan|rm|verify|prune: look after the cache Python, JS and hfhub share.
#include "cli/commands.hpp"
#include "cli/progress.hpp"

#include <hfhub/cache.hpp>
#include <hfhub/config.hpp>

#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>

namespace hfhub::cli {

namespace po = boost::program_options;

namespace {

void print_plan(const cache_plan& p, bool dry_run) {
    std::cout << (dry_run ? "would free " : "freed ") << progress_bar::human(p.freed_bytes) << ": " << p.blobs.size()
              << " blobs, " << p.snapshots.size() << " snapshots, " << p.refs.size() << " refs, " << p.other.size()
              << " other\n";
}

}  // namespace

int cache(int argc, char** argv) {
    std::string action, cache_dir;
    std::vector<std::string> revisions;
    po::options_description desc(
        "usage: hfhub cache scan|rm|verify|prune [options]\n\n"
        "  scan              list cached repos, revisions, sizes and refs; report damage\n"
        "  rm COMMIT...      delete revisions; blobs still used by other revisions stay\n"
        "  verify            re-hash every blob against its name\n"
        "  prune             delete revisions no ref points to, unused blobs, partial downloads\n\n"
        "examples:\n"
        "  hfhub cache scan\n"
        "  hfhub cache rm 86b5e0934494bd15c9632b12f734a8a67f723594 --dry-run\n"
        "  hfhub cache verify --cache-dir /data/hf-cache\n\n"
        "options");
    desc.add_options()("help,h", "show this help")("cache-dir", po::value(&cache_dir),
                                                    "cache folder (default $HF_HUB_CACHE)")(
        "dry-run", "say what would be deleted, delete nothing");
    po::options_description hidden;
    hidden.add_options()("action", po::value(&action))("revisions", po::value(&revisions));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("action", 1).add("revisions", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "hfhub cache: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help") || action.empty()) {
        (action.empty() && !vm.count("help") ? std::cerr : std::cout) << desc << "\n";
        return vm.count("help") ? 0 : 2;
    }
    std::filesystem::path dir = cache_dir.empty() ? config::from_env().hub_cache : std::filesystem::path(cache_dir);
    bool dry = vm.count("dry-run") > 0;

    if (action == "scan") {
        auto r = scan_cache(dir);
        std::printf("%-10s %-40s %10s %6s  %s\n", "TYPE", "REPO", "SIZE", "FILES", "REFS");
        for (auto& repo : r.repos) {
            std::string refs;
            for (auto& rev : repo.revisions)
                for (auto& ref : rev.refs) refs += (refs.empty() ? "" : ",") + ref;
            std::printf("%-10s %-40s %10s %6llu  %s\n", std::string(to_string(repo.type)).c_str(), repo.repo_id.c_str(),
                        progress_bar::human(repo.size_on_disk).c_str(),
                        static_cast<unsigned long long>(repo.nb_files), refs.c_str());
            for (auto& rev : repo.revisions)
                std::printf("  %s %10s %zu files\n", rev.commit.c_str(), progress_bar::human(rev.size_on_disk).c_str(),
                            rev.files.size());
        }
        std::printf("%zu repos, %s in %s\n", r.repos.size(), progress_bar::human(r.size_on_disk).c_str(),
                    dir.string().c_str());
        for (auto& p : r.incomplete) std::printf("partial download: %s\n", p.string().c_str());
        for (auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
        return r.warnings.empty() ? 0 : 1;
    }
    if (action == "rm") {
        if (revisions.empty()) {
            std::cerr << "hfhub cache rm: name at least one commit\n";
            return 2;
        }
        auto plan = plan_delete_revisions(scan_cache(dir), revisions);
        if (!dry) execute(plan);
        print_plan(plan, dry);
        return 0;
    }
    if (action == "prune") {
        auto plan = plan_prune(scan_cache(dir));
        if (!dry) execute(plan);
        print_plan(plan, dry);
        return 0;
    }
    if (action == "verify") {
        auto v = verify_cache(dir);
        for (auto& p : v.corrupted) std::printf("corrupted: %s\n", p.string().c_str());
        for (auto& p : v.dangling) std::printf("dangling: %s\n", p.string().c_str());
        std::printf("%llu blobs checked, %zu corrupted, %zu dangling\n", static_cast<unsigned long long>(v.checked),
                    v.corrupted.size(), v.dangling.size());
        return v.corrupted.empty() && v.dangling.empty() ? 0 : 1;
    }
    std::cerr << "hfhub cache: unknown action '" << action << "'\n";
    return 2;
}

}  // namespace hfhub::cli
