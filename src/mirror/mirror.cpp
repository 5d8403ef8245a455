// co_mirror: the source tree at one commit → the destination, as one commit. LFS objects go
// through the upload's LFS pipeline (batch, basic or multipart) with bodies pulled by Range
// reads from the source; regular files are fetched whole and sent inline.
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/mirror.hpp>
#include <hfhub/repo_api.hpp>

#include "blocking_call.hpp"
#include "upload/body_source.hpp"
#include "upload/payload.hpp"
#include "upload/pipeline.hpp"
#include "util/for_each.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"
#include "boundary.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <set>

namespace hfhub {

namespace asio = boost::asio;

namespace {

[[noreturn]] void fail(std::error_code ec, const std::string& method, const std::string& url, std::string why) {
    diagnostics d;
    d.method = method;
    d.url = url;
    d.client_message = std::move(why);
    throw error(ec, std::move(d));
}

bool is_missing(const error& e) {
    return e.code() == hub_errc::repo_not_found || e.code() == hub_errc::revision_not_found;
}

// A source file read in ranges, and the storage URL its first read was redirected to.
struct source_file {
    std::string path;
    std::mutex mu;
    std::string direct_url;
};

struct regular {
    std::string path;
    std::uint64_t size = 0;
    std::string blob_id;
    std::string content;  // filled by the fetch
};

// Reads the source at one commit.
struct source_reader {
    client& src;
    std::string base;  // E/[{T}s/]{repo}/resolve/{commit}/

    std::string resolve_url(const std::string& path) const { return base + util::percent_encode(path, true); }

    // Bytes [off, off + len) of `f`: all of them or an error.
    asio::awaitable<std::string> co_range(source_file& f, std::uint64_t off, std::uint64_t len) {
        std::string direct;
        {
            std::lock_guard lk(f.mu);
            direct = f.direct_url;
        }
        for (int attempt = 0;; ++attempt) {
            // A remembered storage URL first (signed: no token); if it expired, resolve again.
            const bool use_direct = !direct.empty() && attempt == 0;
            http_request r;
            r.url = use_direct ? direct : resolve_url(f.path);
            r.send_token = !use_direct;
            r.headers = {{"Range", "bytes=" + std::to_string(off) + "-" + std::to_string(off + len - 1)}};
            std::string piece;
            piece.reserve(static_cast<std::size_t>(len));
            const std::string url = r.url;
            body_sink sink;
            sink.write = [&piece, len, &url](std::span<const char> s) {
                if (piece.size() + s.size() > len)
                    fail(client_errc::protocol_error, "GET", url, "the source sent more than the range asked for");
                piece.append(s.data(), s.size());
            };
            sink.restart = [&piece] { piece.clear(); };
            std::exception_ptr failed;
            http_response resp;
            try {
                resp = co_await src.co_stream(std::move(r), std::move(sink));
            } catch (...) {
                failed = std::current_exception();
            }
            if (failed) {
                if (use_direct) continue;
                std::rethrow_exception(failed);
            }
            if (piece.size() != len)
                fail(client_errc::protocol_error, "GET", url,
                     "the source sent " + std::to_string(piece.size()) + " bytes for a range of " + std::to_string(len));
            if (!use_direct && resp.url != url) {
                std::lock_guard lk(f.mu);
                f.direct_url = resp.url;
            }
            co_return piece;
        }
    }

