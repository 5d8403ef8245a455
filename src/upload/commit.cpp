// create_commit: hash → preupload → LFS → one NDJSON commit, with stale-parent rebasing and
// detection of a commit whose answer was lost.
#include <hfhub/commit.hpp>
#include <hfhub/hub_api.hpp>

#include "blocking_call.hpp"
#include "upload/payload.hpp"
#include "upload/pipeline.hpp"
#include "util/for_each.hpp"
#include "util/fs.hpp"
#include "util/paths.hpp"
#include "util/blocking.hpp"
#include "util/read_ahead.hpp"
#include "util/hash.hpp"
#include "boundary.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <fcntl.h>
#include <map>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace hfhub {

namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace upload;

namespace {

constexpr std::uint64_t regular_limit = 10ull << 20;  // the Hub refuses bigger non-LFS files
constexpr std::size_t keep_in_memory = 64 << 10;      // small files aren't read twice
constexpr std::uint64_t read_ahead_from = 64ull << 20;   // a reading thread pays off from here
constexpr unsigned max_rebases = 5;
constexpr std::chrono::milliseconds commit_timeout = std::chrono::minutes(10);

[[noreturn]] void invalid(const std::string& why) {
    diagnostics d;
    d.client_message = why;
    throw error(client_errc::invalid_argument, std::move(d));
}

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

    const fs::path* file() const { return std::get_if<fs::path>(&src->source); }
    const std::string* bytes() const { return std::get_if<std::string>(&src->source); }
};

struct local_copy {
    std::string src;
    std::string dst;
    std::string src_revision;
    std::optional<payload_op> op;  // filled once the source is known
};

[[noreturn]] void file_error(const fs::path& p, int err, const char* what) {
    throw fs::filesystem_error(what, p, std::error_code(err, std::generic_category()));
}

// One read pass: sha256 always, git's blob SHA-1 when the file could be regular.
[[noreturn]] void stopped() { throw error(client_errc::cancelled, {.client_message = "cancelled while hashing"}); }

// `stop` (when given) is checked between reads: a cancelled commit stops hashing within one read.
// A big file is read ahead by a helper on `pool`, the pool this runs on.
void hash_add(local_add& a, const asio::any_io_executor& pool, const std::atomic<bool>* stop = nullptr) {
    if (auto& pre = a.src->preuploaded) {
        a.size = pre->size;
        a.sha256 = pre->sha256;
        a.git_sha1 = pre->git_sha1;
        a.sample = pre->sample;
        return;
    }
    if (auto* b = a.bytes()) {
        a.size = b->size();
        a.sample = b->substr(0, 512);
        a.sha256 = util::sha256_hex(*b);
        a.git_sha1 = util::git_blob_sha1(*b);
        return;
    }
    const fs::path& p = *a.file();
    util::unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) file_error(p, errno, "cannot open a file to upload");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) file_error(p, errno, "cannot stat a file to upload");
    if (!S_ISREG(st.st_mode)) file_error(p, EISDIR, "not a regular file");
    a.size = static_cast<std::uint64_t>(st.st_size);
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    util::hasher sha(util::hash_algo::sha256);
    std::optional<util::git_blob_hasher> git;
    if (a.size <= regular_limit) git.emplace(a.size);
    if (a.size <= keep_in_memory) a.content.emplace();
    std::uint64_t done = 0;
    bool read_all = false;
    if (a.size >= read_ahead_from && !git && !a.content) {
        // Only the sha256: read by a helper on the pool, so the copy out of the page cache
        // overlaps the hash instead of adding to it (one file is one hash, on one core).
        auto r = util::read_ahead(pool, fd.get(), 4u << 20, a.size, [&](const char* d, std::size_t n) {
            if (stop && *stop) stopped();
            if (a.sample.size() < 512) a.sample.append(d, std::min<std::size_t>(512 - a.sample.size(), n));
            sha.update(d, n);
        });
        if (r.error) file_error(p, r.error, "cannot read a file to upload");
        done = r.bytes;
        read_all = true;
    }
    std::vector<char> buf(read_all ? 0 : std::min<std::uint64_t>(std::max<std::uint64_t>(a.size, 1), 4u << 20));
    while (!read_all) {
        if (stop && *stop) stopped();
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            file_error(p, errno, "cannot read a file to upload");
        }
        if (n == 0) break;
        if (a.sample.size() < 512) a.sample.append(buf.data(), std::min<std::size_t>(512 - a.sample.size(), n));
        sha.update(buf.data(), static_cast<std::size_t>(n));
        if (git) git->update(buf.data(), static_cast<std::size_t>(n));
        if (a.content) a.content->append(buf.data(), static_cast<std::size_t>(n));
        done += static_cast<std::uint64_t>(n);
        if (done > a.size) break;
    }
    if (done != a.size) {
        diagnostics d;
        d.client_message = p.string() + " changed size while it was hashed";
        throw error(client_errc::local_file_changed, std::move(d));
    }
    a.sha256 = sha.hex_digest();
    if (git) a.git_sha1 = git->hex_digest();
}

