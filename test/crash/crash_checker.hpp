// The crash test's checks, from the main thread after each restart: every acknowledged write
// is there and whole, and the disk holds no torn commit or leftover temp file.
#pragma once

#include "crash_writers.hpp"

#include <filesystem>

namespace hfhub::crash {

struct checker {
    std::string base;
    std::size_t files_checked = 0;
    std::uint64_t bytes_checked = 0;

    std::map<std::string, std::string> branches(const std::string& repo);

    // The recursive listing, every page.
    tree list(const std::string& repo, const std::string& rev);

    // The bytes behind every file hash to its id and have its size.
    void check_bytes(const std::string& repo, const std::string& rev, const std::string& commit, const tree& files);

    // First-parent history of `rev`, newest first, every page.
    std::vector<std::string> history(const std::string& repo, const std::string& rev);

    void check_stream(stream& s, const std::map<std::string, std::string>& refs);

    void check_created(const created_repo& c);
};

// Every commit file on disk is named by the SHA-1 of its content; no temp file is left over.
void check_disk(const std::filesystem::path& root, std::size_t& commit_files);
bool tmp_is_empty(const std::filesystem::path& root);
std::string log_tail(const std::filesystem::path& log);

}  // namespace hfhub::crash
