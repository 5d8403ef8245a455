// create_commit: hash → preupload → LFS → one NDJSON commit (sent by co_send_commit, which
// rebases a stale parent and resolves a lost answer).
#include <hfhub/commit.hpp>
#include <hfhub/hub_api.hpp>

#include "blocking_call.hpp"
#include "upload/commit_steps.hpp"
#include "upload/payload.hpp"
#include "upload/pipeline.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"
#include "boundary.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace hfhub {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace upload;

namespace {

[[noreturn]] void invalid(const std::string& why) {
    diagnostics d;
    d.client_message = why;
    throw error(client_errc::invalid_argument, std::move(d));
}

struct local_copy {
    std::string src;
    std::string dst;
    std::string src_revision;
    std::optional<payload_op> op;  // filled once the source is known
};

}  // namespace

asio::awaitable<std::string> upload::co_preupload(client& c, const std::string& repo_id, const commit_options& o,
                                                  std::vector<local_add>& adds) {
    std::string head;  // commitOid: the head the answers are about
    std::string url = api_repo_url(c, o.type, repo_id) + "/preupload/" + enc_rev(o.revision);
    if (o.create_pr) url += "?create_pr=1";
    // A receipt's add was asked about by the process that stored it: its mode is known.
    std::vector<std::size_t> ask;
    for (std::size_t i = 0; i < adds.size(); ++i) {
        auto& pre = adds[i].src->preuploaded;
        if (pre && pre->receipt) adds[i].lfs = pre->lfs;
        else ask.push_back(i);
    }
    for (auto [bk, ek] : batches(ask.size(), o.batch_size)) {
        json::array files;
        for (std::size_t k = bk; k < ek; ++k)
            files.push_back(json::object{{"path", adds[ask[k]].path},
                                         {"sample", util::base64_encode(adds[ask[k]].sample)},
                                         {"size", adds[ask[k]].size}});
        http_request r;
        r.method = "POST";
        r.url = url;
        r.headers = {{"Content-Type", "application/json"}};
        r.body = json::serialize(json::object{{"files", std::move(files)}});
        r.token = o.token;
        r.idempotent = true;  // it only asks
        http_response resp = co_await c.co_request(r);
        json::object body = parse_object(r, resp);
        if (auto* h = body.if_contains("commitOid"); h && h->is_string()) head = std::string(h->as_string());
        auto* arr = body.if_contains("files");
        if (!arr || !arr->is_array()) protocol_fail(r, resp, "'files' is not an array");
        std::map<std::string, const json::object*> by_path;
        for (auto& v : arr->as_array()) {
            auto* fo = v.if_object();
            auto* p = fo ? fo->if_contains("path") : nullptr;
            if (!p || !p->is_string()) protocol_fail(r, resp, "a 'files' entry has no path");
            by_path[std::string(p->as_string())] = fo;
        }
        for (std::size_t k = bk; k < ek; ++k) {
            auto& a = adds[ask[k]];
            auto it = by_path.find(a.path);
            if (it == by_path.end()) protocol_fail(r, resp, "no upload mode for '" + a.path + "'");
            auto* mode = it->second->if_contains("uploadMode");
            if (!mode || !mode->is_string() || (mode->as_string() != "lfs" && mode->as_string() != "regular"))
                protocol_fail(r, resp, "bad uploadMode for '" + a.path + "'");
            a.lfs = mode->as_string() == "lfs" && a.size > 0;  // empty files are always regular
            if (auto* ig = it->second->if_contains("shouldIgnore"); ig && ig->is_bool()) a.ignore = ig->as_bool();
            if (!a.lfs && a.git_sha1.empty()) {  // a big file the Hub wants regular: rare
                auto data = a.bytes() ? std::optional<std::string>(*a.bytes()) : util::read_file(*a.file());
                if (!data) file_error(*a.file(), errno ? errno : EIO, "cannot read a file to upload");
                a.git_sha1 = util::git_blob_sha1(*data);
            }
            if (auto* oid = it->second->if_contains("oid"); oid && oid->is_string())
                a.unchanged = oid->as_string() == (a.lfs ? a.sha256 : a.git_sha1);
        }
    }
    co_return head;
}