// The bytes of a regular file, checked against the hash the Hub was told about.
std::string regular_content(const local_add& a) {
    if (a.content) return *a.content;
    if (auto* b = a.bytes()) return *b;
    auto data = util::read_file(*a.file());
    if (!data) file_error(*a.file(), errno ? errno : EIO, "cannot read a file to upload");
    if (util::git_blob_sha1(*data) != a.git_sha1) {
        diagnostics d;
        d.client_message = a.file()->string() + " changed after it was hashed";
        throw error(client_errc::local_file_changed, std::move(d));
    }
    return std::move(*data);
}

asio::awaitable<void> co_hash_all(client& c, std::vector<local_add>& adds, const commit_options& o,
                                  progress_reporter& prog) {
    const asio::any_io_executor pool = detail::blocking_executor(c);
    // Preuploaded adds carry their hashes.
    for (auto& a : adds)
        if (a.src->preuploaded) hash_add(a, pool);
    std::vector<std::size_t> to_hash;
    for (std::size_t i = 0; i < adds.size(); ++i)
        if (!adds[i].src->preuploaded) to_hash.push_back(i);
    if (to_hash.empty()) co_return;
    std::uint64_t total = 0;
    for (std::size_t i : to_hash)
        if (auto& a = adds[i]; auto* b = a.bytes()) total += b->size();
        else {
            std::error_code ec;
            auto s = fs::file_size(*a.file(), ec);
            if (!ec) total += s;
        }
    prog.begin(commit_progress::stage::hashing, to_hash.size(), total);
    unsigned threads = std::max(1u, std::min({o.max_workers, std::max(1u, std::thread::hardware_concurrency()),
                                               static_cast<unsigned>(to_hash.size())}));
    // Hashing is CPU work: it runs on the client's blocking pool, never on the caller's executor.
    // A cancellation stops it within one read, and the caller waits for that: it writes into `a`.
    co_await util::co_for_each(to_hash.size(), threads, [&](std::size_t k) -> asio::awaitable<void> {
        auto& a = adds[to_hash[k]];
        std::function<void(const std::atomic<bool>&)> job = [&a, pool](const std::atomic<bool>& stop) {
            hash_add(a, pool, &stop);
        };
        co_await util::co_blocking_to_end(pool, std::move(job));
        prog.step(a.path, a.size);
    });
}

struct preupload_answer {
    std::string head;  // commitOid: the head the answers are about
};

