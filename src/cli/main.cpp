// The hfhub command line: one function per subcommand, in cli/.
#include "cli/commands.hpp"

#include <cstring>
#include <malloc.h>
#include <iostream>

namespace {
void usage(std::ostream& os) {
    os << "usage: hfhub <command> [options]\n\n"
          "commands:\n"
          "  download  download files or a snapshot into the shared cache\n"
          "  upload    upload a file or a folder as one commit\n"
          "  commit    publish files other processes uploaded (their receipts) as one commit\n"
          "  mirror    copy a repo from one Hub to another, streaming, as one commit\n"
          "  cache     scan, verify, prune the cache\n"
          "  repo      create or delete repos, branches and tags; change settings\n"
          "  whoami    show the user the token belongs to\n"
          "  login     check a token and store it where the Python client looks\n"
          "  logout    remove the stored token\n"
          "  serve     run a local Hub-compatible server\n\n"
          "Run 'hfhub <command> --help' for a command's options and examples.\n\n"
          "examples:\n"
          "  hfhub serve --root ./hub-data &\n"
          "  HF_ENDPOINT=http://127.0.0.1:8080 hfhub upload alice/model ./checkpoint\n"
          "  hfhub download gpt2 config.json\n";
}
}  // namespace

int main(int argc, char** argv) {
    // Transfers allocate and free multi-MiB buffers on several threads. glibc's default raises
    // its mmap threshold after the first such free and then keeps the freed memory in per-thread
    // arenas; a fixed threshold returns it to the system, so peak memory stays near what is in use.
    ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
        usage(argc < 2 ? std::cerr : std::cout);
        return argc < 2 ? 2 : 0;
    }
    std::string cmd = argv[1];
    if (cmd == "serve") return hfhub::cli::serve(argc - 1, argv + 1);
    if (cmd == "download") return hfhub::cli::download(argc - 1, argv + 1);
    if (cmd == "cache") return hfhub::cli::cache(argc - 1, argv + 1);
    if (cmd == "repo") return hfhub::cli::repo(argc - 1, argv + 1);
    if (cmd == "upload") return hfhub::cli::upload(argc - 1, argv + 1);
    if (cmd == "commit") return hfhub::cli::commit(argc - 1, argv + 1);
    if (cmd == "mirror") return hfhub::cli::mirror(argc - 1, argv + 1);
    if (cmd == "whoami") return hfhub::cli::whoami(argc - 1, argv + 1);
    if (cmd == "login") return hfhub::cli::login(argc - 1, argv + 1);
    if (cmd == "logout") return hfhub::cli::logout(argc - 1, argv + 1);
    std::cerr << "hfhub: unknown command '" << cmd << "'\n";
    usage(std::cerr);
    return 2;
}
