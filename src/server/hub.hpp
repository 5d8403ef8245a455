// The Hub's HTTP API over the store: request in, response out, no sockets. The listener calls
// `handle` for every request on both the API and the storage origin.
#pragma once

#include "server/auth.hpp"
#include "server/faults.hpp"
#include "server/message.hpp"
#include "server/multipart_assembly.hpp"
#include "server/object_store.hpp"
#include "server/repo_store.hpp"
#include "server/xet_store.hpp"

#include <boost/json/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace hfhub::server {

struct hub_config {
    std::string base_url;     // API origin, no trailing slash
    std::string storage_url;  // storage origin, no trailing slash
    std::uint64_t multipart_threshold = 20ull << 20;
    std::uint64_t multipart_chunk = 8ull << 20;
    std::chrono::seconds url_ttl{3600};
    // Seconds since the epoch that downloads are dated by; empty: the system clock. Tests set it
    // to move through the 30-day window.
    std::function<std::int64_t()> clock;
    bool xet_by_default = false;            // new repos are Xet-enabled
    std::chrono::seconds xet_token_ttl{3600};  // Xet access tokens' lifetime
    std::chrono::milliseconds keep_unreferenced{0};
};

// Xorbs and shards are at most 64 MiB (xorb.md, shard.md): a bigger storage POST is refused unread.
inline constexpr std::uint64_t xet_max_body_bytes = 64ull << 20;

class hub {
public:
    hub(fs::path root, authenticator auth, hub_config cfg);

    response handle(request& req);

    hub_config& config() { return cfg_; }
    fault_injector& faults() { return faults_; }
    // Removes uploaded LFS objects no commit references, granted before `granted_before`.
    // Also removes Xet data nothing reaches that is older than that: xorbs no file names, files
    // no oid names.
    std::size_t sweep_unreferenced_lfs(std::int64_t granted_before) {
        return store_.sweep_unreferenced_lfs(granted_before) + xet_.sweep(granted_before);
    }
    const authenticator& auth() const { return auth_; }
    fs::path temp_dir() const { return root_ / "tmp"; }

    // For a signed multipart part PUT, before its body is read: the claim to write the body in
    // place, at the part's offset in the object's file. Null: the body goes to a temp file.
    std::unique_ptr<multipart_assembly::claim> claim_part(const request& req);

    // Signs "path?query" (without sig) for the storage origin; returns the full URL.
    std::string sign_storage_url(const std::string& path_and_query) const;

private:
    struct ctx {
        request& req;
        identity who;
        std::vector<std::string> segs;  // raw path segments
    };
    struct repo_ref {
        repo_type type;
        std::string id;
    };

    response dispatch(ctx& c);
    response dispatch_api(ctx& c, repo_type t, const std::string& id, std::size_t sub);
    response dispatch_storage(ctx& c);
    response admin(ctx& c);

    std::shared_ptr<repo> readable(ctx& c, repo_type t, const std::string& id);
    std::shared_ptr<repo> writable(ctx& c, repo_type t, const std::string& id);
    // Readable, and past the gate of a gated repo: 401/403 GatedRepo otherwise.
    std::shared_ptr<repo> downloadable(ctx& c, repo_type t, const std::string& id);
    bool past_gate(const ctx& c, const repo& r) const;
    // Writable, or, for a pull request, readable by any signed-in user (as on the Hub).
    std::shared_ptr<repo> contributable(ctx& c, repo_type t, const std::string& id, bool for_pr);
    // Whether `rev` is refs/pr/N of a PR the caller opened: its author may push to it.
    bool own_pr(ctx& c, repo_type t, const std::string& id, const std::string& rev);
    // A moved repo's old id: throws a 307 to the same URL under the new id, if the caller may see it.
    void redirect_if_moved(ctx& c, repo_type t, const std::string& id);
    resolved_rev must_resolve(repo& r, const std::string& rev);
    std::shared_ptr<const commit> must_load(repo& r, const std::string& id);
    std::string repo_url(repo_type t, const std::string& id) const;

    // files
    // Counts a served resolve of `path` as the Hub does: for models, a request (GET or HEAD) for
    // a default query file at the root; for datasets, any file, once per client per 5 minutes.
    void count_download(const ctx& c, repo& r, const std::string& path);
    std::int64_t now() const { return cfg_.clock ? cfg_.clock() : now_seconds(); }
    response resolve_file(ctx& c, repo_type t, const std::string& id, const std::string& rev,
                          const std::string& path, bool raw);
    response tree(ctx& c, repo_type t, const std::string& id, const std::string& rev, const std::string& path);
    response paths_info(ctx& c, repo_type t, const std::string& id, const std::string& rev);
    boost::json::object file_json(repo& r, const std::shared_ptr<const commit>& cm, const std::string& path,
                                  const file_entry& e, bool expand);
    boost::json::object folder_json(const commit& cm, const std::string& path);
    response storage_get(ctx& c, const std::string& sha256);

