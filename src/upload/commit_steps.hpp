// The steps of create_commit that its files share: hashing the adds, asking the Hub about them,
// and reading heads.
#pragma once

#include <hfhub/commit.hpp>

#include "upload/pipeline.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hfhub::upload {

inline constexpr std::uint64_t regular_limit = 10ull << 20;  // the Hub refuses bigger non-LFS files

// An add, as the pipeline learns about it.
struct local_add {
    std::string path;
    const commit_add* src = nullptr;
    std::uint64_t size = 0;
    std::string sha256;
    std::string git_sha1;  // empty until needed: big files are LFS anyway
    std::string sample;    // the first ≤512 bytes
    std::optional<std::string> content;  // small files, kept from the hashing pass
    bool lfs = false;
    bool ignore = false;
    bool unchanged = false;

    const std::filesystem::path* file() const { return std::get_if<std::filesystem::path>(&src->source); }
    const std::string* bytes() const { return std::get_if<std::string>(&src->source); }
};

[[noreturn]] void file_error(const std::filesystem::path& p, int err, const char* what);

// Hashes every add (on the client's blocking pool, in parallel); preuploaded adds carry theirs.
boost::asio::awaitable<void> co_hash_all(client& c, std::vector<local_add>& adds, const commit_options& o,
                                         progress_reporter& prog);

// The bytes of a regular file, checked against the hash the Hub was told about.
std::string regular_content(const local_add& a);

// Asks the Hub how to send each add (LFS or regular, ignored, unchanged). Returns the head the
// answers are about, when the Hub says.
boost::asio::awaitable<std::string> co_preupload(client& c, const std::string& repo_id, const commit_options& o,
                                                 std::vector<local_add>& adds);

// The LFS objects the Hub must store, once per content.
std::vector<lfs_object> lfs_objects_of(const std::vector<local_add>& adds);

boost::asio::awaitable<std::string> co_head(client& c, const std::string& repo_id, const commit_options& o,
                                            const std::string& rev);

std::string commit_url(const client& c, repo_type t, const std::string& repo_id, const std::string& oid);

}  // namespace hfhub::upload