    asio::awaitable<void> co_fetch(regular& f) {
        http_request r;
        r.url = resolve_url(f.path);
        r.max_body = f.size + 1;
        http_response resp = co_await src.co_request(std::move(r));
        if (resp.body.size() != f.size || util::git_blob_sha1(resp.body) != f.blob_id)
            fail(client_errc::checksum_mismatch, "GET", resolve_url(f.path),
                 "the source's bytes of " + f.path + " don't match its blob id " + f.blob_id);
        f.content = std::move(resp.body);
    }
};

// The source's files at its revision's commit (into info.src_commit) that pass the patterns.
asio::awaitable<std::vector<repo_file>> co_source_files(client& src, const std::string& src_repo,
                                                        const mirror_options& o, mirror_info& info) {
    repo_query sq;
    sq.type = o.type;
    sq.revision = o.revision;
    repo_metadata src_meta = co_await co_repo_info(src, src_repo, sq);
    info.src_commit = src_meta.sha;
    tree_query tq;
    tq.type = o.type;
    tq.revision = info.src_commit;
    tq.recursive = true;
    std::vector<tree_entry> tree = co_await co_list_repo_tree(src, src_repo, tq);
    std::vector<repo_file> files;
    for (auto& e : tree)
        if (auto* f = std::get_if<repo_file>(&e); f && path_matches(f->path, o.allow_patterns, o.ignore_patterns))
            files.push_back(std::move(*f));
    std::sort(files.begin(), files.end(), [](auto& a, auto& b) { return a.path < b.path; });
    info.files_selected = files.size();
    co_return files;
}

struct destination_state {
    std::string head;                     // empty: no commit yet
    std::map<std::string, repo_file> have;  // what it holds at the source's paths
};

asio::awaitable<destination_state> co_destination_state(client& dst, const std::string& id, repo_type type,
                                                        const std::string& branch, const std::vector<repo_file>& files) {
    destination_state out;
    repo_query dq;
    dq.type = type;
    dq.revision = branch;
    try {
        repo_metadata dm = co_await co_repo_info(dst, id, dq);
        out.head = dm.sha;
        std::vector<std::string> paths;
        for (auto& f : files) paths.push_back(f.path);
        if (!paths.empty()) {
            std::vector<tree_entry> got = co_await co_get_paths_info(dst, id, std::move(paths), dq);
            for (auto& e : got)
                if (auto* f = std::get_if<repo_file>(&e)) out.have.emplace(f->path, std::move(*f));
        }
    } catch (const error& e) {
        if (!is_missing(e)) throw;  // else an empty repo: everything is new
    }
    co_return out;
}

// What differs: LFS objects (one per sha256, read from the source in ranges) and regular files,
// and the commit that lands them.
struct mirror_plan {
    std::vector<std::unique_ptr<source_file>> sources;
    std::vector<upload::lfs_object> objects;
    std::vector<regular> regulars;
    upload::commit_request cr;
};

mirror_plan plan_mirror(std::vector<repo_file>& files, const destination_state& dst, source_reader& reader,
                        const mirror_options& o, mirror_info& info) {
    mirror_plan plan;
    std::set<std::string> seen;  // one object per sha256, read from its first path
    for (auto& f : files) {
        auto it = dst.have.find(f.path);
        if (it != dst.have.end()) {
            const repo_file& d = it->second;
            bool same = f.lfs ? (d.lfs && d.lfs->sha256 == f.lfs->sha256) : (!d.lfs && d.blob_id == f.blob_id);
            if (same) {
                ++info.files_unchanged;
                continue;
            }
        }
        plan.cr.touched.push_back(f.path);
        if (!f.lfs) {
            plan.cr.ops.push_back({upload::payload_op::kind::file, f.path, {}, {}, std::nullopt});
            plan.cr.expected.emplace_back(f.path, "f:" + f.blob_id);
            plan.regulars.push_back({f.path, f.size, f.blob_id, {}});
            continue;
        }
        plan.cr.ops.push_back({upload::payload_op::kind::lfs_file, f.path, {}, f.lfs->sha256, f.lfs->size});
        plan.cr.expected.emplace_back(f.path, f.lfs->sha256);
        if (!seen.insert(f.lfs->sha256).second) continue;
        auto sf = std::make_unique<source_file>();
        sf->path = f.path;
        upload::remote_body rb;
        rb.read = [r = &reader, file = sf.get()](std::uint64_t off, std::uint64_t len) { return r->co_range(*file, off, len); };
        rb.size = f.lfs->size;
        rb.piece_size = o.part_size;
        rb.sha256 = f.lfs->sha256;
        rb.name = f.path;
        plan.objects.push_back({f.lfs->sha256, f.lfs->size, f.path, nullptr, nullptr, upload::body_source::remote(std::move(rb))});
        plan.sources.push_back(std::move(sf));
    }
    return plan;
}

// The destination's commit options for the LFS pipeline and the commit.
commit_options destination_options(const mirror_options& o, const std::string& branch) {
    commit_options co;
    co.type = o.type;
    co.revision = branch;
    co.commit_message = o.commit_message;
    co.commit_description = o.commit_description;
    co.max_workers = o.max_workers;
    co.batch_size = o.batch_size;
    return co;
}

// LFS objects through the upload's pipeline, then the regular files, all in one uploading stage.
asio::awaitable<void> co_transfer(client& dst, const std::string& id, const commit_options& co, mirror_plan& plan,
                                  source_reader& reader, upload::progress_reporter& prog, mirror_info& info) {
    std::uint64_t regular_bytes = 0;
    for (auto& r : plan.regulars) regular_bytes += r.size;
    if (plan.objects.empty()) prog.begin(commit_progress::stage::uploading, plan.regulars.size(), regular_bytes);
    else prog.reserve(plan.regulars.size(), regular_bytes);
    upload::lfs_totals sent = co_await upload::co_upload_lfs(dst, id, co, plan.objects, prog);
    info.lfs_objects_stored = plan.objects.size() - sent.objects;
    info.lfs_objects_sent = sent.objects;
    info.lfs_bytes_sent = sent.bytes;
    co_await util::co_for_each(plan.regulars.size(), co.max_workers, [&](std::size_t i) -> asio::awaitable<void> {
        co_await reader.co_fetch(plan.regulars[i]);
        prog.step(plan.regulars[i].path, plan.regulars[i].size);
    });
    info.regular_files_sent = plan.regulars.size();
}

// A commit names no branch: mirror it onto main.
std::string destination_branch(const std::string& revision) {
    bool commit = revision.size() == 40 && std::all_of(revision.begin(), revision.end(), [](char ch) {
        return std::isxdigit(static_cast<unsigned char>(ch));
    });
    return commit ? std::string("main") : revision;
}

}  // namespace

static asio::awaitable<mirror_info> co_mirror_impl(client& src, client& dst, std::string src_repo, std::string dst_repo,
                                                   mirror_options o);

asio::awaitable<mirror_info> co_mirror(client& src, client& dst, std::string src_repo, std::string dst_repo,
                                       mirror_options o) {
    return detail::co_public(co_mirror_impl(src, dst, std::move(src_repo), std::move(dst_repo), std::move(o)));
}

static asio::awaitable<mirror_info> co_mirror_impl(client& src, client& dst, std::string src_repo, std::string dst_repo,
                                                   mirror_options o) {
    validate_repo_id(src_repo);
    if (o.revision.empty()) o.revision = "main";
    if (o.part_size == 0) fail(client_errc::invalid_argument, "", "", "part_size must not be zero");
    if (o.batch_size == 0) fail(client_errc::invalid_argument, "", "", "batch_size must not be zero");
    mirror_info info;
    upload::progress_reporter prog(o.progress);

    // The source, pinned to one commit for every read below; the destination, and what it holds.
    std::vector<repo_file> files = co_await co_source_files(src, src_repo, o, info);
    const std::string branch = destination_branch(o.revision);
    const std::optional<std::string> configured_token;  // each client carries its own
    std::string id = co_await upload::co_ensure_target(dst, dst_repo, o.type, branch, o.is_private, false, configured_token);
    destination_state have = co_await co_destination_state(dst, id, o.type, branch, files);
    source_reader reader{src, src.settings().endpoint + "/" + std::string(url_prefix(o.type)) + src_repo + "/resolve/" +
                                  info.src_commit + "/"};
    mirror_plan plan = plan_mirror(files, have, reader, o, info);
    if (plan.cr.ops.empty()) {
        info.commit.oid = have.head;
        info.commit.url = dst.settings().endpoint + "/" + std::string(url_prefix(o.type)) + id + "/commit/" + have.head;
        info.commit.changed = false;
        info.commit.commits = 0;
        prog.begin(commit_progress::stage::done, 0, 0);
        co_return info;
    }

    prog.begin(commit_progress::stage::checking, files.size(), 0);
    if (o.commit_message.empty()) o.commit_message = "Mirror " + src_repo + "@" + info.src_commit;
    commit_options co = destination_options(o, branch);
    co_await co_transfer(dst, id, co, plan, reader, prog, info);

    // One commit; regular contents go in now, in the order of the ops.
    std::size_t next_regular = 0;
    for (auto& op : plan.cr.ops)
        if (op.what == upload::payload_op::kind::file) op.content = std::move(plan.regulars[next_regular++].content);
    plan.regulars.clear();
    prog.begin(commit_progress::stage::committing, 0, 0);
    plan.cr.header = {o.commit_message, o.commit_description, std::nullopt};
    plan.cr.revision = branch;
    plan.cr.head_before = have.head;
    info.commit = co_await upload::co_send_commit(dst, id, co, std::move(plan.cr));
    info.commit.files_uploaded = info.lfs_objects_sent;
    info.commit.bytes_uploaded = info.lfs_bytes_sent;
    prog.begin(commit_progress::stage::done, 0, 0);
    co_return info;
}

mirror_info mirror(client& src, client& dst, std::string src_repo, std::string dst_repo, mirror_options opts) {
    detail::blocking_access::refuse_on_executor(src);
    return detail::run_blocking(dst, co_mirror(src, dst, std::move(src_repo), std::move(dst_repo), std::move(opts)));
}

}  // namespace hfhub