std::vector<lfs_object> upload::lfs_objects_of(const std::vector<local_add>& adds) {
    std::vector<lfs_object> objects;
    std::set<std::string> seen;
    for (auto& a : adds)
        if (a.src->preuploaded && a.src->preuploaded->receipt) continue;  // stored by whoever made it
        else if (a.lfs && !a.ignore && !a.unchanged && seen.insert(a.sha256).second)
            objects.push_back({a.sha256, a.size, a.path, a.file(), a.bytes()});
    return objects;
}

namespace {

void validate(const std::string& repo_id, commit_options& o) {
    validate_repo_id(repo_id);
    if (o.commit_message.empty()) invalid("a commit needs a message");
    if (o.parent_commit) {
        auto& p = *o.parent_commit;
        if (p.size() < 5 || p.size() > 40 || !std::all_of(p.begin(), p.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); }))
            invalid("parent_commit must be 5 to 40 hex digits, not '" + p.substr(0, 60) + "'");
    }
    if (o.create_pr && o.revision.starts_with("refs/pr/")) invalid("create_pr opens a new pull request; its revision must be a branch");
    if (o.revision.empty()) o.revision = "main";
}

// The operations by kind, each remembering its place in the caller's order.
struct sorted_ops {
    std::vector<local_add> adds;
    std::vector<local_copy> copies;
    std::vector<std::size_t> add_of, copy_of;  // SIZE_MAX: not that kind
    std::vector<payload_op> deletes;           // by operation; an empty path: nothing to delete
};

// Paths first: a bad one fails the call before any work.
sorted_ops sort_operations(const std::vector<commit_operation>& operations, const commit_options& o) {
    sorted_ops s;
    s.add_of.assign(operations.size(), SIZE_MAX);
    s.copy_of.assign(operations.size(), SIZE_MAX);
    s.deletes.resize(operations.size());
    for (std::size_t i = 0; i < operations.size(); ++i) {
        auto& op = operations[i];
        if (auto* a = std::get_if<commit_add>(&op)) {
            s.add_of[i] = s.adds.size();
            local_add la;
            la.path = path_in_repo(a->path_in_repo);
            la.src = a;
            s.adds.push_back(std::move(la));
        } else if (auto* d = std::get_if<commit_delete>(&op)) {
            bool folder = d->is_folder || d->path_in_repo.ends_with('/');
            s.deletes[i] = {folder ? payload_op::kind::deleted_folder : payload_op::kind::deleted_file,
                            path_in_repo(d->path_in_repo, folder)};
        } else {
            auto& cp = std::get<commit_copy>(op);
            s.copy_of[i] = s.copies.size();
            s.copies.push_back({path_in_repo(cp.src_path_in_repo), path_in_repo(cp.path_in_repo),
                                cp.src_revision.value_or(o.revision)});
        }
    }
    return s;
}

std::string receipt_what(const upload_receipt& r) {
    return "the receipt for '" + r.path_in_repo + "' (" + r.repo_id + ", " + std::string(to_string(r.type)) +
           ", revision " + r.revision + ")";
}

// Receipts made for another repo, repo type or revision would commit a file the ranks never
// meant for this commit: refused before any request.
void check_receipts(const std::string& repo_id, const commit_options& o, const std::vector<local_add>& adds) {
    for (auto& a : adds) {
        auto& pre = a.src->preuploaded;
        if (!pre || !pre->receipt) continue;
        const upload_receipt& r = *pre->receipt;
        std::string why;
        if (r.repo_id != repo_id) why = "repo " + repo_id;
        else if (r.type != o.type) why = "repo type " + std::string(to_string(o.type));
        else if (r.revision != o.revision) why = "revision " + o.revision;
        if (!why.empty()) invalid(receipt_what(r) + " cannot be committed to " + why);
    }
}

