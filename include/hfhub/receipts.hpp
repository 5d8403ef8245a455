// Upload receipts: each rank (host, process) of a job stores its own files' LFS objects and
// gets a small serialisable receipt per file; one coordinator then commits every rank's files
// in one atomic commit, without the files being on its host.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/commit.hpp>
#include <hfhub/repo.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfhub {

// What a commit needs to add one file whose bytes another process stored on the Hub.
struct upload_receipt {
    static constexpr int version = 1;  // of the JSON form

    std::string repo_id;  // as given to co_preupload
    repo_type type = repo_type::model;
    std::string revision = "main";  // the commit must name the same (with create_pr: its base branch)
    std::string path_in_repo;
    std::uint64_t size = 0;
    std::string sha256;    // hex
    bool is_lfs = false;   // the object is stored on the Hub; else `content` carries the bytes
    std::string git_sha1;  // git's blob id, when the file is small enough to be regular
    std::optional<std::string> content;  // a regular file's bytes (regular files are small)
    std::chrono::system_clock::time_point created{};  // when the object was stored (UTC)

    // One line of JSON (no newline): {"version":1,"repo_id":...,"created_at":"...Z"}; a regular
    // file's bytes are base64 in "content_base64".
    std::string to_json() const;
    // Errors: client_errc::invalid_argument naming the field that is missing or malformed.
    static upload_receipt from_json(std::string_view json);
};

// Receipts as JSON lines: one receipt per line, so that ranks' outputs concatenate (cat, a
// shared folder, stdout). Blank lines are skipped on reading.
std::string receipts_to_jsonl(const std::vector<upload_receipt>& receipts);
// Errors: client_errc::invalid_argument naming the line and the field.
std::vector<upload_receipt> receipts_from_jsonl(std::string_view text);
// Writes the file whole or not at all (a temporary file renamed into place): a reader polling a
// shared folder never sees half of it. Errors: client_errc::io_error.
void write_receipts(const std::filesystem::path& file, const std::vector<upload_receipt>& receipts);
// Errors: client_errc::io_error, client_errc::invalid_argument (naming the file and line).
std::vector<upload_receipt> read_receipts(const std::filesystem::path& file);

// Stores the adds' LFS objects on the Hub (only the bytes it lacks) and returns one receipt per
// add, in order, without committing anything. `opts` must name the repo type and the revision
// (and create_pr) the commit will use. Errors: those of co_preupload_lfs_files.
boost::asio::awaitable<std::vector<upload_receipt>> co_preupload(client& c, std::string repo_id,
                                                                 std::vector<commit_add> additions,
                                                                 commit_options opts);
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<std::vector<upload_receipt>> co_preupload(client& c, std::string repo_id,
                                                                        std::vector<commit_add> additions,
                                                                        use_defaults) {
    return co_preupload(c, std::move(repo_id), std::move(additions), commit_options());
}
std::vector<upload_receipt> preupload(client& c, std::string repo_id, std::vector<commit_add> additions,
                                      commit_options opts);

}  // namespace hfhub
