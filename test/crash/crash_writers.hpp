// The crash test's model of what the server acknowledged, and the writer threads that commit
// to it while it may be killed at any moment.
#pragma once

#include "http_client.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace hfhub::crash {

using hfhub::test::header_pairs;
using hfhub::test::http_response;

inline constexpr const char* ns = "crash";

// What a file in a branch head must be.
struct entry {
    std::string oid;  // git blob id (of the pointer for LFS)
    std::uint64_t size = 0;
    std::string lfs;  // sha256, empty for regular files
    bool operator==(const entry&) const = default;
};
using tree = std::map<std::string, entry>;

struct lfs_object {
    std::string sha;
    std::uint64_t size = 0;
};

// One writer per (repo, branch): nobody else moves the branch, so every parent is known.
struct stream {
    std::string repo;  // "crash/r0"
    std::string branch;
    std::string head;
    tree files;                     // the tree of `head`
    std::vector<std::string> acked;  // every commit answered 200, over all runs
    std::optional<tree> in_flight;   // the commit sent whose answer never came
    std::vector<lfs_object> objects;  // LFS objects whose PUT was answered 200
    std::mt19937_64 rng;
    std::size_t commits = 0, lfs_puts = 0, recovered = 0;
};

struct created_repo {
    std::string id;
    std::string readme;
    bool acked = false;
};

// The run's shared state between writer threads and the main thread.
struct run_ctx {
    std::string base;
    std::atomic<bool> stop{false};
    std::atomic<bool> killed{false};
    std::mutex mu;
    std::vector<std::string> errors;

    void fail(const std::string& why) {
        std::lock_guard lk(mu);
        errors.push_back(why);
    }
};

std::string api(const std::string& base, const std::string& repo);
// The request, or nullopt if the connection failed (the server is gone).
std::optional<http_response> try_call(const std::string& method, const std::string& url,
                                      const std::string& body = std::string(), const header_pairs& headers = header_pairs());
// For the main thread, where the server must answer.
http_response call(const std::string& method, const std::string& url, const std::string& body = std::string(),
                   const header_pairs& headers = header_pairs());
// The rel="next" target of a Link header, or "".
std::string next_link(const http_response& r);
std::size_t pick(std::mt19937_64& rng, std::size_t n);
entry regular_entry(const std::string& content);
std::string describe(const entry& e);

// Commits random changes to `s` until ctx.stop, or the server is gone, or a step fails.
void write_loop(run_ctx& ctx, stream& s);
// Creates small repos with one file, a few per run.
void create_loop(run_ctx& ctx, std::vector<created_repo>& out, std::mt19937_64 rng, int run);

}  // namespace hfhub::crash