// The Hub refused an object the commit cites (422): name the receipt, whose object is missing.
// Another 422 (a bad path, say) is rethrown as it is.
[[noreturn]] void refused_receipt(const error& e, const std::vector<local_add>& adds) {
    const std::string& said = e.diag().server_message;
    const upload_receipt* named = nullptr;
    std::vector<const upload_receipt*> all;
    for (auto& a : adds)
        if (auto& pre = a.src->preuploaded; pre && pre->receipt) {
            all.push_back(&*pre->receipt);
            if (!named && said.find(pre->receipt->sha256) != std::string::npos) named = &*pre->receipt;
        }
    std::string lower = said;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (!named && lower.find("lfs") == std::string::npos) throw e;
    diagnostics d = e.diag();
    std::string which;
    if (named) which = receipt_what(*named);
    else {
        which = "one of the receipts for";
        for (std::size_t i = 0; i < all.size() && i < 8; ++i) which += (i ? ", '" : " '") + all[i]->path_in_repo + "'";
        if (all.size() > 8) which += ", ...";
    }
    d.client_message = which + ": the Hub does not have its object as the receipt says (never uploaded, another "
                       "size, or removed because the receipt is older than the Hub keeps unreferenced objects)";
    throw error(e.code(), std::move(d));
}

// A resumed multi-commit upload repeats deletes that already landed: those are done.
asio::awaitable<void> co_drop_landed_deletes(client& c, const std::string& repo_id, const commit_options& o,
                                             const std::vector<commit_operation>& operations, sorted_ops& s) {
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < operations.size(); ++i)
        if (std::holds_alternative<commit_delete>(operations[i])) paths.push_back(s.deletes[i].path);
    if (paths.empty()) co_return;
    std::set<std::string> present;
    repo_query q{o.type, o.revision, o.token};
    auto entries = co_await co_get_paths_info(c, repo_id, paths, q);
    for (auto& e : entries)
        std::visit([&](auto& x) { present.insert(x.path); }, e);
    for (std::size_t i = 0; i < operations.size(); ++i)
        if (std::holds_alternative<commit_delete>(operations[i]) && !present.count(s.deletes[i].path))
            s.deletes[i].path.clear();
}

// Copies: an LFS source is referenced by its oid, a regular one is re-sent.
asio::awaitable<void> co_resolve_copies(client& c, const std::string& repo_id, const commit_options& o,
                                        std::vector<local_copy>& copies) {
    std::map<std::string, std::vector<std::string>> by_rev;
    for (auto& cp : copies) by_rev[cp.src_revision].push_back(cp.src);
    std::map<std::pair<std::string, std::string>, repo_file> found;
    for (auto& [rev, paths] : by_rev) {
        repo_query q{o.type, rev, o.token};
        auto entries = co_await co_get_paths_info(c, repo_id, paths, q);
        for (auto& e : entries)
            if (auto* f = std::get_if<repo_file>(&e)) found[{rev, f->path}] = *f;
    }
    for (auto& cp : copies) {
        auto it = found.find({cp.src_revision, cp.src});
        if (it == found.end()) {
            diagnostics d;
            d.client_message = "cannot copy '" + cp.src + "': no such file at revision " + cp.src_revision;
            throw error(hub_errc::entry_not_found, std::move(d));
        }
        const repo_file& f = it->second;
        if (f.lfs) {
            cp.op = payload_op{payload_op::kind::lfs_file, cp.dst, {}, f.lfs->sha256, std::nullopt};
            continue;
        }
        http_request r;
        r.url = c.settings().endpoint + "/" + std::string(url_prefix(o.type)) + repo_id + "/resolve/" +
                enc_rev(cp.src_revision) + "/" + util::percent_encode(cp.src, true);
        r.token = o.token;
        r.max_body = regular_limit + 1;
        http_response resp = co_await c.co_request(r);
        if (util::git_blob_sha1(resp.body) != f.blob_id)
            protocol_fail(r, resp, "the copy source's bytes don't match its blob id");
        cp.op = payload_op{payload_op::kind::file, cp.dst, std::move(resp.body), {}, std::nullopt};
    }
}

struct planned_commit {
    commit_request cr;
    std::uint64_t changed_ops = 0;  // adds, deletes and copies the commit carries
};