    // metadata and management
    response repo_info(ctx& c, repo_type t, const std::string& id, std::optional<std::string> rev);
    response refs(ctx& c, repo_type t, const std::string& id);
    response commits(ctx& c, repo_type t, const std::string& id, const std::string& rev);
    response whoami(ctx& c);
    response create_repo(ctx& c);
    response delete_repo(ctx& c);
    response settings(ctx& c, repo_type t, const std::string& id);
    response branch(ctx& c, repo_type t, const std::string& id, const std::string& name);
    response tag(ctx& c, repo_type t, const std::string& id, const std::string& name);
    response discussions(ctx& c, repo_type t, const std::string& id, std::optional<int> num);
    response discussion_list(ctx& c, repo& r,
                             const std::function<boost::json::object(const discussion&, bool)>& describe);
    response discussion_action(ctx& c, repo_type t, const std::string& id, int num, const std::string& action);
    response auth_check(ctx& c, repo_type t, const std::string& id, bool write);
    response access_grant(ctx& c, repo_type t, const std::string& id);
    response move_repo(ctx& c);
    response super_squash(ctx& c, repo_type t, const std::string& id, const std::string& branch);
    response lfs_files(ctx& c, repo_type t, const std::string& id);
    response lfs_files_batch(ctx& c, repo_type t, const std::string& id);

    // uploads
    response validate_yaml(ctx& c);
    response preupload(ctx& c, repo_type t, const std::string& id, const std::string& rev);
    response lfs_batch(ctx& c, repo_type t, const std::string& id);
    response lfs_verify(ctx& c, repo_type t, const std::string& id);
    response commit_ndjson(ctx& c, repo_type t, const std::string& id, const std::string& rev);
    response storage_put(ctx& c, const std::string& sha256);
    response storage_part(ctx& c, const std::string& sha256, const std::string& upload, const std::string& part);
    response storage_complete(ctx& c, const std::string& sha256, const std::string& upload);
    struct part_ref {
        fs::path dir;  // the upload's temp folder
        std::uint64_t parts = 0, n = 0, offset = 0, length = 0;
    };
    // The part a multipart URL names, from its signed size and chunk; a 400 http_error if invalid.
    part_ref part_of(const request& req, const std::string& sha256, const std::string& upload,
                     const std::string& part) const;

    bool verify_signature(const request& req) const;

    // Xet (routes_xet.cpp)
    struct xet_claims {
        bool write = false;
        repo_type type = repo_type::model;
        std::string repo;
        std::string rev;
        std::int64_t exp = 0;
    };
    std::string issue_xet_token(bool write, repo_type t, const std::string& id, const std::string& rev,
                                std::int64_t& exp) const;
    // The Bearer Xet token's claims; 401 when absent, forged or expired, 403 when read-only
    // and `write` is needed.
    xet_claims xet_auth(const ctx& c, bool write);
    std::shared_ptr<repo> xet_repo(const xet_claims& cl);
    xet_file xet_readable_file(const xet_claims& cl, const std::string& file_hex);
    response xet_token(ctx& c, repo_type t, const std::string& id, const std::string& rev, bool write);
    response xet_batch(ctx& c, repo_type t, const std::string& id, repo& target, const std::string& ref, bool for_pr,
                       const boost::json::array& objects);
    response dispatch_cas(ctx& c);
    response xorb_upload(ctx& c, const std::string& hex);
    response xorb_head(ctx& c, const std::string& hex);
    response shard_upload(ctx& c);
    response dedup_query(ctx& c, const std::string& chunk_hex);
    response reconstruction(ctx& c, const std::string& file_hex, bool v2);
    response batch_reconstruction(ctx& c);
    response file_chunk_hashes(ctx& c, const std::string& file_hex);
    response file_head(ctx& c, const std::string& file_hex);
    response xorb_range_get(ctx& c, const std::string& hex);
    std::string sign_xorb_ranges(const std::string& xorb,
                                 const std::vector<std::pair<std::uint64_t, std::uint64_t>>& bytes) const;
    // The Xet file an LFS oid stands for, if a shard registered it.
    std::optional<xet_file> xet_backing(const std::string& sha256) const;
    // What the Hub adds to a resolve of a Xet-stored file: X-Xet-Hash and the Link rels.
    void add_xet_headers(header_list& h, repo_type t, const std::string& id, const std::string& commit,
                         const std::string& file_hex) const;
    // The file's bytes rebuilt from its xorbs, with Range support.
    response xet_object_answer(const request& req, const xet_file& f, header_list headers);

    fs::path root_;
    authenticator auth_;
    hub_config cfg_;
    std::string secret_;
    xet_store xet_;
    xet_lfs_storage lfs_;
    blob_store blobs_;
    repo_store store_;
    fault_injector faults_;
    multipart_assembly assembly_;
    // Datasets: when each (repo, client) last had a download counted.
    std::mutex dataset_dl_mu_;
    std::map<std::pair<std::string, std::string>, std::int64_t> dataset_dl_;
};

// Reads an NDJSON commit payload into `req` (summary, description, parent, ops); a 400
// http_error naming the line when it is malformed. Paths are checked when the commit is applied.
void parse_commit_payload(std::string_view body, commit_request& req);

// A path from a URL, normalized; throws a 400 http_error naming it when it is unsafe.
std::string checked_path(std::string_view raw);

// The UTC day (days since the epoch) a download at `unix_seconds` is counted on.
std::int64_t download_day(std::int64_t unix_seconds);

// Shared by the routes: ISO 8601 with milliseconds, as the Hub writes dates.
std::string iso_time(std::int64_t unix_seconds);

// A single "bytes=" range against `size`: nullopt for none/ignored; {false,..} if unsatisfiable.
struct byte_range {
    bool satisfiable = true;
    std::uint64_t first = 0;
    std::uint64_t last = 0;  // inclusive
};
std::optional<byte_range> parse_range(std::string_view header, std::uint64_t size);

// A file answer with Range support.
response file_answer(const request& req, const fs::path& file, std::uint64_t size, header_list headers);

}  // namespace hfhub::server
