// hfhub repo create|delete|branch|tag|settings: repo management on the Hub.
#include "cli/commands.hpp"

#include <hfhub/repo_api.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/program_options.hpp>

#include <iostream>
#include <utility>
#include <vector>

namespace hfhub::cli {

namespace po = boost::program_options;
namespace asio = boost::asio;

namespace {

const char* const repo_usage =
    "usage: hfhub repo <action> [options]\n\n"
    "actions:\n"
    "  create REPO [--repo-type T] [--private] [--exist-ok] [--space-sdk S]\n"
    "  delete REPO [--repo-type T] [--missing-ok]\n"
    "  branch create REPO BRANCH [--revision R] [--exist-ok]\n"
    "  branch delete REPO BRANCH\n"
    "  tag create REPO TAG [--revision R] [-m MESSAGE]\n"
    "  tag delete REPO TAG\n"
    "  settings REPO [--private | --public]\n\n"
    "Every action takes --repo-type, --token and --endpoint (default $HF_ENDPOINT).\n"
    "Run 'hfhub repo <action> --help' for details.\n\n"
    "examples:\n"
    "  hfhub repo create alice/model --private\n"
    "  hfhub repo branch create alice/model dev --revision main\n"
    "  hfhub repo tag create alice/model v1.0 -m 'first release'\n";

constexpr int go_on = -1;

struct common_args {
    std::string type_name = "model", token, endpoint;
    repo_type type = repo_type::model;
};

// Parses one action's argv (argv[0] is the action's name) into `vm` and the positionals.
// Returns go_on, or the exit code: 0 after --help, 2 on a usage error.
int parse(int argc, char** argv, const std::string& cmd, const std::string& synopsis, po::options_description& opts,
          const std::vector<std::pair<const char*, std::string*>>& positionals, common_args& com,
          po::variables_map& vm) {
    po::options_description desc("usage: hfhub repo " + synopsis + "\n\noptions");
    desc.add(opts);
    desc.add_options()
        ("help,h", "show this help")
        ("repo-type", po::value(&com.type_name), "model, dataset or space (default model)")
        ("token", po::value(&com.token), "token (default $HF_TOKEN or the stored one)")
        ("endpoint", po::value(&com.endpoint), "Hub URL (default $HF_ENDPOINT)");
    po::options_description hidden;
    po::positional_options_description pos;
    for (auto& [name, target] : positionals) {
        hidden.add_options()(name, po::value(target));
        pos.add(name, 1);
    }
    po::options_description all;
    all.add(desc).add(hidden);
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "hfhub repo " << cmd << ": " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    for (auto& [name, target] : positionals) {
        if (target->empty()) {
            std::cerr << "hfhub repo " << cmd << ": " << name << " is required (see --help)\n";
            return 2;
        }
    }
    auto t = parse_repo_type(com.type_name);
    if (!t) {
        std::cerr << "hfhub repo " << cmd << ": unknown repo type '" << com.type_name << "'\n";
        return 2;
    }
    com.type = *t;
    return go_on;
}

// Runs `op(client&)` (an awaitable) to completion; errors go to stderr with exit code 1.
template <class Op>
int execute(const common_args& com, Op&& op) {
    try {
        config cfg = config::from_env();
        if (!com.endpoint.empty()) cfg.endpoint = com.endpoint;
        while (cfg.endpoint.ends_with('/')) cfg.endpoint.pop_back();
        if (!com.token.empty()) cfg.token = com.token;
        asio::io_context ioc;
        client hub(ioc.get_executor(), cfg);
        auto done = asio::co_spawn(ioc, op(hub), asio::use_future);
        ioc.run();
        done.get();
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "hfhub: " << e.what() << "\n";
        return 1;
    }
}

int create(int argc, char** argv) {
    common_args com;
    std::string repo, sdk;
    po::options_description opts;
    opts.add_options()
        ("private", "make the repo private")
        ("exist-ok", "succeed when the repo already exists")
        ("space-sdk", po::value(&sdk), "spaces only: gradio (default), streamlit, docker or static");
    po::variables_map vm;
    if (int rc = parse(argc, argv, "create", "create REPO [options]\n\nCreates a repo and prints its URL.\n\nexamples:\n"
                       "  hfhub repo create alice/model --private\n"
                       "  hfhub repo create acme/data --repo-type dataset --exist-ok\n"
                       "  hfhub repo create alice/demo --repo-type space --space-sdk docker", opts,
                       {{"REPO", &repo}}, com, vm);
        rc != go_on)
        return rc;
    if (!sdk.empty() && com.type != repo_type::space) {
        std::cerr << "hfhub repo create: --space-sdk needs --repo-type space\n";
        return 2;
    }
    create_repo_options o;
    o.type = com.type;
    o.is_private = vm.count("private") > 0;
    o.exist_ok = vm.count("exist-ok") > 0;
    o.space_sdk = sdk;
    repo_url_info info;
    int rc = execute(com, [&](client& h) -> asio::awaitable<void> { info = co_await co_create_repo(h, repo, o); });
    if (rc == 0) std::cout << info.url << std::endl;
    return rc;
}

int delete_cmd(int argc, char** argv) {
    common_args com;
    std::string repo;
    po::options_description opts;
    opts.add_options()("missing-ok", "succeed when the repo does not exist");
    po::variables_map vm;
    if (int rc = parse(argc, argv, "delete", "delete REPO [options]\n\nDeletes a repo and everything in it.\n\nexamples:\n"
                       "  hfhub repo delete alice/old-model\n"
                       "  hfhub repo delete acme/scratch --repo-type dataset --missing-ok", opts,
                       {{"REPO", &repo}}, com, vm);
        rc != go_on)
        return rc;
    delete_repo_options o;
    o.type = com.type;
    o.missing_ok = vm.count("missing-ok") > 0;
    int rc = execute(com, [&](client& h) { return co_delete_repo(h, repo, o); });
    if (rc == 0) std::cout << "deleted " << to_string(com.type) << " " << repo << std::endl;
    return rc;
}

int branch(int argc, char** argv) {
    std::string sub = argc > 1 ? argv[1] : "";
    if (sub != "create" && sub != "delete") {
        std::cerr << "hfhub repo branch: expected 'create' or 'delete'\n" << repo_usage;
        return 2;
    }
    common_args com;
    std::string repo, name, revision;
    po::options_description opts;
    if (sub == "create")
        opts.add_options()
            ("revision", po::value(&revision), "where the branch starts: branch, tag or commit (default main)")
            ("exist-ok", "succeed when the branch already exists (it is left where it is)");
    po::variables_map vm;
    std::string synopsis = sub == "create" ? "branch create REPO BRANCH [options]\n\nCreates a branch at a revision (default main).\n\n"
                                                      "examples:\n  hfhub repo branch create alice/model dev\n"
                                                      "  hfhub repo branch create alice/model v1-fix --revision v1 --exist-ok"
                                                    : "branch delete REPO BRANCH [options]\n\nDeletes a branch.\n\n"
                                                      "example:\n  hfhub repo branch delete alice/model dev";
    if (int rc = parse(argc - 1, argv + 1, "branch " + sub, synopsis, opts, {{"REPO", &repo}, {"BRANCH", &name}}, com,
                       vm);
        rc != go_on)
        return rc;
    int rc;
    if (sub == "create") {
        branch_options o;
        o.type = com.type;
        if (vm.count("revision")) o.revision = revision;
        o.exist_ok = vm.count("exist-ok") > 0;
        rc = execute(com, [&](client& h) { return co_create_branch(h, repo, name, o); });
    } else {
        ref_options o{com.type, std::nullopt};
        rc = execute(com, [&](client& h) { return co_delete_branch(h, repo, name, o); });
    }
    if (rc == 0) std::cout << (sub == "create" ? "created" : "deleted") << " branch " << name << " in " << repo << std::endl;
    return rc;
}

int tag(int argc, char** argv) {
    std::string sub = argc > 1 ? argv[1] : "";
    if (sub != "create" && sub != "delete") {
        std::cerr << "hfhub repo tag: expected 'create' or 'delete'\n" << repo_usage;
        return 2;
    }
    common_args com;
    std::string repo, name, revision = "main", message;
    po::options_description opts;
    if (sub == "create")
        opts.add_options()
            ("revision", po::value(&revision), "what the tag points at: branch, tag or commit (default main)")
            ("message,m", po::value(&message), "the tag's message");
    po::variables_map vm;
    std::string synopsis = sub == "create" ? "tag create REPO TAG [options]\n\nTags a revision (default main).\n\n"
                                                      "examples:\n  hfhub repo tag create alice/model v1.0\n"
                                                      "  hfhub repo tag create alice/model v1.1 --revision dev -m 'second release'"
                                                    : "tag delete REPO TAG [options]\n\nDeletes a tag.\n\n"
                                                      "example:\n  hfhub repo tag delete alice/model v1.0";
    if (int rc = parse(argc - 1, argv + 1, "tag " + sub, synopsis, opts, {{"REPO", &repo}, {"TAG", &name}}, com, vm);
        rc != go_on)
        return rc;
    int rc;
    if (sub == "create") {
        tag_options o;
        o.type = com.type;
        o.revision = revision;
        if (vm.count("message")) o.message = message;
        rc = execute(com, [&](client& h) { return co_create_tag(h, repo, name, o); });
    } else {
        ref_options o{com.type, std::nullopt};
        rc = execute(com, [&](client& h) { return co_delete_tag(h, repo, name, o); });
    }
    if (rc == 0) std::cout << (sub == "create" ? "created" : "deleted") << " tag " << name << " in " << repo << std::endl;
    return rc;
}

int settings(int argc, char** argv) {
    common_args com;
    std::string repo;
    po::options_description opts;
    opts.add_options()("private", "make the repo private")("public", "make the repo public");
    po::variables_map vm;
    if (int rc = parse(argc, argv, "settings", "settings REPO --private|--public [options]\n\nChanges the repo's visibility.\n\n"
                       "examples:\n  hfhub repo settings alice/model --private\n"
                       "  hfhub repo settings acme/data --repo-type dataset --public", opts, {{"REPO", &repo}},
                       com, vm);
        rc != go_on)
        return rc;
    bool priv = vm.count("private") > 0, pub = vm.count("public") > 0;
    if (priv == pub) {
        std::cerr << "hfhub repo settings: give exactly one of --private and --public\n";
        return 2;
    }
    repo_settings s;
    s.type = com.type;
    s.is_private = priv;
    int rc = execute(com, [&](client& h) { return co_update_repo_settings(h, repo, s); });
    if (rc == 0) std::cout << repo << " is now " << (priv ? "private" : "public") << std::endl;
    return rc;
}

}  // namespace

int repo(int argc, char** argv) {
    std::string action = argc > 1 ? argv[1] : "";
    if (action == "--help" || action == "-h") {
        std::cout << repo_usage;
        return 0;
    }
    // Each action parses its own argv, starting at its name.
    if (action == "create") return create(argc - 1, argv + 1);
    if (action == "delete") return delete_cmd(argc - 1, argv + 1);
    if (action == "branch") return branch(argc - 1, argv + 1);
    if (action == "tag") return tag(argc - 1, argv + 1);
    if (action == "settings") return settings(argc - 1, argv + 1);
    if (action.empty())
        std::cerr << "hfhub repo: an action is required\n";
    else
        std::cerr << "hfhub repo: unknown action '" << action << "'\n";
    std::cerr << repo_usage;
    return 2;
}

}  // namespace hfhub::cli