// The payload, in the caller's order, with what each path holds once it landed.
planned_commit plan_commit(const std::vector<commit_operation>& operations, sorted_ops& s, const commit_options& o) {
    planned_commit p;
    commit_request& cr = p.cr;
    cr.header = {o.commit_message, o.commit_description, o.parent_commit};
    cr.revision = o.revision;
    cr.create_pr = o.create_pr;
    for (std::size_t i = 0; i < operations.size(); ++i) {
        if (s.add_of[i] != SIZE_MAX) {
            auto& a = s.adds[s.add_of[i]];
            cr.touched.push_back(a.path);
            if (a.ignore) continue;
            if (a.unchanged) {
                cr.expected.emplace_back(a.path, "f:" + (a.lfs ? std::string() : a.git_sha1));
                continue;
            }
            ++p.changed_ops;
            if (a.lfs) {
                cr.ops.push_back({payload_op::kind::lfs_file, a.path, {}, a.sha256, a.size});
                cr.expected.emplace_back(a.path, a.sha256);
            } else {
                cr.ops.push_back({payload_op::kind::file, a.path, regular_content(a), {}, std::nullopt});
                cr.expected.emplace_back(a.path, "f:" + a.git_sha1);
            }
        } else if (s.copy_of[i] != SIZE_MAX) {
            auto& cp = s.copies[s.copy_of[i]];
            cr.touched.push_back(cp.src);
            cr.touched.push_back(cp.dst);
            ++p.changed_ops;
            cr.ops.push_back(std::move(*cp.op));
        } else {
            if (s.deletes[i].path.empty()) continue;  // already gone (multi_commit resume)
            cr.touched.push_back(s.deletes[i].path);
            cr.expected.emplace_back(s.deletes[i].path, "");
            ++p.changed_ops;
            cr.ops.push_back(std::move(s.deletes[i]));
        }
    }
    return p;
}

// Objects a preupload sent count as this commit's uploads.
void count_uploads(commit_info& info, const lfs_totals& sent, const std::vector<local_add>& adds) {
    info.files_uploaded = sent.objects;
    info.bytes_uploaded = sent.bytes;
    std::set<std::string> counted(sent.sent_oids.begin(), sent.sent_oids.end());
    for (auto& a : adds)
        if (a.src->preuploaded && a.src->preuploaded->sent && a.lfs && counted.insert(a.sha256).second) {
            ++info.files_uploaded;
            info.bytes_uploaded += a.size;
        }
}

}  // namespace

static asio::awaitable<commit_info> co_create_commit_impl(client& c, std::string repo_id, std::vector<commit_operation> operations,
                                              commit_options o);

asio::awaitable<commit_info> co_create_commit(client& c, std::string repo_id, std::vector<commit_operation> operations,
                                              commit_options o) {
    return detail::co_public(co_create_commit_impl(c, std::move(repo_id), std::move(operations), std::move(o)));
}

static asio::awaitable<commit_info> co_create_commit_impl(client& c, std::string repo_id, std::vector<commit_operation> operations,
                                              commit_options o) {
    validate(repo_id, o);
    progress_reporter prog(o.progress);
    sorted_ops s = sort_operations(operations, o);
    check_receipts(repo_id, o, s.adds);
    if (o.multi_commit) co_await co_drop_landed_deletes(c, repo_id, o, operations, s);

    co_await co_hash_all(c, s.adds, o, prog);
    prog.stage_only(commit_progress::stage::checking);
    std::string head;
    if (!s.adds.empty()) {
        std::string answered = co_await co_preupload(c, repo_id, o, s.adds);
        head = std::move(answered);
    }
    std::vector<lfs_object> objects = lfs_objects_of(s.adds);
    lfs_totals sent = co_await co_upload_lfs(c, repo_id, o, objects, prog);
    if (!s.copies.empty()) co_await co_resolve_copies(c, repo_id, o, s.copies);

    planned_commit p = plan_commit(operations, s, o);
    if (p.changed_ops == 0) {
        // Everything is already there: no empty commit.
        if (head.empty()) head = co_await co_head(c, repo_id, o, o.revision);
        commit_info info{head, commit_url(c, o.type, repo_id, head)};
        info.changed = false;
        info.commits = 0;
        prog.stage_only(commit_progress::stage::done);
        co_return info;
    }
    // The head the commit was prepared against, to tell later whether a lost commit landed.
    if (head.empty() && !o.create_pr) head = co_await co_head(c, repo_id, o, o.revision);
    p.cr.head_before = head;

    prog.stage_only(commit_progress::stage::committing);
    bool from_receipts = std::any_of(s.adds.begin(), s.adds.end(), [](const local_add& a) {
        return a.src->preuploaded && a.src->preuploaded->receipt && a.lfs;
    });
    std::optional<commit_info> sent_info;
    try {
        commit_info answered = co_await co_send_commit(c, repo_id, o, std::move(p.cr));
        sent_info = std::move(answered);
    } catch (const error& e) {
        if (from_receipts && e.code() == hub_errc::unprocessable) refused_receipt(e, s.adds);
        throw;
    }
    commit_info info = std::move(*sent_info);
    count_uploads(info, sent, s.adds);
    info.operations = p.changed_ops;
    prog.stage_only(commit_progress::stage::done);
    co_return info;
}

