// The decisions of sending a commit, without I/O: the caller performs the action resume()
// returns and resumes with what it saw. Covers the stale-parent rebase, the lost answer ("did it
// land?", never committing twice) and the multi-commit split.
#pragma once

#include <hfhub/commit.hpp>
#include <hfhub/error.hpp>
#include <hfhub/hub_api.hpp>

#include "upload/payload.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace hfhub::upload {

// One NDJSON commit and what is needed to rebase it or to recognise it once landed.
struct commit_request {
    payload_header header;
    std::vector<payload_op> ops;
    std::string revision;
    bool create_pr = false;
    std::string head_before;  // the head the commit was prepared against; empty: unknown
    std::vector<std::string> touched;  // every path the commit reads or writes
    // path → what it holds once the commit landed: "f:<git blob id>" for a regular file, the
    // sha256 for an LFS one, "" for gone; checks whether a commit with a lost answer landed.
    std::vector<std::pair<std::string, std::string>> expected;
};

// What a revision holds at some paths: "f:<blob id>[:<sha256>]" for a file, "d:<tree id>" for a
// folder; a path that is absent has no entry.
using path_signature = std::map<std::string, std::string>;

// The commit may have landed: the connection broke, or the server failed after reading it.
bool lost_answer(const error& e);

// Whether a landed commit's signature holds what `expected` says (a prefix or suffix match: the
// blob id of an LFS file isn't known beforehand).
bool holds_expected(const path_signature& sig, const std::vector<std::pair<std::string, std::string>>& expected);

// The parts of a multi-commit: deletes first, then the rest in order, cut by count and by inline
// bytes; each part names its number in its summary, and only the first keeps the parent.
std::vector<commit_request> split_commit(commit_request cr, std::size_t max_files, std::uint64_t max_bytes);

struct commit_limits {
    bool rebase_on_conflict = false;
    unsigned max_rebases = 5;
    bool multi_commit = false;
    std::size_t max_files = 1000;
    std::uint64_t max_regular_bytes = 100ull << 20;
};
commit_limits limits_of(const commit_options& o);

// What the caller must do next.
struct commit_action {
    enum class kind {
        send,            // POST `request`
        read_head,       // the head of `revision`
        read_signature,  // path_signature of `revision` at `paths`
        list_commits,    // the history of `revision`, newest first
        done,            // return `info` (its url may still be empty)
        fail,            // throw `failure`
    };
    kind what = kind::fail;
    const commit_request* request = nullptr;
    std::string revision;
    std::vector<std::string> paths;
    commit_info info;
    std::optional<error> failure;
};

// What the caller saw.
namespace commit_event {
struct start {};
struct sent {
    commit_info info;
};
struct send_failed {
    error e;
};
struct head {
    std::string oid;
};
struct signature {
    path_signature sig;
};
struct log {
    std::vector<commit_summary> commits;
};
}  // namespace commit_event
using commit_input = std::variant<commit_event::start, commit_event::sent, commit_event::send_failed,
                                  commit_event::head, commit_event::signature, commit_event::log>;

class commit_fsm {
public:
    // Splits `cr` when limits.multi_commit and it exceeds a limit.
    commit_fsm(commit_request cr, commit_limits limits);

    // Throws std::logic_error on an event the current state doesn't expect.
    commit_action resume(commit_input ev);

    std::size_t parts() const { return parts_.size(); }

private:
    enum class state { idle, sending, rebase_head, rebase_before, rebase_after, landed_head, landed_log, landed_sig,
                       lost_head, finished };

    commit_request& part() { return parts_[k_]; }
    commit_action on_send_failed(error e);
    commit_action on_head(std::string now);
    commit_action on_signature(path_signature sig);
    commit_action on_log(std::vector<commit_summary> commits);
    commit_action part_done(commit_info info);
    commit_action send();
    commit_action find_landed(bool retry_after);
    commit_action next_candidate();
    commit_action not_landed();
    commit_action not_rebased(const path_signature& after);
    commit_action read_head();
    commit_action read_signature(std::string rev, std::vector<std::string> paths);
    commit_action fail(error e);

    commit_limits limits_;
    std::vector<commit_request> parts_;
    bool split_ = false;
    std::size_t k_ = 0;
    commit_info info_;  // what the parts sent so far add up to
    state st_ = state::idle;
    // Per part:
    unsigned rebases_ = 0;
    bool retried_lost_ = false;
    std::optional<error> failure_;  // the send's failure being handled
    std::string now_;               // the head a rebase goes onto
    path_signature before_;         // the parent's signature, during a rebase
    bool retry_after_ = false;      // not landed: try once more (or fail)
    std::vector<commit_summary> log_;
    std::size_t log_pos_ = 0;
};

}  // namespace hfhub::upload
