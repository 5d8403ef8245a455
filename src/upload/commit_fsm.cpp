#include "upload/commit_fsm.hpp"

#include "util/hash.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

namespace hfhub::upload {

bool lost_answer(const error& e) {
    if (e.code().category() == client_category())
        return e.code() == client_errc::connection_failed || e.code() == client_errc::timeout ||
               e.code() == client_errc::protocol_error || e.code() == client_errc::retries_exhausted;
    return e.diag().status >= 500;
}

bool holds_expected(const path_signature& sig, const std::vector<std::pair<std::string, std::string>>& expected) {
    for (auto& [p, s] : expected) {
        auto it = sig.find(p);
        std::string got = it == sig.end() ? "" : it->second;
        if (s.empty() ? !got.empty() : !(got.starts_with(s) || got.ends_with(s))) return false;
    }
    return true;
}

namespace {

bool is_delete(const payload_op& p) {
    return p.what == payload_op::kind::deleted_file || p.what == payload_op::kind::deleted_folder;
}

// [begin, end) of each part.
std::vector<std::pair<std::size_t, std::size_t>> cut(const std::vector<payload_op>& ops, std::size_t max_files,
                                                     std::uint64_t max_bytes) {
    std::vector<std::pair<std::size_t, std::size_t>> parts;
    std::size_t start = 0;
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < ops.size(); ++i) {
        std::uint64_t b = ops[i].content.size();
        if (i > start && (i - start >= max_files || bytes + b > max_bytes)) {
            parts.emplace_back(start, i);
            start = i;
            bytes = 0;
        }
        bytes += b;
    }
    parts.emplace_back(start, ops.size());
    return parts;
}

}  // namespace

std::vector<commit_request> split_commit(commit_request cr, std::size_t max_files, std::uint64_t max_bytes) {
    std::stable_partition(cr.ops.begin(), cr.ops.end(), is_delete);
    auto ranges = cut(cr.ops, max_files, max_bytes);
    std::vector<commit_request> parts;
    for (std::size_t k = 0; k < ranges.size(); ++k) {
        commit_request part;
        part.header = cr.header;
        part.header.summary += " (part " + std::to_string(k + 1) + " of " + std::to_string(ranges.size()) + ")";
        if (k > 0) part.header.parent_commit.reset();
        part.revision = cr.revision;
        part.create_pr = cr.create_pr;
        part.ops.assign(std::make_move_iterator(cr.ops.begin() + static_cast<std::ptrdiff_t>(ranges[k].first)),
                        std::make_move_iterator(cr.ops.begin() + static_cast<std::ptrdiff_t>(ranges[k].second)));
        for (auto& op : part.ops) {
            part.touched.push_back(op.path);
            std::string sig;
            if (op.what == payload_op::kind::lfs_file) sig = op.oid;
            else if (op.what == payload_op::kind::file) sig = "f:" + util::git_blob_sha1(op.content);
            part.expected.emplace_back(op.path, sig);
        }
        // Later parts are prepared against the part before them, known once it lands.
        if (k == 0) part.head_before = cr.head_before;
        parts.push_back(std::move(part));
    }
    return parts;
}

commit_limits limits_of(const commit_options& o) {
    commit_limits l;
    l.rebase_on_conflict = o.rebase_on_conflict;
    l.multi_commit = o.multi_commit;
    l.max_files = o.max_files_per_commit;
    l.max_regular_bytes = o.max_regular_bytes_per_commit;
    return l;
}

commit_fsm::commit_fsm(commit_request cr, commit_limits limits) : limits_(limits) {
    std::uint64_t regular_bytes = 0;
    for (auto& op : cr.ops) regular_bytes += op.content.size();
    bool fits = cr.ops.size() <= limits.max_files && regular_bytes <= limits.max_regular_bytes;
    split_ = limits.multi_commit && !fits;
    if (split_) parts_ = split_commit(std::move(cr), limits.max_files, limits.max_regular_bytes);
    else parts_.push_back(std::move(cr));
}

commit_action commit_fsm::resume(commit_input ev) {
    using namespace commit_event;
    if (st_ == state::idle && std::holds_alternative<start>(ev)) return send();
    if (st_ == state::sending) {
        if (auto* s = std::get_if<sent>(&ev)) return part_done(std::move(s->info));
        if (auto* f = std::get_if<send_failed>(&ev)) return on_send_failed(std::move(f->e));
    }
    if (auto* h = std::get_if<head>(&ev); h && (st_ == state::rebase_head || st_ == state::landed_head ||
                                                  st_ == state::lost_head))
        return on_head(std::move(h->oid));
    if (auto* s = std::get_if<signature>(&ev);
        s && (st_ == state::rebase_before || st_ == state::rebase_after || st_ == state::landed_sig))
        return on_signature(std::move(s->sig));
    if (auto* l = std::get_if<log>(&ev); l && st_ == state::landed_log) return on_log(std::move(l->commits));
    throw std::logic_error("commit_fsm: an event its state does not expect");
}

commit_action commit_fsm::send() {
    st_ = state::sending;
    commit_action a;
    a.what = commit_action::kind::send;
    a.request = &part();
    return a;
}

commit_action commit_fsm::read_head() {
    commit_action a;
    a.what = commit_action::kind::read_head;
    a.revision = part().revision;
    return a;
}

commit_action commit_fsm::read_signature(std::string rev, std::vector<std::string> paths) {
    commit_action a;
    a.what = commit_action::kind::read_signature;
    a.revision = std::move(rev);
    a.paths = std::move(paths);
    return a;
}