static asio::awaitable<std::vector<commit_add>> co_preupload_lfs_files_impl(client& c, std::string repo_id,
                                                                std::vector<commit_add> additions, commit_options o);

asio::awaitable<std::vector<commit_add>> co_preupload_lfs_files(client& c, std::string repo_id,
                                                                std::vector<commit_add> additions, commit_options o) {
    return detail::co_public(co_preupload_lfs_files_impl(c, std::move(repo_id), std::move(additions), std::move(o)));
}

static asio::awaitable<std::vector<commit_add>> co_preupload_lfs_files_impl(client& c, std::string repo_id,
                                                                std::vector<commit_add> additions, commit_options o) {
    validate_repo_id(repo_id);
    if (o.create_pr && o.revision.starts_with("refs/pr/")) invalid("create_pr opens a new pull request; its revision must be a branch");
    if (o.revision.empty()) o.revision = "main";
    progress_reporter prog(o.progress);
    std::vector<local_add> adds;
    for (auto& a : additions) {
        local_add la;
        la.path = path_in_repo(a.path_in_repo);
        la.src = &a;
        adds.push_back(std::move(la));
    }
    co_await co_hash_all(c, adds, o, prog);
    prog.stage_only(commit_progress::stage::checking);
    if (!adds.empty()) co_await co_preupload(c, repo_id, o, adds);
    std::vector<lfs_object> objects = lfs_objects_of(adds);
    lfs_totals sent = co_await co_upload_lfs(c, repo_id, o, objects, prog);
    std::set<std::string> sent_oids(sent.sent_oids.begin(), sent.sent_oids.end());
    for (std::size_t i = 0; i < adds.size(); ++i) {
        auto& a = adds[i];
        auto pre = std::make_shared<preuploaded_file>();
        pre->size = a.size;
        pre->sha256 = a.sha256;
        pre->git_sha1 = a.git_sha1;
        pre->sample = a.sample;
        pre->lfs = a.lfs;
        if (additions[i].preuploaded) pre->receipt = additions[i].preuploaded->receipt;  // still elsewhere
        bool sent_before = additions[i].preuploaded && additions[i].preuploaded->sent;
        pre->sent = a.lfs && (sent_oids.erase(a.sha256) > 0 || sent_before);  // once per content
        additions[i].preuploaded = std::move(pre);
    }
    prog.stage_only(commit_progress::stage::done);
    co_return additions;
}

std::vector<commit_add> preupload_lfs_files(client& c, std::string repo_id, std::vector<commit_add> additions,
                                            commit_options opts) {
    return detail::run_blocking(c, co_preupload_lfs_files(c, std::move(repo_id), std::move(additions), std::move(opts)));
}

commit_info create_commit(client& c, std::string repo_id, std::vector<commit_operation> operations,
                          commit_options opts) {
    return detail::run_blocking(c, co_create_commit(c, std::move(repo_id), std::move(operations), std::move(opts)));
}

}  // namespace hfhub
