// The tests that check hfhub against the official JS client run its scripts in test/interop.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hfhub::test {

// Runs test/interop/<script> with node and `args`, and returns what it printed (stdout and
// stderr together). nullopt when there is no node or no test/interop/node_modules:
// test/CMakeLists.txt sets HFHUB_NODE and HFHUB_INTEROP_DIR when configure finds node. A script
// that fails throws with its output.
inline std::optional<std::string> run_interop_script(const std::string& script, const std::vector<std::string>& args) {
    const char* node = std::getenv("HFHUB_NODE");
    const char* dir = std::getenv("HFHUB_INTEROP_DIR");
    if (!node || !dir || !*node || !*dir) return std::nullopt;
    if (!std::filesystem::exists(std::filesystem::path(dir) / "node_modules")) return std::nullopt;
    std::string cmd = std::string("'") + node + "' '" + dir + "/" + script + "'";
    for (auto& a : args) cmd += " '" + a + "'";
    cmd += " 2>&1";
    std::string out;
    int rc = -1;
    if (FILE* p = ::popen(cmd.c_str(), "r")) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
        rc = ::pclose(p);
    }
    if (rc != 0) throw std::runtime_error(script + " failed: " + out);
    return out;
}

}  // namespace hfhub::test
