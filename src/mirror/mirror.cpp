// co_mirror: the source tree at one commit → the destination, as one commit. LFS objects go
// through the destination's LFS batch (basic or multipart) with bodies pulled by Range reads
// from the source; regular files are fetched whole and sent inline.
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/mirror.hpp>
#include <hfhub/repo_api.hpp>

#include "blocking_call.hpp"
#include "upload/payload.hpp"
#include "upload/pipeline.hpp"
#include "util/for_each.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"
#include "boundary.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>

namespace hfhub {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

using upload::lfs_json;

[[noreturn]] void fail(std::error_code ec, const std::string& method, const std::string& url, std::string why) {
    diagnostics d;
    d.method = method;
    d.url = url;
    d.client_message = std::move(why);
    throw error(ec, std::move(d));
}

// One LFS object the destination lacks, and how its batch answer says to send it.
struct object {
    std::string oid;
    std::uint64_t size = 0;
    std::string path;  // a source path that holds it
    std::string upload_href;
    std::optional<std::string> verify_href;
    std::uint64_t chunk = 0;  // multipart when non-zero
    std::vector<std::string> part_hrefs;
    std::vector<std::string> etags;
    std::atomic<std::size_t> remaining{0};
    std::mutex mu;
    std::string direct_url;  // where the source's resolve redirected to, reused for later ranges
};

struct regular {
    std::string path;
    std::uint64_t size = 0;
    std::string blob_id;
    std::string content;  // filled by the transfer step
};

// One unit of work for the pool: a basic object, one part of a multipart one, or a regular file.
struct unit {
    object* obj = nullptr;
    std::size_t part = SIZE_MAX;  // multipart part index
    regular* file = nullptr;
};

class reporter {
public:
    explicit reporter(commit_progress_handler h) : h_(std::move(h)) {}
    void begin(commit_progress::stage s, std::uint64_t files, std::uint64_t bytes) {
        if (!h_) return;
        std::lock_guard lk(mu_);
        p_ = {};
        p_.what = s;
        p_.files_total = files;
        p_.bytes_total = bytes;
        h_(p_);
    }
    void bytes(std::uint64_t n) {
        if (!h_) return;
        std::lock_guard lk(mu_);
        p_.file.clear();
        p_.bytes_done += n;
        h_(p_);
    }
    void file_done(const std::string& path) {
        if (!h_) return;
        std::lock_guard lk(mu_);
        p_.file = path;
        ++p_.files_done;
        h_(p_);
    }

private:
    commit_progress_handler h_;
    std::mutex mu_;
    commit_progress p_;
};

struct mirror_run {
    client& src;
    client& dst;
    const std::string& src_repo;
    const std::string& dst_repo;
    const mirror_options& o;
    std::string src_commit;
    reporter& prog;

    std::string resolve_url(const std::string& path) const {
        return src.settings().endpoint + "/" + std::string(url_prefix(o.type)) + src_repo + "/resolve/" + src_commit +
               "/" + util::percent_encode(path, true);
    }

    // Bytes [off, off + len) of `ob` from the source: all of them or an error.
    asio::awaitable<std::string> co_range(object& ob, std::uint64_t off, std::uint64_t len) {
        std::string direct;
        {
            std::lock_guard lk(ob.mu);
            direct = ob.direct_url;
        }
        for (int attempt = 0;; ++attempt) {
            // A remembered storage URL first (signed: no token); if it expired, resolve again.
            const bool use_direct = !direct.empty() && attempt == 0;
            http_request r;
            r.url = use_direct ? direct : resolve_url(ob.path);
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
                std::lock_guard lk(ob.mu);
                ob.direct_url = resp.url;
            }
            co_return piece;
        }
    }

