// Shared pieces of the commit pipeline: JSON reading with typed errors, progress, LFS transfer.
#pragma once

#include <hfhub/commit.hpp>
#include <hfhub/receipts.hpp>

#include "upload/body_source.hpp"
#include "upload/commit_fsm.hpp"
#include "upload/payload.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/json/fwd.hpp>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace hfhub {

struct preuploaded_file {
    std::uint64_t size = 0;
    std::string sha256;
    std::string git_sha1;  // empty for files too big to be regular
    std::string sample;    // the first <=512 bytes
    bool lfs = false;      // the Hub asked for LFS and the object is stored
    bool sent = false;     // this preupload sent the object (it was not stored before)
    // Set for an add made from a receipt: its bytes are elsewhere (LFS) or in the add (regular).
    std::optional<upload_receipt> receipt;
};

}  // namespace hfhub

namespace hfhub::upload {

// A protocol_error naming what was wrong with the answer to `req`.
[[noreturn]] void protocol_fail(const http_request& req, const http_response& resp, const std::string& why);
boost::json::object parse_object(const http_request& req, const http_response& resp);

// Serialises progress calls from the hashing threads and the executor: the one reporter of
// uploads and mirrors.
class progress_reporter {
public:
    explicit progress_reporter(commit_progress_handler h) : h_(std::move(h)) {}
    // Starts a stage. Work the caller reserved is added to its totals.
    void begin(commit_progress::stage s, std::uint64_t files_total, std::uint64_t bytes_total,
               std::uint64_t files_skipped = 0, std::uint64_t bytes_skipped = 0);
    // Work the caller does itself within the next stage that begin() starts (a mirror's
    // regular files, fetched in the LFS upload's stage).
    void reserve(std::uint64_t files, std::uint64_t bytes);
    void step(const std::string& file, std::uint64_t bytes);  // a file done, with its last bytes
    void advance(std::uint64_t bytes);                         // bytes of a file still going
    void stage_only(commit_progress::stage s);

private:
    commit_progress_handler h_;
    std::mutex mu_;
    commit_progress p_;
    std::uint64_t reserved_files_ = 0, reserved_bytes_ = 0;
};

struct lfs_object {
    std::string oid;  // sha256
    std::uint64_t size = 0;
    std::string path_in_repo;  // for progress and messages
    const std::filesystem::path* file = nullptr;  // or
    const std::string* bytes = nullptr;           // or
    std::optional<body_source> source = std::nullopt;  // any other source (a mirror's remote)
};

// Where `obj`'s bytes come from, whichever way it names them.
body_source source_of(const lfs_object& obj);

struct lfs_part {
    unsigned number = 0;
    std::string href;
};

// One object to send, and what its transfer needs.
struct lfs_transfer {
    const lfs_object* obj = nullptr;
    std::string upload_href;
    std::optional<std::string> verify_href;
    // Headers the batch answer's actions name (git-lfs "header"): sent with that action's
    // requests, in place of any credential of the Hub's.
    header_fields upload_headers;  // basic transfers only
    header_fields verify_headers;
    std::uint64_t chunk = 0;  // multipart when non-zero
    std::vector<lfs_part> parts;
    std::vector<std::string> etags;
    std::atomic<std::size_t> remaining{0};
    std::atomic<std::uint64_t> streamed{0};  // bytes reported while they went out
    // The batch answered "transfer": "xet": upload_href is the write-token URL and
    // upload_headers may carry a first token (X-Xet-*). The object goes up through the CAS.
    bool xet = false;
};

// Reads the batch API's answer for objs[begin, end) (sans-io): appends a transfer for each object
// the server wants; throws protocol_error on a malformed answer, the server's error for a refused
// object. A "xet" transfer (only when `xet_offered`) marks the transfers it appends as Xet ones.
void parse_lfs_batch(const std::string& endpoint, const http_request& rq, const http_response& rs,
                     const std::vector<lfs_object>& objs, std::size_t begin, std::size_t end,
                     std::vector<std::unique_ptr<lfs_transfer>>& out, bool xet_offered = false);

struct lfs_totals {
    std::uint64_t objects = 0;  // sent, as opposed to already stored
    std::uint64_t bytes = 0;
    std::vector<std::string> sent_oids;
    // Through Xet: what went over the wire (xorbs and shards), and the xorbs the CAS already had.
    std::uint64_t xorbs_sent = 0, xorb_bytes_sent = 0, shards_sent = 0, chunks_deduped = 0;
};

// The LFS batch API, then basic or multipart transfers (parts in parallel, all transfers
// bounded by max_workers), completion and verify. Returns once every object is stored.
boost::asio::awaitable<lfs_totals> co_upload_lfs(client& c, const std::string& repo_id, const commit_options& o,
                                                 const std::vector<lfs_object>& objects, progress_reporter& progress);

// One NDJSON commit (or, with o.multi_commit, the parts of one), with the stale-parent rebase and
// lost-answer handling of create_commit: a thin driver of commit_fsm.
boost::asio::awaitable<commit_info> co_send_commit(client& c, const std::string& repo_id, const commit_options& o,
                                                   commit_request cr);

// After an LFS transfer: the multipart completion (part ETags in order, when `etags` is not
// empty), then the verify call (when there is one). No Hub token goes to the completion.
boost::asio::awaitable<void> co_finish_lfs(client& c, const std::string& upload_href,
                                           const std::optional<std::string>& verify_href, const std::string& oid,
                                           std::uint64_t size, const std::vector<std::string>& etags,
                                           const std::optional<std::string>& token,
                                           const header_fields& verify_headers);

extern const std::string lfs_json;  // the LFS API's media type

// Where a push lands: the repo, created unless it exists, and `branch`, created from main
// unless it is main, a refs/ path, or already there (or create_pr). Returns "namespace/name".
boost::asio::awaitable<std::string> co_ensure_target(client& c, const std::string& repo_id, repo_type type,
                                                     const std::string& branch, bool is_private, bool create_pr,
                                                     const std::optional<std::string>& token);

std::string api_repo_url(const client& c, repo_type t, const std::string& repo_id);  // E/api/{T}s/{repo}
std::string enc_rev(const std::string& rev);  // q(rev): no safe characters

}  // namespace hfhub::upload