asio::awaitable<preupload_answer> co_preupload(client& c, const std::string& repo_id, const commit_options& o,
                                               std::vector<local_add>& adds) {
    preupload_answer out;
    std::string url = api_repo_url(c, o.type, repo_id) + "/preupload/" + enc_rev(o.revision);
    if (o.create_pr) url += "?create_pr=1";
    for (auto [b, e] : batches(adds.size(), o.batch_size)) {
        json::array files;
        for (std::size_t i = b; i < e; ++i)
            files.push_back(json::object{{"path", adds[i].path},
                                         {"sample", util::base64_encode(adds[i].sample)},
                                         {"size", adds[i].size}});
        http_request r;
        r.method = "POST";
        r.url = url;
        r.headers = {{"Content-Type", "application/json"}};
        r.body = json::serialize(json::object{{"files", std::move(files)}});
        r.token = o.token;
        r.idempotent = true;  // it only asks
        http_response resp = co_await c.co_request(r);
        json::object body = parse_object(r, resp);
        if (auto* h = body.if_contains("commitOid"); h && h->is_string()) out.head = std::string(h->as_string());
        auto* arr = body.if_contains("files");
        if (!arr || !arr->is_array()) protocol_fail(r, resp, "'files' is not an array");
        std::map<std::string, const json::object*> by_path;
        for (auto& v : arr->as_array()) {
            auto* fo = v.if_object();
            auto* p = fo ? fo->if_contains("path") : nullptr;
            if (!p || !p->is_string()) protocol_fail(r, resp, "a 'files' entry has no path");
            by_path[std::string(p->as_string())] = fo;
        }
        for (std::size_t i = b; i < e; ++i) {
            auto& a = adds[i];
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
    co_return out;
}

// What a revision holds at the given paths (files and folders), for comparing two heads.
asio::awaitable<std::map<std::string, std::string>> co_signature(client& c, const std::string& repo_id,
                                                                 const commit_options& o, const std::string& rev,
                                                                 const std::vector<std::string>& paths) {
    std::map<std::string, std::string> sig;
    if (paths.empty()) co_return sig;
    repo_query q{o.type, rev, o.token};
    auto entries = co_await co_get_paths_info(c, repo_id, paths, q);
    for (auto& e : entries) {
        if (auto* f = std::get_if<repo_file>(&e))
            sig[f->path] = "f:" + f->blob_id + (f->lfs ? ":" + f->lfs->sha256 : "");
        else if (auto* d = std::get_if<repo_folder>(&e))
            sig[d->path] = "d:" + d->tree_id;
    }
    co_return sig;
}

asio::awaitable<std::string> co_head(client& c, const std::string& repo_id, const commit_options& o,
                                     const std::string& rev) {
    repo_query q{o.type, rev, o.token};
    auto info = co_await co_repo_info(c, repo_id, q);
    co_return info.sha;
}

commit_info read_commit_answer(const client& c, const http_request& r, const http_response& resp) {
    json::object body = parse_object(r, resp);
    commit_info info;
    auto* oid = body.if_contains("commitOid");
    if (!oid || !oid->is_string()) protocol_fail(r, resp, "no 'commitOid' in the commit answer");
    info.oid = std::string(oid->as_string());
    if (auto* u = body.if_contains("commitUrl"); u && u->is_string()) info.url = std::string(u->as_string());
    if (auto* pr = body.if_contains("pullRequestUrl"); pr && pr->is_string()) {
        info.pr_url = std::string(pr->as_string());
        info.pr_num = pr_number(*info.pr_url);
    }
    (void)c;
    return info;
}

std::string commit_url(const client& c, repo_type t, const std::string& repo_id, const std::string& oid) {
    return c.settings().endpoint + "/" + std::string(url_prefix(t)) + repo_id + "/commit/" + oid;
}

// After a lost answer: did a commit with our summary, and our content at our paths, land on
// top of the head we prepared against?
asio::awaitable<std::optional<std::string>> co_find_landed(client& c, const std::string& repo_id,
                                                           const commit_options& o, const commit_request& cr) {
    std::string now = co_await co_head(c, repo_id, o, cr.revision);
    if (now == cr.head_before) co_return std::nullopt;
    repo_query q{o.type, cr.revision, o.token};
    auto log = co_await co_list_repo_commits(c, repo_id, q);
    for (auto& cm : log) {
        if (cm.id == cr.head_before) break;
        if (cm.title != cr.header.summary) continue;
        std::vector<std::string> paths;
        for (auto& [p, s] : cr.expected) paths.push_back(p);
        auto sig = co_await co_signature(c, repo_id, o, cm.id, paths);
        bool same = true;
        for (auto& [p, s] : cr.expected) {
            auto it = sig.find(p);
            std::string got = it == sig.end() ? "" : it->second;
            // Expectations hold a prefix: the blob id of LFS files isn't known here.
            same = same && (s.empty() ? got.empty() : got.starts_with(s) || got.ends_with(s));
        }
        if (same) co_return cm.id;
    }
    co_return std::nullopt;
}

// The commit may have landed: the connection broke, or the server failed after reading it.
bool lost_answer(const error& e) {
    if (e.code().category() == client_category())
        return e.code() == client_errc::connection_failed || e.code() == client_errc::timeout ||
               e.code() == client_errc::protocol_error || e.code() == client_errc::retries_exhausted;
    return e.diag().status >= 500;
}

}  // namespace

asio::awaitable<commit_info> upload::co_send_commit(client& c, const std::string& repo_id, const commit_options& o,
                                                    commit_request cr) {
    bool retried_lost = false;
    unsigned rebases = 0;
    while (true) {
        http_request r;
        r.method = "POST";
        r.url = api_repo_url(c, o.type, repo_id) + "/commit/" + enc_rev(cr.revision);
        if (cr.create_pr) r.url += "?create_pr=1";
        r.headers = {{"Content-Type", "application/x-ndjson"}};
        r.body = commit_payload(cr.header, cr.ops);
        r.token = o.token;
        r.idempotent = false;  // never sent twice blindly: see below
        r.read_timeout = commit_timeout;  // a big commit takes the server a while to apply
        std::optional<error> failure;
        try {
            http_response resp = co_await c.co_request(r);
            commit_info info = read_commit_answer(c, r, resp);
            if (info.url.empty()) info.url = commit_url(c, o.type, repo_id, info.oid);
            co_return info;
        } catch (const error& e) {
            failure = e;  // handled below: no co_await inside a handler
        }
        const error& e = *failure;
        if (e.code() == hub_errc::precondition_failed && o.rebase_on_conflict && cr.header.parent_commit &&
            rebases < max_rebases) {
            // Rebase only when nothing this commit touches changed since its parent.
            std::string now = co_await co_head(c, repo_id, o, cr.revision);
            if (now == *cr.header.parent_commit) throw e;
            auto before = co_await co_signature(c, repo_id, o, *cr.header.parent_commit, cr.touched);
            auto after = co_await co_signature(c, repo_id, o, now, cr.touched);
            if (before != after) {
                std::string which;
                for (auto& p : cr.touched) {
                    auto a = before.find(p), b = after.find(p);
                    bool differ = (a == before.end()) != (b == after.end()) ||
                                  (a != before.end() && a->second != b->second);
                    if (differ && which.find(p) == std::string::npos) which += (which.empty() ? "" : ", ") + p;
                }
                diagnostics d = e.diag();
                d.client_message += (d.client_message.empty() ? "" : "; ") +
                                    std::string("not rebased: changed since the parent commit: ") + which;
                throw error(hub_errc::precondition_failed, std::move(d));
            }
            cr.header.parent_commit = now;
            cr.head_before = now;
            ++rebases;
            continue;
        }
        if (e.code() == hub_errc::precondition_failed && retried_lost) {
            // Our first attempt may have landed after all, moving the head.
            if (auto landed = co_await co_find_landed(c, repo_id, o, cr))
                {
                commit_info found{*landed, commit_url(c, o.type, repo_id, *landed)};
                co_return found;
            }
            throw e;
        }
        if (!lost_answer(e) || cr.create_pr || cr.head_before.empty() || retried_lost) throw e;
        if (auto landed = co_await co_find_landed(c, repo_id, o, cr))
            {
                commit_info found{*landed, commit_url(c, o.type, repo_id, *landed)};
                co_return found;
            }
        // It did not land (yet): try once more, pinned to the head we just saw, so a late
        // landing of the first attempt makes this one fail instead of doubling it.
        std::string now = co_await co_head(c, repo_id, o, cr.revision);
        if (cr.header.parent_commit && *cr.header.parent_commit != now) throw e;
        cr.header.parent_commit = now;
        cr.head_before = now;
        retried_lost = true;
    }
}

static asio::awaitable<commit_info> co_create_commit_impl(client& c, std::string repo_id, std::vector<commit_operation> operations,
                                              commit_options o);

asio::awaitable<commit_info> co_create_commit(client& c, std::string repo_id, std::vector<commit_operation> operations,
                                              commit_options o) {
    return detail::co_public(co_create_commit_impl(c, std::move(repo_id), std::move(operations), std::move(o)));
}

static asio::awaitable<commit_info> co_create_commit_impl(client& c, std::string repo_id, std::vector<commit_operation> operations,
                                              commit_options o) {
    validate_repo_id(repo_id);
    if (o.commit_message.empty()) invalid("a commit needs a message");
    if (o.parent_commit) {
        auto& p = *o.parent_commit;
        if (p.size() < 5 || p.size() > 40 || !std::all_of(p.begin(), p.end(), [](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)); }))
            invalid("parent_commit must be 5 to 40 hex digits, not '" + p.substr(0, 60) + "'");
    }
    if (o.create_pr && o.revision.starts_with("refs/pr/")) invalid("create_pr opens a new pull request; its revision must be a branch");
    if (o.revision.empty()) o.revision = "main";
    progress_reporter prog(o.progress);

    // Paths first: a bad one fails the call before any work.
    std::vector<local_add> adds;
    std::vector<local_copy> copies;
    std::vector<std::size_t> add_of(operations.size(), SIZE_MAX), copy_of(operations.size(), SIZE_MAX);
    std::vector<payload_op> deletes(operations.size());
    for (std::size_t i = 0; i < operations.size(); ++i) {
        auto& op = operations[i];
        if (auto* a = std::get_if<commit_add>(&op)) {
            add_of[i] = adds.size();
            local_add la;
            la.path = path_in_repo(a->path_in_repo);
            la.src = a;
            adds.push_back(std::move(la));
        } else if (auto* d = std::get_if<commit_delete>(&op)) {
            bool folder = d->is_folder || d->path_in_repo.ends_with('/');
            deletes[i] = {folder ? payload_op::kind::deleted_folder : payload_op::kind::deleted_file,
                          path_in_repo(d->path_in_repo, folder)};
        } else {
            auto& cp = std::get<commit_copy>(op);
            copy_of[i] = copies.size();
            copies.push_back({path_in_repo(cp.src_path_in_repo), path_in_repo(cp.path_in_repo),
                              cp.src_revision.value_or(o.revision)});
        }
    }

    // A resumed multi-commit upload repeats deletes that already landed: those are done.
    if (o.multi_commit) {
        std::vector<std::string> paths;
        for (std::size_t i = 0; i < operations.size(); ++i)
            if (std::holds_alternative<commit_delete>(operations[i])) paths.push_back(deletes[i].path);
        if (!paths.empty()) {
            std::set<std::string> present;
            repo_query q{o.type, o.revision, o.token};
            auto entries = co_await co_get_paths_info(c, repo_id, paths, q);
            for (auto& e : entries)
                std::visit([&](auto& x) { present.insert(x.path); }, e);
            for (std::size_t i = 0; i < operations.size(); ++i)
                if (std::holds_alternative<commit_delete>(operations[i]) && !present.count(deletes[i].path))
                    deletes[i].path.clear();
        }
    }

    co_await co_hash_all(c, adds, o, prog);
    prog.stage_only(commit_progress::stage::checking);
    std::string head;
    if (!adds.empty()) {
        preupload_answer pa = co_await co_preupload(c, repo_id, o, adds);
        head = pa.head;
    }

    // LFS objects the Hub must store, once per content.
    std::vector<lfs_object> objects;
    std::set<std::string> seen;
    for (auto& a : adds)
        if (a.lfs && !a.ignore && !a.unchanged && seen.insert(a.sha256).second)
            objects.push_back({a.sha256, a.size, a.path, a.file(), a.bytes()});
    lfs_totals sent = co_await co_upload_lfs(c, repo_id, o, objects, prog);

    // Copies: an LFS source is referenced by its oid, a regular one is re-sent.
    if (!copies.empty()) {
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
            } else {
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
    }

    // The payload, in the caller's order.
    commit_request cr;
    cr.header = {o.commit_message, o.commit_description, o.parent_commit};
    cr.revision = o.revision;
    cr.create_pr = o.create_pr;
    std::uint64_t changed_ops = 0;
    for (std::size_t i = 0; i < operations.size(); ++i) {
        if (add_of[i] != SIZE_MAX) {
            auto& a = adds[add_of[i]];
            cr.touched.push_back(a.path);
            if (a.ignore) continue;
            if (a.unchanged) {
                cr.expected.emplace_back(a.path, "f:" + (a.lfs ? std::string() : a.git_sha1));
                continue;
            }
            ++changed_ops;
            if (a.lfs) {
                cr.ops.push_back({payload_op::kind::lfs_file, a.path, {}, a.sha256, a.size});
                cr.expected.emplace_back(a.path, a.sha256);
            } else {
                cr.ops.push_back({payload_op::kind::file, a.path, regular_content(a), {}, std::nullopt});
                cr.expected.emplace_back(a.path, "f:" + a.git_sha1);
            }
        } else if (copy_of[i] != SIZE_MAX) {
            auto& cp = copies[copy_of[i]];
            cr.touched.push_back(cp.src);
            cr.touched.push_back(cp.dst);
            ++changed_ops;
            cr.ops.push_back(std::move(*cp.op));
        } else {
            if (deletes[i].path.empty()) continue;  // already gone (multi_commit resume)
            cr.touched.push_back(deletes[i].path);
            cr.expected.emplace_back(deletes[i].path, "");
            ++changed_ops;
            cr.ops.push_back(std::move(deletes[i]));
        }
    }

    if (changed_ops == 0) {
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
    cr.head_before = head;

    prog.stage_only(commit_progress::stage::committing);
    commit_info info;
    std::uint64_t regular_bytes = 0;
    for (auto& op : cr.ops) regular_bytes += op.content.size();
    if (!o.multi_commit || (cr.ops.size() <= o.max_files_per_commit && regular_bytes <= o.max_regular_bytes_per_commit)) {
        info = co_await co_send_commit(c, repo_id, o, std::move(cr));
    } else {
        // Deletes first, then the rest in order, cut by count and by inline bytes.
        std::stable_partition(cr.ops.begin(), cr.ops.end(), [](const payload_op& p) {
            return p.what == payload_op::kind::deleted_file || p.what == payload_op::kind::deleted_folder;
        });
        std::vector<std::pair<std::size_t, std::size_t>> parts;
        std::size_t start = 0;
        std::uint64_t bytes = 0;
        for (std::size_t i = 0; i < cr.ops.size(); ++i) {
            std::uint64_t b = cr.ops[i].content.size();
            if (i > start && (i - start >= o.max_files_per_commit || bytes + b > o.max_regular_bytes_per_commit)) {
                parts.emplace_back(start, i);
                start = i;
                bytes = 0;
            }
            bytes += b;
        }
        parts.emplace_back(start, cr.ops.size());
        std::string revision = o.revision;
        bool create_pr = o.create_pr;
        for (std::size_t k = 0; k < parts.size(); ++k) {
            commit_request part;
            part.header = cr.header;
            part.header.summary += " (part " + std::to_string(k + 1) + " of " + std::to_string(parts.size()) + ")";
            if (k > 0) part.header.parent_commit.reset();
            part.revision = revision;
            part.create_pr = create_pr;
            part.ops.assign(std::make_move_iterator(cr.ops.begin() + static_cast<std::ptrdiff_t>(parts[k].first)),
                            std::make_move_iterator(cr.ops.begin() + static_cast<std::ptrdiff_t>(parts[k].second)));
            for (auto& op : part.ops) {
                part.touched.push_back(op.path);
                std::string sig;
                if (op.what == payload_op::kind::lfs_file) sig = op.oid;
                else if (op.what == payload_op::kind::file) sig = "f:" + util::git_blob_sha1(op.content);
                part.expected.emplace_back(op.path, sig);
            }
            part.head_before = k == 0 ? cr.head_before : info.oid;
            commit_info one = co_await co_send_commit(c, repo_id, o, std::move(part));
            if (k == 0) {
                info = one;
                if (create_pr && one.pr_num) {  // later parts go to the pull request the first opened
                    revision = "refs/pr/" + std::to_string(*one.pr_num);
                    create_pr = false;
                }
            } else {
                info.oid = one.oid;
                info.url = one.url;
            }
        }
        info.commits = static_cast<unsigned>(parts.size());
    }
    info.files_uploaded = sent.objects;
    info.bytes_uploaded = sent.bytes;
    info.operations = changed_ops;
    // Objects a preupload sent count as this commit's uploads.
    std::set<std::string> counted(sent.sent_oids.begin(), sent.sent_oids.end());
    for (auto& a : adds)
        if (a.src->preuploaded && a.src->preuploaded->sent && a.lfs && counted.insert(a.sha256).second) {
            ++info.files_uploaded;
            info.bytes_uploaded += a.size;
        }
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
    std::vector<lfs_object> objects;
    std::set<std::string> seen;
    for (auto& a : adds)
        if (a.lfs && !a.ignore && !a.unchanged && seen.insert(a.sha256).second)
            objects.push_back({a.sha256, a.size, a.path, a.file(), a.bytes()});
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
