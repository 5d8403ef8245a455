// hfhub whoami | login | logout: the account, with the token where the Python client keeps it.
#include "cli/commands.hpp"

#include <hfhub/hub_api.hpp>

#include "util/fs.hpp"

#include <boost/program_options.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <iostream>
#include <sys/stat.h>
#include <unistd.h>

namespace hfhub::cli {

namespace po = boost::program_options;
namespace asio = boost::asio;

namespace {

// Parses the common options; returns an exit code, or -1 to go on.
int parse(const char* name, const char* text, int argc, char** argv, po::options_description& desc,
          po::variables_map& vm) {
    po::options_description all;
    all.add(desc);
    try {
        po::store(po::command_line_parser(argc, argv).options(all).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "hfhub " << name << ": " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << text << all << "\n";
        return 0;
    }
    return -1;
}

whoami_info ask(config cfg, const std::optional<std::string>& token) {
    asio::io_context ioc;
    client hub(ioc.get_executor(), std::move(cfg));
    auto f = asio::co_spawn(ioc, co_whoami(hub, token), asio::use_future);
    ioc.run();
    return f.get();
}

}  // namespace

int whoami(int argc, char** argv) {
    std::string endpoint, token;
    po::options_description desc("options");
    desc.add_options()("help,h", "show this help")("token", po::value(&token), "token (default $HF_TOKEN or the stored one)")(
        "endpoint", po::value(&endpoint), "Hub URL (default $HF_ENDPOINT)");
    po::variables_map vm;
    if (int rc = parse("whoami", "usage: hfhub whoami [options]\n\nPrints the user the token belongs to, then its organisations.\n\n"
                                 "example:\n  HF_ENDPOINT=http://127.0.0.1:8080 hfhub whoami\n", argc, argv, desc, vm);
        rc >= 0)
        return rc;
    config cfg = config::from_env();
    if (!endpoint.empty()) cfg.endpoint = endpoint;
    if (!token.empty()) cfg.token = token;
    if (!cfg.token) {
        std::cerr << "hfhub whoami: not logged in (no $HF_TOKEN and no token at " << cfg.token_path.string() << ")\n";
        return 1;
    }
    try {
        auto me = ask(cfg, std::nullopt);
        std::cout << me.name << "\n";
        if (!me.orgs.empty()) {
            std::cout << "orgs: ";
            for (std::size_t i = 0; i < me.orgs.size(); ++i) std::cout << (i ? "," : "") << me.orgs[i];
            std::cout << "\n";
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "hfhub whoami: " << e.what() << "\n";
        return 1;
    }
}

int login(int argc, char** argv) {
    std::string endpoint, token;
    po::options_description desc("options");
    desc.add_options()("help,h", "show this help")("token", po::value(&token), "the token (default: read a line from stdin)")(
        "endpoint", po::value(&endpoint), "Hub URL (default $HF_ENDPOINT)");
    po::variables_map vm;
    if (int rc = parse("login",
                       "usage: hfhub login [--token TOKEN] [options]\n\n"
                       "Checks the token with the Hub, then stores it where the Python client looks\n"
                       "($HF_TOKEN_PATH, else $HF_HOME/token), readable by you only.\n\n"
                       "examples:\n  hfhub login --token hf_xxx\n  printf '%s\\n' \"$TOKEN\" | hfhub login\n",
                       argc, argv, desc, vm);
        rc >= 0)
        return rc;
    if (token.empty()) {
        if (::isatty(STDIN_FILENO)) std::cerr << "token: " << std::flush;
        std::getline(std::cin, token);
    }
    while (!token.empty() && (token.back() == '\r' || token.back() == '\n' || token.back() == ' ')) token.pop_back();
    if (token.empty()) {
        std::cerr << "hfhub login: no token given\n";
        return 2;
    }
    config cfg = config::from_env();
    if (!endpoint.empty()) cfg.endpoint = endpoint;
    try {
        auto me = ask(cfg, token);  // a bad token is refused here, before anything is written
        std::filesystem::create_directories(cfg.token_path.parent_path());
        ::umask(077);
        util::write_file_atomic(cfg.token_path, token);
        ::chmod(cfg.token_path.c_str(), 0600);
        std::cout << "logged in as " << me.name << "; token saved to " << cfg.token_path.string() << "\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "hfhub login: " << e.what() << "\n";
        return 1;
    }
}

int logout(int argc, char** argv) {
    po::options_description desc("options");
    desc.add_options()("help,h", "show this help");
    po::variables_map vm;
    if (int rc = parse("logout", "usage: hfhub logout\n\nRemoves the stored token. $HF_TOKEN, if set, still applies.\n\n"
                                 "example:\n  hfhub logout\n", argc, argv, desc, vm);
        rc >= 0)
        return rc;
    config cfg = config::from_env();
    std::error_code ec;
    bool removed = std::filesystem::remove(cfg.token_path, ec);
    if (ec) {
        std::cerr << "hfhub logout: " << ec.message() << "\n";
        return 1;
    }
    std::cout << (removed ? "logged out: removed " + cfg.token_path.string() : std::string("not logged in")) << "\n";
    return 0;
}

}  // namespace hfhub::cli
