// hfhub cache scan|rm|verify|prune: look after the cache Python, JS and hfhub share.
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/progress.hpp"

#include <hfhub/cache.hpp>
#include <hfhub/config.hpp>

#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <string>
#include <unistd.h>

namespace hfhub::cli {

namespace po = boost::program_options;

namespace {

void print_plan(const cache_plan& p, bool dry_run) {
    std::cout << (dry_run ? "would free " : "freed ") << progress_bar::human(p.freed_bytes) << ": " << p.blobs.size()
              << " blobs, " << p.snapshots.size() << " snapshots, " << p.refs.size() << " refs, " << p.other.size()
              << " other\n";
}

boost::json::array paths_json(const std::vector<std::filesystem::path>& v) {
    boost::json::array a;
    for (auto& p : v) a.push_back(boost::json::value(p.string()));
    return a;
}

boost::json::object plan_json(const cache_plan& p, bool dry_run) {
    return {{"dry_run", dry_run},
            {"freed_bytes", p.freed_bytes},
            {"blobs", paths_json(p.blobs)},
            {"snapshots", paths_json(p.snapshots)},
            {"refs", paths_json(p.refs)},
            {"other", paths_json(p.other)}};
}

boost::json::object scan_json(const cache_report& r) {
    boost::json::array repos;
    for (auto& repo : r.repos) {
        boost::json::array revs;
        for (auto& rev : repo.revisions) {
            boost::json::array refs;
            for (auto& ref : rev.refs) refs.push_back(boost::json::value(ref));
            revs.push_back(boost::json::object{{"commit", rev.commit},
                                               {"refs", std::move(refs)},
                                               {"size_on_disk", rev.size_on_disk},
                                               {"nb_files", rev.files.size()},
                                               {"snapshot_path", rev.snapshot_path.string()}});
        }
        repos.push_back(boost::json::object{{"repo_id", repo.repo_id},
                                            {"repo_type", to_string(repo.type)},
                                            {"repo_path", repo.repo_path.string()},
                                            {"size_on_disk", repo.size_on_disk},
                                            {"nb_files", repo.nb_files},
                                            {"revisions", std::move(revs)}});
    }
    boost::json::array warnings;
    for (auto& w : r.warnings) warnings.push_back(boost::json::value(w));
    return {{"cache_dir", r.cache_dir.string()},
            {"size_on_disk", r.size_on_disk},
            {"repos", std::move(repos)},
            {"incomplete", paths_json(r.incomplete)},
            {"warnings", std::move(warnings)}};
}

// A person at a terminal confirms a deletion; scripts (no terminal on stdin) and --yes do not.
bool confirmed(const cache_plan& p) {
    if (!::isatty(STDIN_FILENO)) return true;
    std::cerr << "This deletes " << p.snapshots.size() << " revisions, " << p.blobs.size() << " blobs ("
              << progress_bar::human(p.freed_bytes) << "). Proceed? [y/N] " << std::flush;
    std::string answer;
    if (!std::getline(std::cin, answer)) return false;
    return answer == "y" || answer == "Y" || answer == "yes";
}

// `cache scan`: a table like `hf cache scan`, or JSON; 1 when the scan found damage.
int scan_action(const std::filesystem::path& dir, bool json_out) {
    auto r = scan_cache(dir);
    if (json_out) {
        print_json(scan_json(r));
        return r.warnings.empty() ? 0 : 1;
    }
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

// `cache verify`: re-hash every blob; 1 when one is corrupted or a link dangles.
int verify_action(const std::filesystem::path& dir, bool json_out) {
    auto v = verify_cache(dir);
    if (json_out) {
        print_json({{"checked", v.checked}, {"corrupted", paths_json(v.corrupted)}, {"dangling", paths_json(v.dangling)}});
        return v.corrupted.empty() && v.dangling.empty() ? 0 : 1;
    }
    for (auto& p : v.corrupted) std::printf("corrupted: %s\n", p.string().c_str());
    for (auto& p : v.dangling) std::printf("dangling: %s\n", p.string().c_str());
    std::printf("%llu blobs checked, %zu corrupted, %zu dangling\n", static_cast<unsigned long long>(v.checked),
                v.corrupted.size(), v.dangling.size());
    return v.corrupted.empty() && v.dangling.empty() ? 0 : 1;
}
}  // namespace

int cache(int argc, char** argv) {
    std::string action, cache_dir, format_name = "text";
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
        "  hfhub cache verify --cache-dir /data/hf-cache\n"
        "  hfhub cache scan --format json | jq '.repos[].repo_id'\n"
        "  hfhub cache rm 86b5e0934494bd15c9632b12f734a8a67f723594 --yes\n\n"
        "options");
    desc.add_options()("help,h", "show this help")("cache-dir", po::value(&cache_dir),
                                                    "cache folder (default $HF_HUB_CACHE)")(
        "dry-run", "say what would be deleted, delete nothing")(
        "yes,y", "rm: delete without asking (it asks on a terminal)")(
        "format", po::value(&format_name), "text (default) or json: one object on stdout");
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
    auto format = parse_format(format_name);
    if (!format) {
        std::cerr << "hfhub cache: --format must be text or json\n";
        return 2;
    }
    bool json_out = *format == output_format::json;

    if (action == "scan") return scan_action(dir, json_out);
    if (action == "rm") {
        if (revisions.empty()) {
            std::cerr << "hfhub cache rm: name at least one commit\n";
            return 2;
        }
        auto plan = plan_delete_revisions(scan_cache(dir), revisions);
        if (!dry && !vm.count("yes") && !plan.snapshots.empty() && !confirmed(plan)) {
            std::cerr << "nothing deleted\n";
            return 1;
        }
        if (!dry) execute(plan);
        if (json_out) print_json(plan_json(plan, dry));
        else print_plan(plan, dry);
        return 0;
    }
    if (action == "prune") {
        auto plan = plan_prune(scan_cache(dir));
        if (!dry) execute(plan);
        if (json_out) print_json(plan_json(plan, dry));
        else print_plan(plan, dry);
        return 0;
    }
    if (action == "verify") return verify_action(dir, json_out);
    std::cerr << "hfhub cache: unknown action '" << action << "'\n";
    return 2;
}

}  // namespace hfhub::cli
