#pragma once

namespace hfhub::cli {

// Each takes the subcommand's own argv (argv[0] is the subcommand name) and returns the exit code.
int serve(int argc, char** argv);
int download(int argc, char** argv);
int cache(int argc, char** argv);
int upload(int argc, char** argv);
int commit(int argc, char** argv);
int mirror(int argc, char** argv);
int whoami(int argc, char** argv);
int login(int argc, char** argv);
int logout(int argc, char** argv);
int repo(int argc, char** argv);

}  // namespace hfhub::cli