commit_action commit_fsm::fail(error e) {
    st_ = state::finished;
    commit_action a;
    a.what = commit_action::kind::fail;
    a.failure.emplace(std::move(e));
    return a;
}

commit_action commit_fsm::on_send_failed(error e) {
    const commit_request& cr = part();
    const bool stale = e.code() == hub_errc::precondition_failed;
    failure_.emplace(std::move(e));
    if (stale && limits_.rebase_on_conflict && cr.header.parent_commit && rebases_ < limits_.max_rebases) {
        st_ = state::rebase_head;
        return read_head();
    }
    // After a retry, a stale parent may mean that the first attempt landed after all.
    if (stale && retried_lost_) return find_landed(false);
    if (!lost_answer(*failure_) || cr.create_pr || cr.head_before.empty() || retried_lost_) return fail(*failure_);
    return find_landed(true);
}

commit_action commit_fsm::on_head(std::string now) {
    commit_request& cr = part();
    if (st_ == state::rebase_head) {
        // Rebase only when nothing this commit touches changed since its parent.
        if (now == *cr.header.parent_commit) return fail(*failure_);
        now_ = std::move(now);
        st_ = state::rebase_before;
        return read_signature(*cr.header.parent_commit, cr.touched);
    }
    if (st_ == state::landed_head) {
        if (now == cr.head_before) return not_landed();
        st_ = state::landed_log;
        commit_action a;
        a.what = commit_action::kind::list_commits;
        a.revision = cr.revision;
        return a;
    }
    // Not landed (yet): once more, pinned to the head just seen, so that a late landing of the
    // first attempt makes this one fail instead of doubling it.
    if (cr.header.parent_commit && *cr.header.parent_commit != now) return fail(*failure_);
    cr.header.parent_commit = now;
    cr.head_before = std::move(now);
    retried_lost_ = true;
    return send();
}

commit_action commit_fsm::on_signature(path_signature sig) {
    commit_request& cr = part();
    if (st_ == state::rebase_before) {
        before_ = std::move(sig);
        st_ = state::rebase_after;
        return read_signature(now_, cr.touched);
    }
    if (st_ == state::rebase_after) {
        if (before_ != sig) return not_rebased(sig);
        cr.header.parent_commit = now_;
        cr.head_before = now_;
        ++rebases_;
        return send();
    }
    if (holds_expected(sig, cr.expected)) {
        commit_info found;
        found.oid = log_[log_pos_].id;
        return part_done(std::move(found));
    }
    ++log_pos_;
    return next_candidate();
}

commit_action commit_fsm::not_rebased(const path_signature& after) {
    const path_signature& before = before_;
    std::string which;
    for (auto& p : part().touched) {
        auto a = before.find(p), b = after.find(p);
        bool differ = (a == before.end()) != (b == after.end()) || (a != before.end() && a->second != b->second);
        if (differ && which.find(p) == std::string::npos) which += (which.empty() ? "" : ", ") + p;
    }
    diagnostics d = failure_->diag();
    d.client_message += (d.client_message.empty() ? "" : "; ") +
                        std::string("not rebased: changed since the parent commit: ") + which;
    return fail(error(hub_errc::precondition_failed, std::move(d)));
}

// Did a commit with our summary, and our content at our paths, land on top of the head we
// prepared against?
commit_action commit_fsm::find_landed(bool retry_after) {
    retry_after_ = retry_after;
    st_ = state::landed_head;
    return read_head();
}

commit_action commit_fsm::on_log(std::vector<commit_summary> commits) {
    log_ = std::move(commits);
    log_pos_ = 0;
    return next_candidate();
}

commit_action commit_fsm::next_candidate() {
    const commit_request& cr = part();
    for (; log_pos_ < log_.size(); ++log_pos_) {
        const commit_summary& cm = log_[log_pos_];
        if (cm.id == cr.head_before) break;
        if (cm.title != cr.header.summary) continue;
        std::vector<std::string> paths;
        for (auto& [p, s] : cr.expected) paths.push_back(p);
        st_ = state::landed_sig;
        return read_signature(cm.id, std::move(paths));
    }
    return not_landed();
}

commit_action commit_fsm::not_landed() {
    if (!retry_after_) return fail(*failure_);
    st_ = state::lost_head;
    return read_head();
}

commit_action commit_fsm::part_done(commit_info info) {
    if (!split_) {
        st_ = state::finished;
        commit_action a;
        a.what = commit_action::kind::done;
        a.info = std::move(info);
        return a;
    }
    if (k_ == 0) {
        info_ = std::move(info);
        if (part().create_pr && info_.pr_num)  // later parts go to the pull request the first opened
            for (std::size_t k = 1; k < parts_.size(); ++k) {
                parts_[k].revision = "refs/pr/" + std::to_string(*info_.pr_num);
                parts_[k].create_pr = false;
            }
    } else {
        info_.oid = std::move(info.oid);
        info_.url = std::move(info.url);
    }
    if (++k_ < parts_.size()) {
        part().head_before = info_.oid;
        rebases_ = 0;
        retried_lost_ = false;
        failure_.reset();
        return send();
    }
    st_ = state::finished;
    info_.commits = static_cast<unsigned>(parts_.size());
    commit_action a;
    a.what = commit_action::kind::done;
    a.info = info_;
    return a;
}

}  // namespace hfhub::upload
