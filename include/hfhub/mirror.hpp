// Repo mirroring between two Hubs: files stream from the source's downloads straight into the
// destination's uploads through bounded buffers (nothing touches the local disk), and land as
// one commit. Files the destination already holds are skipped, LFS objects it already stores
// are not sent again, so a rerun after a failure moves only what is missing.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/commit.hpp>
#include <hfhub/progress.hpp>
#include <hfhub/repo.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace hfhub {

struct mirror_options {
    repo_type type = repo_type::model;   // on both sides
    std::string revision = "main";       // the source branch, tag or commit; the destination branch
                                         // of the same name is created from main when missing
    // Python's fnmatch semantics over repo paths, as for downloads.
    std::vector<std::string> allow_patterns;
    std::vector<std::string> ignore_patterns;
    std::string commit_message;      // default "Mirror <src_repo>@<source commit>"
    std::string commit_description;
    bool is_private = false;         // when the destination repo has to be created
    unsigned max_workers = 8;        // transfers (or parts) at once
    // Bytes fetched from the source per Range request; memory stays near max_workers x part_size.
    std::uint64_t part_size = 8ull << 20;
    std::size_t batch_size = default_batch_size;  // objects per LFS batch call, as for uploads
    mirror_progress_handler progress;  // "uploading" counts bytes fetched and sent; serialised
};

struct mirror_info {
    commit_info commit;             // changed=false and no commit when nothing differed
    std::string src_commit;         // the source revision, resolved
    std::uint64_t files_selected = 0;   // source files that passed the patterns
    std::uint64_t files_unchanged = 0;  // already identical on the destination
    std::uint64_t lfs_objects_stored = 0;  // LFS objects the destination already had
    std::uint64_t lfs_objects_sent = 0;
    std::uint64_t lfs_bytes_sent = 0;
    std::uint64_t regular_files_sent = 0;
};

// `src` and `dst` carry each side's endpoint and token. Errors: those of repo_info,
// list_repo_tree and create_repo on either side, checksum_mismatch when the source's bytes don't
// match its own hashes, protocol_error for short ranges, and the commit's errors. Nothing is
// committed unless every object was stored.
boost::asio::awaitable<mirror_info> co_mirror(client& src, client& dst, std::string src_repo, std::string dst_repo,
                                              mirror_options opts = mirror_options());
// `{}` as the options: the defaults (hfhub::use_defaults).
inline boost::asio::awaitable<mirror_info> co_mirror(client& src, client& dst, std::string src_repo,
                                                     std::string dst_repo, use_defaults) {
    return co_mirror(src, dst, std::move(src_repo), std::move(dst_repo));
}
// Blocking twin: runs on dst's own blocking thread (would_deadlock on a thread that runs either client's executor).
mirror_info mirror(client& src, client& dst, std::string src_repo, std::string dst_repo, mirror_options opts = mirror_options());

}  // namespace hfhub
