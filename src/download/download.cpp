// hf_hub_download and snapshot_download: the Python client's cache algorithm (protocol
// reference 1.5), with verification, per-blob locks and resumable partial files.
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>

#include "blocking_call.hpp"
#include "cache/layout.hpp"
#include "cache/lock.hpp"
#include "download/fetch.hpp"
#include "download/plan.hpp"
#include "download/xet_download.hpp"
#include "util/blocking.hpp"
#include "util/for_each.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"
#include "boundary.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <limits>

namespace hfhub {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using download::file_meta;

namespace {

offline_policy policy_of(const client& c, const download_options& o) {
    return download::policy_of(o.local_files_only, o.offline, c.settings().offline);
}

fs::path cache_root(const client& c, const download_options& o) {
    if (!o.cache_dir.empty()) return o.cache_dir;
    if (!c.settings().hub_cache.empty()) return c.settings().hub_cache;
    throw hfhub::error(client_errc::invalid_path, {.client_message = "no cache folder: set cache_dir or HF_HUB_CACHE"});
}

[[noreturn]] void not_cached(const std::string& repo_id, const std::string& file, const std::string& why) {
    throw hfhub::error(client_errc::local_entry_not_found,
                       {.client_message = repo_id + (file.empty() ? "" : "/" + file) + " is not in the cache (" + why + ")"});
}

std::string join_file(const download_options& o, const std::string& filename) {
    std::string file = o.subfolder.empty() ? filename : o.subfolder + "/" + filename;
    validate_repo_path(file);
    std::string why;
    return *util::normalize_repo_path(file, why);
}

// Through Xet when it is on and the Hub stores the file there, else (or when the CAS doesn't
// serve it) the LFS bridge or plain resolve download.
asio::awaitable<void> co_fetch_any(client& c, const download_options& o, const std::string& file, const file_meta& meta,
                                   const fs::path& partial, const fs::path& target, std::shared_ptr<cache::file_lock> lock) {
    if (download::use_xet(c.settings(), meta)) {
        download::xet_outcome got = co_await download::co_xet_fetch(c, o, file, meta, partial, target, lock);
        if (got == download::xet_outcome::published) co_return;
    }
    co_await download::co_fetch(c, o, c.settings().endpoint, file, meta, partial, target, std::move(lock));
}

// Places a blob fetched with `meta` into the cache and links it at the commit.
asio::awaitable<fs::path> co_into_cache(client& c, const download_options& o, const cache::repo_cache& rc,
                                        const std::string& file, const file_meta& meta) {
    fs::path pointer = rc.snapshot_file(meta.commit, file);
    fs::path blob = rc.blob(meta.etag);
    // Shared with the disk jobs of the fetch: one still running after a cancellation keeps it.
    auto lock = std::make_shared<cache::file_lock>(co_await cache::file_lock::co_acquire(rc.lock(meta.etag), o.lock_timeout));
    // The link (a copy where symlinks are off) and the cache's tag (fsynced) are made on the pool.
    auto link = [rc, commit = meta.commit, file, blob, sym = o.use_symlinks && !c.settings().disable_symlinks, lock] {
        cache::ensure_cachedir_tag(rc.root());
        cache::link_snapshot_file(rc, commit, file, blob, sym);
    };
    const auto pool = detail::blocking_executor(c);
    if (download::reuse(o.force_download, fs::exists(blob))) {
        co_await util::co_blocking(pool, std::move(link));
        co_return pointer;
    }
    // One partial file per blob, under the blob's lock: a run killed mid-way is resumed by the next.
    fs::path partial = blob;
    partial += ".incomplete";
    co_await co_fetch_any(c, o, file, meta, partial, blob, lock);
    co_await util::co_blocking(pool, std::move(link));
    co_return pointer;
}

// local_dir mode: files in a plain folder, with the Python client's bookkeeping beside them.
struct local_metadata {
    std::string commit, etag;
    double time = 0;
};

fs::path local_meta_path(const fs::path& dir, const std::string& file) {
    return dir / ".cache" / "huggingface" / "download" / (file + ".metadata");
}

std::optional<local_metadata> read_local_meta(const fs::path& dir, const std::string& file) {
    std::ifstream in(local_meta_path(dir, file));
    local_metadata m;
    std::string t;
    if (!std::getline(in, m.commit) || !std::getline(in, m.etag) || !std::getline(in, t)) return std::nullopt;
    try {
        m.time = std::stod(t);
    } catch (...) {
        return std::nullopt;
    }
    // Trusted only while the file has not changed since (Python's rule).
    std::error_code ec;
    auto mtime = fs::last_write_time(dir / file, ec);
    if (ec) return std::nullopt;
    double file_time = std::chrono::duration<double>(std::chrono::file_clock::to_sys(mtime).time_since_epoch()).count();
    if (file_time - 1 > m.time) return std::nullopt;
    return m;
}

void write_local_meta(const fs::path& dir, const std::string& file, const file_meta& meta) {
    fs::path base = dir / ".cache" / "huggingface";
    fs::create_directories(base);
    if (!fs::exists(base / ".gitignore")) util::write_file_atomic(base / ".gitignore", "*");
    if (!fs::exists(base / "CACHEDIR.TAG"))
        util::write_file_atomic(base / "CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n");
    fs::path p = local_meta_path(dir, file);
    fs::create_directories(p.parent_path());
    double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    util::write_file_atomic(p, meta.commit + "\n" + meta.etag + "\n" + std::to_string(now) + "\n");
}

asio::awaitable<fs::path> co_to_local_dir(client& c, const download_options& o, const std::string& repo_id,
                                          const std::string& file) {
    const fs::path& dir = *o.local_dir;
    fs::path path = dir / file;
    auto meta_local = read_local_meta(dir, file);
    std::optional<std::string> meta_commit, meta_etag;
    if (meta_local) {
        meta_commit = meta_local->commit;
        meta_etag = meta_local->etag;
    }
    switch (download::local_dir_before_probe(o.force_download, meta_commit, o.revision, fs::exists(path), policy_of(c, o))) {
    case download::local_dir_step::use_file:
        co_return path;
    case download::local_dir_step::not_cached:
        not_cached(repo_id, file, "offline, and not in local_dir");
    case download::local_dir_step::probe:
        break;
    }
    file_meta meta = co_await download::co_probe(c, o, repo_id, file, nullptr);
    if (download::local_dir_current(o.force_download, meta_etag, meta.etag, fs::exists(path))) {
        write_local_meta(dir, file, meta);
        co_return path;
    }
    fs::path partial = dir / ".cache" / "huggingface" / "download" / (file + "." + meta.etag + ".incomplete");
    auto lock = std::make_shared<cache::file_lock>(
        co_await cache::file_lock::co_acquire(local_meta_path(dir, file).string() + ".lock", o.lock_timeout));
    co_await co_fetch_any(c, o, file, meta, partial, path, lock);
    write_local_meta(dir, file, meta);
    co_return path;
}

// The files of `commit` that the patterns select. The whole listing is checked before any
// download. Its oids name the blobs and say how to verify them: anything but a git or LFS hash
// could be neither.
asio::awaitable<std::vector<repo_file>> co_list_selected(client& c, const std::string& repo_id,
                                                         const snapshot_options& o, const std::string& commit) {
    tree_query tq;
    tq.type = o.type;
    tq.revision = commit;
    tq.token = o.token;
    tq.proxies = o.proxies;
    tq.user_agent_suffix = download::user_agent_suffix(o);
    tq.recursive = true;
    std::vector<repo_file> files;
    for (auto& entry : co_await co_list_repo_tree(c, repo_id, tq))
        if (auto* f = std::get_if<repo_file>(&entry); f && path_matches(f->path, o.allow_patterns, o.ignore_patterns))
            files.push_back(*f);
    for (auto& f : files) {
        validate_repo_path(f.path);
        if (!o.local_dir && !util::is_hex(f.etag(), f.lfs ? 64 : 40))
            throw hfhub::error(client_errc::protocol_error,
                               {.method = "GET", .client_message = "the listing gives " + f.path + " no usable oid"});
        if ((f.lfs ? f.lfs->size : f.size) > download::max_file_size)
            throw hfhub::error(client_errc::protocol_error,
                               {.method = "GET", .client_message = "the listing gives " + f.path + " a size no file can have"});
    }
    co_return files;
}

}  // namespace

static asio::awaitable<fs::path> co_download_file(client& c, std::string repo_id, std::string filename,
                                                  download_options o) {
    validate_repo_id(repo_id);
    std::string file = join_file(o, filename);
    if (o.local_dir) co_return co_await co_to_local_dir(c, o, repo_id, file);

    cache::repo_cache rc(cache_root(c, o), o.type, repo_id);
    const auto policy = policy_of(c, o);

    // A pinned commit already in the cache needs no network.
    const bool pinned = cache::is_commit_hash(o.revision);
    if (download::reuse(o.force_download, pinned && fs::exists(rc.snapshot_file(o.revision, file))))
        co_return rc.snapshot_file(o.revision, file);

    if (download::cache_first(policy, o.force_download)) {
        auto hit = cache::lookup(rc, o.revision, file);
        switch (download::verdict(policy, hit.state)) {
        case download::cache_verdict::use_cache:
            co_return hit.path;
        case download::cache_verdict::known_missing:
            throw hfhub::error(hub_errc::entry_not_found,
                               {.client_message = file + " is known to be missing at " + hit.commit + " (cache)"});
        case download::cache_verdict::not_cached:
            not_cached(repo_id, file, "offline mode");
        case download::cache_verdict::ask_hub:
            break;
        }
    }

    // What the cache would answer if the Hub can't.
    std::optional<fs::path> fallback;
    if (!o.force_download)
        if (auto commit = cache::resolve_cached_revision(rc, o.revision))
            if (fs::path p = rc.snapshot_file(*commit, file); fs::exists(p)) fallback = std::move(p);
    file_meta meta;
    try {
        std::optional<unsigned> retries = download::probe_retries(fallback.has_value());
        meta = co_await download::co_probe(c, o, repo_id, file, &rc, retries);
    } catch (const hfhub::error& e) {
        if (!download::falls_back(e, fallback.has_value())) throw;
        co_return *fallback;
    }

    fs::path pointer = rc.snapshot_file(meta.commit, file);
    // The snapshot folder comes first, as Python makes it: a repo folder without one is a
    // corrupted cache to the other clients' scanners, even if this download is cancelled.
    auto prepare = [rc, rev = o.revision, commit = meta.commit, folder = pointer.parent_path()] {
        fs::create_directories(folder);
        if (rev != commit) cache::write_ref(rc, rev, commit);  // fsyncs
    };
    auto pool = detail::blocking_executor(c);
    co_await util::co_blocking(pool, std::move(prepare));
    if (download::reuse(o.force_download, fs::exists(pointer))) co_return pointer;
    co_return co_await co_into_cache(c, o, rc, file, meta);
}

asio::awaitable<fs::path> co_hf_hub_download(client& c, std::string repo_id, std::string filename,
                                             download_options o) {
    return detail::co_public(co_download_file(c, std::move(repo_id), std::move(filename), std::move(o)));
}

fs::path hf_hub_download(client& c, std::string repo_id, std::string filename, download_options opts) {
    return detail::run_blocking(c, co_hf_hub_download(c, std::move(repo_id), std::move(filename), std::move(opts)));
}

static asio::awaitable<fs::path> co_download_snapshot(client& c, std::string repo_id, snapshot_options o) {
    validate_repo_id(repo_id);
    const auto policy = policy_of(c, o);
    std::optional<cache::repo_cache> rc;
    if (!o.local_dir) rc.emplace(cache_root(c, o), o.type, repo_id);

    auto from_cache = [&]() -> std::optional<fs::path> {
        if (o.local_dir) return fs::exists(*o.local_dir) ? std::optional(*o.local_dir) : std::nullopt;
        auto commit = cache::resolve_cached_revision(*rc, o.revision);
        if (commit && fs::is_directory(rc->snapshot(*commit))) return rc->snapshot(*commit);
        return std::nullopt;
    };
    if (policy == offline_policy::offline) {
        if (auto p = from_cache()) co_return *p;
        not_cached(repo_id, "", "offline mode");
    }

    // One commit for every file: the revision is resolved once.
    repo_query q{o.type, o.revision, o.token, o.proxies, download::user_agent_suffix(o)};
    std::string commit;
    try {
        commit = (co_await co_repo_info(c, repo_id, q)).sha;
    } catch (const hfhub::error& e) {
        if (!download::cache_may_answer(e)) throw;
        if (auto p = from_cache()) co_return *p;
        throw;
    }
    if (!cache::is_commit_hash(commit))
        throw hfhub::error(client_errc::protocol_error, {.method = "GET", .client_message = "repo info lacks a commit sha"});
    if (rc && o.revision != commit) {
        auto write_ref = [r = *rc, rev = o.revision, commit] { cache::write_ref(r, rev, commit); };
        auto pool = detail::blocking_executor(c);
        co_await util::co_blocking(pool, std::move(write_ref));  // fsyncs
    }

    std::vector<repo_file> files = co_await co_list_selected(c, repo_id, o, commit);

    download_options per_file = o;
    per_file.revision = commit;
    per_file.subfolder.clear();
    unsigned workers = static_cast<unsigned>(std::min<std::size_t>(std::max(1u, o.max_workers), std::max<std::size_t>(1, files.size())));
    auto size_of = [](const repo_file& f) { return f.lfs ? f.lfs->size : f.size; };
    // What the cache already has, so progress can count it as done before any transfer.
    std::vector<char> cached(files.size(), 0);
    download_progress listed{{}, 0, 0, download_progress::kind::listed, files.size(), 0};
    for (std::size_t i = 0; i < files.size(); ++i) {
        listed.total += size_of(files[i]);
        if (!o.local_dir && download::reuse(o.force_download, fs::exists(rc->snapshot_file(commit, files[i].path)))) {
            cached[i] = 1;
            ++listed.files_cached;
            listed.done += size_of(files[i]);
        }
    }
    if (o.progress) o.progress(listed);
    // While at least as many big files wait as there are workers, file-level parallelism keeps
    // every worker busy: each big file then streams in one piece and is hashed as it arrives,
    // with no parts to read back. Ranges are for the tail, once fewer big files remain.
    auto big = [&](std::size_t i) { return !cached[i] && size_of(files[i]) >= o.parallel_threshold; };
    std::size_t big_left = 0;
    for (std::size_t i = 0; i < files.size(); ++i) big_left += big(i);
    download_options streamed = per_file;
    streamed.parallel_threshold = std::numeric_limits<std::uint64_t>::max();
    auto finished = [&](const repo_file& f) {
        if (o.progress) o.progress({f.path, size_of(f), size_of(f), download_progress::kind::finished});
    };
    int xet_repo = -1;  // unknown until an LFS file's HEAD says; the workers share one strand
    co_await util::co_for_each(files.size(), workers, [&](std::size_t i) -> asio::awaitable<void> {
        const repo_file& f = files[i];
        // The workers share one strand: this count needs no lock.
        const bool stream = download::stream_whole(big(i), big_left, workers);
        big_left -= big(i);
        const download_options& fo = stream ? streamed : per_file;
        if (o.local_dir) {
            co_await co_to_local_dir(c, fo, repo_id, f.path);
            finished(f);
            co_return;
        }
        if (cached[i]) co_return;
        // The listing already says what the file is: no metadata probe per file.
        file_meta meta;
        meta.commit = commit;
        meta.etag = f.etag();
        meta.size = size_of(f);
        meta.url = download::resolve_url(c.settings().endpoint, o.type, repo_id, commit, f.path);
        // The listing doesn't say whether an LFS file is stored with Xet: its resolve HEAD does.
        // Best effort: any failure leaves the file to the LFS bridge. Once one LFS file of the
        // commit came without Xet signals, the others aren't asked (a repo without Xet).
        if (f.lfs && c.settings().xet.enabled && xet_repo != 0) {
            try {
                file_meta probed = co_await download::co_probe(c, fo, repo_id, f.path, nullptr, 0u);
                if (probed.etag == meta.etag && probed.size == meta.size) meta.xet = std::move(probed.xet);
                xet_repo = meta.xet ? 1 : 0;
            } catch (const hfhub::error& e) {
                if (e.code() == client_errc::cancelled) throw;
            }
        }
        co_await co_into_cache(c, fo, *rc, f.path, meta);
        finished(f);
    });
    if (o.local_dir) co_return *o.local_dir;
    fs::create_directories(rc->snapshot(commit));  // an empty selection still has its folder
    co_return rc->snapshot(commit);
}

asio::awaitable<fs::path> co_snapshot_download(client& c, std::string repo_id, snapshot_options o) {
    return detail::co_public(co_download_snapshot(c, std::move(repo_id), std::move(o)));
}

fs::path snapshot_download(client& c, std::string repo_id, snapshot_options opts) {
    return detail::run_blocking(c, co_snapshot_download(c, std::move(repo_id), std::move(opts)));
}

}  // namespace hfhub