    // PUTs [off, off + len) of `ob` to `url`, pulled from the source in part_size pieces. With
    // `check_sha256` (the whole object, in order) a mismatch cuts the body short before it ends,
    // so the destination never stores it.
    asio::awaitable<http_response> co_put(object& ob, const std::string& url, std::uint64_t off, std::uint64_t len,
                                          bool check_sha256) {
        struct state {
            std::optional<util::hasher> sha;
            std::uint64_t reported = 0;  // progress counts each byte once across retries
        };
        auto st = std::make_shared<state>();
        http_request r;
        r.method = "PUT";
        r.url = url;
        r.send_token = false;  // storage URLs are signed; the token stays home
        r.idempotent = true;
        r.redirects = follow_redirects::none;
        r.body_source_length = len;
        r.body_source = [this, &ob, off, len, check_sha256, st](std::uint64_t at) -> asio::awaitable<std::string> {
            std::uint64_t n = std::min(o.part_size, len - at);
            std::string piece = co_await co_range(ob, off + at, n);
            if (check_sha256) {
                if (at == 0) st->sha.emplace(util::hash_algo::sha256);
                st->sha->update(piece);
                if (at + n == len) {
                    std::string got = st->sha->hex_digest();
                    st->sha.reset();
                    if (got != ob.oid)
                        fail(client_errc::checksum_mismatch, "GET", resolve_url(ob.path),
                             "the source's bytes of " + ob.path + " hash to " + got + ", not " + ob.oid);
                }
            }
            if (at + n > st->reported) {
                prog.bytes(at + n - st->reported);
                st->reported = at + n;
            }
            co_return piece;
        };
        co_return co_await dst.co_request(std::move(r));
    }

    asio::awaitable<void> co_finish(object& ob) {
        co_await upload::co_finish_lfs(dst, ob.upload_href, ob.verify_href, ob.oid, ob.size, ob.etags, std::nullopt,
                                        header_fields());
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
        prog.bytes(f.size);
        prog.file_done(f.path);
    }

    asio::awaitable<void> co_unit(const unit& u) {
        if (u.file) {
            co_await co_fetch(*u.file);
            co_return;
        }
        object& ob = *u.obj;
        if (!ob.chunk) {
            co_await co_put(ob, ob.upload_href, 0, ob.size, true);
            co_await co_finish(ob);
            co_return;
        }
        std::uint64_t off = u.part * ob.chunk;
        std::uint64_t len = std::min(ob.chunk, ob.size - off);
        http_response resp = co_await co_put(ob, ob.part_hrefs[u.part], off, len, false);
        auto etag = resp.header("ETag");
        if (!etag) fail(client_errc::protocol_error, "PUT", ob.part_hrefs[u.part], "a part upload answered no ETag");
        ob.etags[u.part] = std::string(*etag);
        if (--ob.remaining == 0) co_await co_finish(ob);
    }
};

std::string str_field(const json::object& o, std::string_view k, const std::string& url) {
    auto* v = o.if_contains(k);
    if (!v || !v->is_string()) fail(client_errc::protocol_error, "POST", url, "LFS batch: '" + std::string(k) + "' is not a string");
    return std::string(v->as_string());
}

