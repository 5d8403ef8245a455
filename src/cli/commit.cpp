// hfhub commit REPO --receipts FILE...: publishes files other processes stored (hfhub upload
// --receipts-out, or co_preupload) as one commit, from a host that need not have them.
#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/interrupt.hpp"
#include "cli/phases.hpp"
#include "cli/watch.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/receipts.hpp>
#include <hfhub/repo.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <boost/program_options.hpp>

#include <iostream>
#include <set>
#include <thread>

namespace hfhub::cli {

namespace po = boost::program_options;
namespace asio = boost::asio;

namespace {

int usage(const std::string& why) {
    std::cerr << "hfhub commit: " << why << "\n";
    return 2;
}

struct commit_args {
    std::string repo, repo_type = "model", revision = "main", message, description, token, endpoint,
                format = "text", parent;
    std::vector<std::string> receipts, del;
    po::variables_map vm;
    bool has(const char* o) const { return vm.count(o) > 0; }
};

}  // namespace

int commit(int argc, char** argv) {
    commit_args a;
    po::options_description desc(
        "usage: hfhub commit REPO --receipts FILE... [options]\n\n"
        "Publishes, as one commit, the files whose receipts the FILEs hold (JSON lines, as written by\n"
        "'hfhub upload --receipts-out'; '-' reads stdin). The files need not be on this host: each\n"
        "rank of a job uploads its own, and one process commits them all, or nothing. Prints the\n"
        "commit URL (or the pull request URL).\n\n"
        "examples:\n"
        "  hfhub upload alice/model ./rank0 --receipts-out shared/rank0.jsonl   # on each rank\n"
        "  hfhub commit alice/model --receipts shared/*.jsonl --commit-message 'Step 1000'\n"
        "  hfhub commit alice/model --receipts shared/*.jsonl --delete 'shards/*' --parent-commit 3f2a...\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("receipts", po::value(&a.receipts)->multitoken()->composing(), "receipt files (JSON lines; repeatable)")
        ("repo-type", po::value(&a.repo_type), "model, dataset or space (must match the receipts)")
        ("revision", po::value(&a.revision), "branch to commit to (must match the receipts)")
        ("delete", po::value(&a.del)->composing(), "glob of remote files to delete in the same commit (repeatable); "
                                                   "files the receipts add are kept")
        ("commit-message", po::value(&a.message), "the commit's summary (default: 'Upload N files with hfhub')")
        ("commit-description", po::value(&a.description), "the commit's description")
        ("parent-commit", po::value(&a.parent), "commit only if the branch's head is still this commit")
        ("create-pr", "open a pull request instead of committing to the branch")
        ("token", po::value(&a.token), "token (default $HF_TOKEN or the stored one)")
        ("endpoint", po::value(&a.endpoint), "Hub URL (default $HF_ENDPOINT)")
        ("format", po::value(&a.format), "text (the URL) or json (one object)")
        ("quiet,q", "print only the URL (or the JSON)");
    po::options_description hidden;
    hidden.add_options()("repo", po::value(&a.repo));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("repo", 1);
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), a.vm);
        po::notify(a.vm);
    } catch (const po::error& e) {
        return usage(e.what());
    }
    if (a.has("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    if (!parse_format(a.format)) return usage("--format is text or json, not '" + a.format + "'");
    if (a.repo.empty()) return usage("a repo id is required (see --help)");
    if (a.receipts.empty()) return usage("--receipts FILE... is required");
    auto type = parse_repo_type(a.repo_type);
    if (!type) return usage("unknown repo type '" + a.repo_type + "'");
    try {
        validate_repo_id(a.repo);
    } catch (const error& e) {
        return usage(e.what());
    }
    bool json_out = a.format == "json";
    config cfg = config::from_env();
    if (!a.endpoint.empty()) cfg.endpoint = a.endpoint;
    while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
    if (!a.token.empty()) cfg.token = a.token;
    phase_progress bar(terminal::bars_allowed(a.has("quiet")));
    try {
        std::vector<upload_receipt> receipts;
        for (auto& f : a.receipts) {
            std::vector<upload_receipt> got;
            if (f == "-") {
                std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
                got = receipts_from_jsonl(text);
            } else {
                got = read_receipts(f);
            }
            receipts.insert(receipts.end(), got.begin(), got.end());
        }
        if (receipts.empty()) throw error(client_errc::invalid_argument, {.client_message = "the receipt files hold no receipts"});
        commit_options o;
        o.type = *type;
        o.revision = a.revision;
        o.create_pr = a.has("create-pr");
        o.commit_message = a.message.empty() ? "Upload " + std::to_string(receipts.size()) + " files with hfhub" : a.message;
        o.commit_description = a.description;
        if (a.has("parent-commit")) o.parent_commit = a.parent;
        o.progress = commit_phases(bar, "LFS file");
        interrupt::arm("interrupted while committing: the commit may have landed; check the repo");

        asio::io_context ioc;
        client hub(ioc.get_executor(), cfg);
        auto run = [&]() -> asio::awaitable<commit_info> {
            std::vector<commit_operation> ops;
            std::set<std::string> added;
            for (auto& r : receipts) {
                ops.push_back(commit_add::from_receipt(r));
                added.insert(r.path_in_repo);
            }
            if (!a.del.empty()) {
                tree_query q;
                q.type = o.type;
                q.revision = o.revision;
                q.recursive = true;
                auto entries = co_await co_list_repo_tree(hub, a.repo, q);
                for (auto& e : entries)
                    if (auto* f = std::get_if<repo_file>(&e);
                        f && f->path != ".gitattributes" && !added.count(f->path) && path_matches(f->path, a.del, {}))
                        ops.push_back(commit_delete{f->path, false});
            }
            co_return co_await co_create_commit(hub, a.repo, std::move(ops), o);
        };
        std::future<commit_info> result = asio::co_spawn(ioc, run(), asio::use_future);
        std::vector<std::thread> threads;
        for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
        for (auto& t : threads) t.join();
        commit_info info = result.get();
        bar.finish();
        if (!info.changed) bar.say("nothing changed: no commit was made");
        if (json_out) {
            auto out = commit_json(a.repo, info);
            out["receipts"] = receipts.size();
            print_json(out);
        } else {
            std::cout << (info.pr_url ? *info.pr_url : info.url) << std::endl;
        }
        return 0;
    } catch (const std::exception& e) {
        bar.finish();
        std::cerr << "hfhub commit: " << e.what() << "\n";
        if (json_out) print_json(error_json(e));
        return 1;
    }
}

}  // namespace hfhub::cli