// Reads one batch answer: objects with no actions are stored already and leave `pending`.
void read_batch(const std::string& url, const std::string& body, const std::string& endpoint,
                std::map<std::string, object*>& pending) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) fail(client_errc::protocol_error, "POST", url, "LFS batch: the answer is not a JSON object");
    auto* arr = v.as_object().if_contains("objects");
    if (!arr || !arr->is_array()) fail(client_errc::protocol_error, "POST", url, "LFS batch: 'objects' is not an array");
    for (auto& ov : arr->as_array()) {
        if (!ov.is_object()) fail(client_errc::protocol_error, "POST", url, "LFS batch: an object is not an object");
        auto& jo = ov.as_object();
        std::string oid = str_field(jo, "oid", url);
        auto it = pending.find(oid);
        if (it == pending.end()) continue;
        object& ob = *it->second;
        if (auto* err = jo.if_contains("error"); err && !err->is_null()) {
            std::string msg;
            if (auto* eo = err->if_object())
                if (auto* m = eo->if_contains("message"); m && m->is_string()) msg = std::string(m->as_string());
            fail(hub_errc::http_error, "POST", url, "LFS object " + ob.path + " (" + oid + "): " + msg);
        }
        auto* actions = jo.if_contains("actions");
        auto* up = actions && actions->is_object() ? actions->as_object().if_contains("upload") : nullptr;
        if (!up || !up->is_object()) {
            pending.erase(it);  // already stored
            continue;
        }
        ob.upload_href = upload::fix_endpoint(str_field(up->as_object(), "href", url), endpoint);
        if (auto* vf = actions->as_object().if_contains("verify"); vf && vf->is_object())
            ob.verify_href = upload::fix_endpoint(str_field(vf->as_object(), "href", url), endpoint);
        auto* hdr = up->as_object().if_contains("header");
        if (!hdr || !hdr->is_object()) continue;
        auto& h = hdr->as_object();
        auto* cs = h.if_contains("chunk_size");
        if (!cs) continue;
        boost::system::error_code cs_ec;
        std::string s = cs->is_string() ? std::string(cs->as_string())
                        : cs->is_number() ? std::to_string(cs->to_number<std::uint64_t>(cs_ec))
                                          : std::string();
        if (cs_ec) s = json::serialize(*cs);  // -5 or 1.5: refused below, by its text
        if (s.empty() || s.size() > 15 || !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
            fail(client_errc::protocol_error, "POST", url, "LFS batch: bad chunk_size '" + s + "'");
        ob.chunk = std::stoull(s);
        if (ob.chunk == 0) fail(client_errc::protocol_error, "POST", url, "LFS batch: chunk_size is zero");
        std::vector<std::pair<unsigned long, std::string>> parts;
        for (auto& [k, pv] : h) {
            // Part URLs sit under numeric keys ("00001"); other keys are headers.
            if (k.empty() || k.size() > 9 || !std::all_of(k.begin(), k.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
                continue;
            if (!pv.is_string()) fail(client_errc::protocol_error, "POST", url, "LFS batch: a part URL is not a string");
            parts.emplace_back(std::stoul(std::string(k)), upload::fix_endpoint(std::string(pv.as_string()), endpoint));
        }
        std::sort(parts.begin(), parts.end());
        std::uint64_t want = (ob.size + ob.chunk - 1) / ob.chunk;
        if (parts.size() != want)
            fail(client_errc::protocol_error, "POST", url,
                 "LFS batch: " + std::to_string(parts.size()) + " part URLs for " + oid + ", " + std::to_string(want) +
                     " expected");
        for (std::size_t p = 0; p < parts.size(); ++p) {
            if (parts[p].first != p + 1) fail(client_errc::protocol_error, "POST", url, "LFS batch: part numbers are not 1..N");
            ob.part_hrefs.push_back(std::move(parts[p].second));
        }
        ob.etags.resize(ob.part_hrefs.size());
        ob.remaining = ob.part_hrefs.size();
    }
}

bool is_missing(const error& e) {
    return e.code() == hub_errc::repo_not_found || e.code() == hub_errc::revision_not_found;
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
    mirror_info info;
    reporter prog(o.progress);

    // The source, pinned to one commit for every read below.
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

    // The destination, and what it holds at those paths.
    const std::string branch = o.revision.size() == 40 && std::all_of(o.revision.begin(), o.revision.end(), [](char ch) {
        return std::isxdigit(static_cast<unsigned char>(ch));
    }) ? std::string("main") : o.revision;  // a commit names no branch: mirror it onto main
    std::string id = co_await upload::co_ensure_target(dst, dst_repo, o.type, branch, o.is_private, false, std::nullopt);
    repo_query dq;
    dq.type = o.type;
    dq.revision = branch;
    std::string dst_head;
    std::map<std::string, repo_file> have;
    {
        try {
            repo_metadata dm = co_await co_repo_info(dst, id, dq);
            dst_head = dm.sha;
            std::vector<std::string> paths;
            for (auto& f : files) paths.push_back(f.path);
            if (!paths.empty()) {
                std::vector<tree_entry> got = co_await co_get_paths_info(dst, id, std::move(paths), dq);
                for (auto& e : got)
                    if (auto* f = std::get_if<repo_file>(&e)) have.emplace(f->path, std::move(*f));
            }
        } catch (const error& e) {
            if (!is_missing(e)) throw;  // else an empty repo: everything is new
        }
    }

    // What differs: LFS objects (one per sha256) and regular files.
    std::vector<std::unique_ptr<object>> objects;
    std::map<std::string, object*> by_oid;
    std::vector<std::unique_ptr<regular>> regulars;
    upload::commit_request cr;
    for (auto& f : files) {
        auto it = have.find(f.path);
        if (it != have.end()) {
            const repo_file& d = it->second;
            bool same = f.lfs ? (d.lfs && d.lfs->sha256 == f.lfs->sha256) : (!d.lfs && d.blob_id == f.blob_id);
            if (same) {
                ++info.files_unchanged;
                continue;
            }
        }
        cr.touched.push_back(f.path);
        if (f.lfs) {
            if (!by_oid.count(f.lfs->sha256)) {
                auto ob = std::make_unique<object>();
                ob->oid = f.lfs->sha256;
                ob->size = f.lfs->size;
                ob->path = f.path;
                by_oid.emplace(ob->oid, ob.get());
                objects.push_back(std::move(ob));
            }
            cr.ops.push_back({upload::payload_op::kind::lfs_file, f.path, {}, f.lfs->sha256, f.lfs->size});
            cr.expected.emplace_back(f.path, f.lfs->sha256);
        } else {
            auto r = std::make_unique<regular>();
            r->path = f.path;
            r->size = f.size;
            r->blob_id = f.blob_id;
            cr.ops.push_back({upload::payload_op::kind::file, f.path, {}, {}, std::nullopt});
            cr.expected.emplace_back(f.path, "f:" + f.blob_id);
            regulars.push_back(std::move(r));
        }
    }
    if (cr.ops.empty()) {
        info.commit.oid = dst_head;
        info.commit.url = dst.settings().endpoint + "/" + std::string(url_prefix(o.type)) + id + "/commit/" + dst_head;
        info.commit.changed = false;
        info.commit.commits = 0;
        prog.begin(commit_progress::stage::done, 0, 0);
        co_return info;
    }

    // The LFS batch: objects the destination already stores drop out.
    prog.begin(commit_progress::stage::checking, files.size(), 0);
    std::map<std::string, object*> pending = by_oid;
    const std::string batch_url =
        dst.settings().endpoint + "/" + std::string(url_prefix(o.type)) + id + ".git/info/lfs/objects/batch";
    for (auto [b, e] : upload::batches(objects.size(), 256)) {
        json::array objs;
        for (std::size_t i = b; i < e; ++i) objs.push_back(json::object{{"oid", objects[i]->oid}, {"size", objects[i]->size}});
        json::object body{{"operation", "upload"},
                          {"transfers", json::array{"basic", "multipart"}},
                          {"objects", std::move(objs)},
                          {"hash_algo", "sha256"},
                          {"ref", json::object{{"name", branch}}}};
        http_request r;
        r.method = "POST";
        r.url = batch_url;
        r.headers = {{"Accept", lfs_json}, {"Content-Type", lfs_json}};
        r.body = json::serialize(body);
        r.idempotent = true;  // asking is safe to repeat
        http_response resp = co_await dst.co_request(std::move(r));
        std::map<std::string, object*> asked;
        for (std::size_t i = b; i < e; ++i) asked.emplace(objects[i]->oid, objects[i].get());
        read_batch(batch_url, resp.body, dst.settings().endpoint, asked);
        for (std::size_t i = b; i < e; ++i)
            if (!asked.count(objects[i]->oid)) pending.erase(objects[i]->oid);
    }
    info.lfs_objects_stored = objects.size() - pending.size();

    // Transfers: every regular file, then every pending object (or its parts), max_workers at once.
    std::vector<unit> units;
    std::uint64_t bytes_total = 0;
    for (auto& r : regulars) {
        units.push_back({nullptr, SIZE_MAX, r.get()});
        bytes_total += r->size;
    }
    for (auto& ob : objects) {
        if (!pending.count(ob->oid)) continue;
        bytes_total += ob->size;
        info.lfs_objects_sent += 1;
        info.lfs_bytes_sent += ob->size;
        if (ob->chunk)
            for (std::size_t p = 0; p < ob->part_hrefs.size(); ++p) units.push_back({ob.get(), p, nullptr});
        else
            units.push_back({ob.get(), SIZE_MAX, nullptr});
    }
    prog.begin(commit_progress::stage::uploading, regulars.size() + pending.size(), bytes_total);
    mirror_run run{src, dst, src_repo, id, o, info.src_commit, prog};
    co_await util::co_for_each(units.size(), o.max_workers,
                               [&](std::size_t i) -> asio::awaitable<void> { co_await run.co_unit(units[i]); });
    info.regular_files_sent = regulars.size();

    // One commit; regular contents go in now, in the order of the ops.
    std::size_t next_regular = 0;
    for (auto& op : cr.ops)
        if (op.what == upload::payload_op::kind::file) op.content = std::move(regulars[next_regular++]->content);
    regulars.clear();
    prog.begin(commit_progress::stage::committing, 0, 0);
    if (o.commit_message.empty()) o.commit_message = "Mirror " + src_repo + "@" + info.src_commit;
    cr.header = {o.commit_message, o.commit_description, std::nullopt};
    cr.revision = branch;
    cr.head_before = dst_head;
    commit_options co;
    co.type = o.type;
    co.revision = branch;
    co.commit_message = o.commit_message;
    co.max_workers = o.max_workers;
    info.commit = co_await upload::co_send_commit(dst, id, co, std::move(cr));
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
