#include "download/fetch.hpp"

#include "download/ordered_hash.hpp"
#include "download/parts_map.hpp"
#include "download/plan.hpp"
#include "blocking_call.hpp"
#include "http/policy.hpp"
#include "hub/errors.hpp"
#include "util/blocking.hpp"
#include "util/for_each.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <charconv>
#include <exception>
#include <functional>
#include <mutex>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hfhub::download {

namespace asio = boost::asio;

std::string normalize_etag(std::string_view e) {
    while (!e.empty() && (e.front() == 'W' || e.front() == '/')) e.remove_prefix(1);
    if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
    return std::string(e);
}

std::string resolve_url(const std::string& endpoint, repo_type t, const std::string& repo_id,
                        const std::string& revision, const std::string& file) {
    return endpoint + "/" + std::string(url_prefix(t)) + repo_id + "/resolve/" + util::percent_encode(revision, false) +
           "/" + util::percent_encode(file, true);
}

namespace {

std::string origin_of(std::string_view url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return {};
    auto path = url.find('/', scheme_end + 3);
    return std::string(url.substr(0, path));
}

[[noreturn]] void fail(client_errc e, const std::string& url, std::string msg) {
    throw hfhub::error(e, {.method = "GET", .url = url, .client_message = std::move(msg)});
}

// Hashes bytes [from, to) of a file already on disk.
void hash_file_range(int fd, std::uint64_t from, std::uint64_t to, verifier& v, std::vector<char>& buf,
                     const fs::path& path) {
    while (from < to) {
        auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), to - from));
        ssize_t r = ::pread(fd, buf.data(), want, static_cast<off_t>(from));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) util::throw_errno("read", path);
        v.update(buf.data(), static_cast<std::size_t>(r));
        from += static_cast<std::uint64_t>(r);
    }
}

void hash_prefix(int fd, std::uint64_t n, verifier& v, const fs::path& path) {
    std::vector<char> buf(1 << 20);
    hash_file_range(fd, 0, n, v, buf, path);
}

// Appends a record to the parts map for each part the I/O side finished, after syncing the
// parts file's data, on the pool and in batches: one sync covers every part finished before it.
// Records are an optimisation: a failed sync or write only stops them. It holds the blob's lock
// until its last batch is written, so that a call right after a cancellation sees every part.
class parts_recorder : public std::enable_shared_from_this<parts_recorder> {
public:
    parts_recorder(asio::any_io_executor pool, std::shared_ptr<const util::pool_fd> data, util::unique_fd map,
                   parts_header header, std::shared_ptr<cache::file_lock> lock)
        : pool_(std::move(pool)), data_(std::move(data)), map_(std::move(map)), header_(std::move(header)), lock_(std::move(lock)) {}

    void add(std::uint64_t part) {
        std::lock_guard lk(mu_);
        if (failed_) return;
        pending_.push_back(part);
        if (running_) return;
        running_ = true;
        asio::post(pool_, [self = shared_from_this()] { self->drain(); });
    }

private:
    void drain() {
        for (;;) {
            std::vector<std::uint64_t> batch;
            {
                std::lock_guard lk(mu_);
                if (pending_.empty() || failed_) {
                    running_ = false;
                    return;
                }
                batch.swap(pending_);
            }
            // A record may only vouch for bytes that survive a power cut.
            bool ok = ::fdatasync(data_->get()) == 0;
            std::string text;
            for (auto p : batch) text += format_record(header_, p);
            // One append each time: a torn one fails its check and ends the map there.
            ok = ok && ::write(map_.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size());
            if (!ok) {
                std::lock_guard lk(mu_);
                failed_ = true;
            }
        }
    }

    asio::any_io_executor pool_;
    std::shared_ptr<const util::pool_fd> data_;
    util::unique_fd map_;  // O_APPEND
    parts_header header_;
    std::shared_ptr<cache::file_lock> lock_;
    std::mutex mu_;
    std::vector<std::uint64_t> pending_;
    bool running_ = false, failed_ = false;
};

// A parallel part was answered with the whole file: the server doesn't do ranges here.
struct ranges_ignored {};

// Where a 206 answer starts; nullopt when its Content-Range is missing or malformed.
std::optional<std::uint64_t> range_start(const http_response& r) {
    auto cr = r.header("Content-Range");
    if (!cr) return std::nullopt;
    auto range = http::parse_content_range(*cr);
    if (!range) return std::nullopt;
    return range->first;
}

http_request get_request(const client& c, const download_options& o, const std::string& endpoint,
                         const file_meta& meta) {
    http_request r;
    r.url = meta.url;
    r.read_timeout = c.settings().timeouts.download;  // HF_HUB_DOWNLOAD_TIMEOUT, as in Python
    r.token = o.token;
    r.proxies = o.proxies;
    r.user_agent_suffix = user_agent_suffix(o);
    // The token goes to the Hub only, never to a storage or CDN origin.
    r.send_token = origin_of(meta.url) == origin_of(endpoint);
    return r;
}

}  // namespace

std::string user_agent_suffix(const download_options& o) {
    std::string s;
    if (!o.library_name.empty())
        s += "; " + o.library_name + "/" + (o.library_version.empty() ? "None" : o.library_version);
    if (!o.user_agent.empty()) s += "; " + o.user_agent;
    return s;
}

asio::awaitable<file_meta> co_probe(client& c, const download_options& o, const std::string& repo_id,
                                    const std::string& file, const cache::repo_cache* cache,
                                    std::optional<unsigned> max_retries) {
    const auto& endpoint = c.settings().endpoint;
    http_request r;
    r.method = "HEAD";
    r.url = resolve_url(endpoint, o.type, repo_id, o.revision, file);
    r.redirects = follow_redirects::relative_only;
    r.headers = {{"Accept-Encoding", "identity"}};
    r.read_timeout = o.etag_timeout.value_or(c.settings().timeouts.etag);
    r.token = o.token;
    r.proxies = o.proxies;
    r.user_agent_suffix = user_agent_suffix(o);
    r.max_retries = max_retries;
    http_response resp = co_await c.co_request(r, false);
    auto header = [&](std::string_view n) { return std::string(resp.header(n).value_or("")); };
    if (resp.status >= 400) {
        auto ec = hub::map_status(resp.status, header("X-Error-Code"), header("X-Error-Message"));
        if (ec == hub_errc::entry_not_found && cache && cache::is_commit_hash(header("X-Repo-Commit"))) {
            std::string commit = header("X-Repo-Commit");
            cache::mark_missing(*cache, commit, file);
            if (o.revision != commit) cache::write_ref(*cache, o.revision, commit);
        }
        throw hfhub::error(ec, {resp.status, "HEAD", r.url, header("X-Request-Id"),
                                http::server_message(header("X-Error-Message"), header("Content-Type"), resp.body)});
    }
    file_meta m;
    m.commit = header("X-Repo-Commit");
    m.etag = normalize_etag(resp.header("X-Linked-Etag").value_or(resp.header("ETag").value_or("")));
    bool redirect = resp.status >= 300 && resp.status < 400;
    std::string size = resp.header("X-Linked-Size")
                           ? header("X-Linked-Size")
                           : (redirect ? std::string() : header("Content-Length"));
    m.url = redirect && resp.header("Location") ? header("Location") : r.url;
    if (!cache::is_commit_hash(m.commit) || m.etag.empty() || size.empty() ||
        size.find_first_not_of("0123456789") != std::string::npos || size.size() > 19)
        throw hfhub::error(client_errc::protocol_error,
                           {.status = resp.status, .method = "HEAD", .url = r.url, .request_id = header("X-Request-Id"),
                            .client_message = "the Hub's answer lacks X-Repo-Commit, an ETag or a size"});
    // An etag names a cache file: refuse anything that could escape blobs/.
    if (m.etag.find_first_of("/\\") != std::string::npos || m.etag == "." || m.etag == ".." || m.etag.size() > 128)
        throw hfhub::error(client_errc::protocol_error, {.status = resp.status, .method = "HEAD", .url = r.url, .client_message = "unusable ETag"});
    m.xet = read_xet_signal(resp.header("X-Xet-Hash"), resp.header("Link"), resp.header("X-Xet-Refresh-Route"));
    m.size = std::stoull(size);
    if (m.size > max_file_size)
        throw hfhub::error(client_errc::protocol_error, {.status = resp.status, .method = "HEAD", .url = r.url, .client_message = "size " + size + " is no file's"});
    co_return m;
}

namespace {

// The files one blob's download may use: the sequential prefix (shared with Python and JS), the
// parallel parts and their map (hfhub's own), and where the finished file goes.
struct fetch_paths {
    fs::path partial, parts, map, target;
};

fetch_paths paths_for(const fs::path& partial, const fs::path& target) {
    fetch_paths p;
    p.partial = partial;
    std::string base = partial.string();
    if (base.ends_with(".incomplete")) base.resize(base.size() - std::string_view(".incomplete").size());
    p.parts = base + ".hfhub-parts";
    p.map = base + ".hfhub-parts.map";
    p.target = target;
    return p;
}

void unlink_if_there(const fs::path& p) {
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) util::throw_errno("remove", p);
}

std::uint64_t size_or_zero(const fs::path& p) {
    struct stat st{};
    return ::stat(p.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

util::unique_fd open_or_throw(const fs::path& p, int flags) {
    util::unique_fd fd(::open(p.c_str(), flags | O_CLOEXEC, 0644));
    if (!fd) util::throw_errno("open", p);
    return fd;
}

// What a fetch starts from.
struct start_point {
    bool parallel = false;
    std::shared_ptr<util::pool_fd> file;  // the .incomplete prefix, or the parts file
    bool resumed = false;                 // bytes of an earlier run are in it
    // Sequential: how much of the prefix is there, hashed.
    std::uint64_t have = 0;
    std::optional<verifier> v;
    // Parallel: the map's header and the parts it vouches for; where to append records.
    parts_header header;
    std::vector<bool> done;
    util::unique_fd map;
};

// The valid map of a parts file and the file, opened; nullopt when either is missing, torn,
// or they don't belong together.
std::optional<parts_map> load_parts(const fetch_paths& p, const file_meta& meta, util::unique_fd& fd) {
    auto text = util::read_file(p.map);
    if (!text) return std::nullopt;
    auto m = parse_parts_map(*text, meta.etag, meta.size);
    if (!m) return std::nullopt;
    util::unique_fd f(::open(p.parts.c_str(), O_RDWR | O_CLOEXEC));
    if (!f) return std::nullopt;
    auto id = identify(f.get());
    if (!id || !(*id == m->header.file)) return std::nullopt;
    fd = std::move(f);
    return m;
}

// Looks at what earlier runs left and decides how to go on (runs on the pool: it may hash a
// prefix, delete or create big files, and sync the map). `fresh` drops all of it.
start_point prepare(const asio::any_io_executor& pool, const fetch_paths& p, const file_meta& meta,
                    bool want_parallel, bool fresh, bool verify, std::uint64_t chunk) {
    fs::create_directories(p.partial.parent_path());
    if (fresh)
        for (auto* f : {&p.partial, &p.map, &p.parts}) unlink_if_there(*f);
    std::uint64_t prefix = size_or_zero(p.partial);
    start_point s;
    util::unique_fd parts_fd;
    std::optional<parts_map> map;
    if (want_parallel) map = load_parts(p, meta, parts_fd);
    std::uint64_t in_parts = 0;
    if (map)
        for (std::size_t i = 0; i < map->done.size(); ++i)
            if (map->done[i]) in_parts += std::min<std::uint64_t>(meta.size, (i + 1) * map->header.chunk) - i * map->header.chunk;
    const start_choice how = choose_start(want_parallel, prefix, meta.size, in_parts);
    if (how.drop_prefix) {
        unlink_if_there(p.partial);
        prefix = 0;
    }
    if (how.parallel) {
        s.parallel = true;
        if (map) {
            s.header = map->header;
            s.done = std::move(map->done);
            s.resumed = in_parts > 0;
        } else {
            // Start over. The old map goes first: no crash can leave it vouching for the new file.
            unlink_if_there(p.map);
            unlink_if_there(p.parts);
            parts_fd = open_or_throw(p.parts, O_RDWR | O_CREAT | O_EXCL);
            if (::ftruncate(parts_fd.get(), static_cast<off_t>(meta.size)) != 0) util::throw_errno("allocate", p.parts);
            auto id = identify(parts_fd.get());
            if (!id) util::throw_errno("stat", p.parts);
            s.header = {meta.etag, meta.size, chunk, *id, util::random_hex(8)};
            s.done.assign(static_cast<std::size_t>(part_count(meta.size, chunk)), false);
            util::write_file_atomic(p.map, format_header(s.header));
        }
        s.map = util::unique_fd(::open(p.map.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));  // none: no records
        s.file = std::make_shared<util::pool_fd>(parts_fd.release(), pool);
        return s;
    }
    auto fd = open_or_throw(p.partial, O_RDWR | O_CREAT);
    s.v.emplace(meta, verify);
    if (prefix) hash_prefix(fd.get(), prefix, *s.v, p.partial);
    s.have = prefix;
    s.resumed = prefix > 0;
    s.file = std::make_shared<util::pool_fd>(fd.release(), pool);
    return s;
}

// Replaces `path` with an empty file, without waiting on the disk: the old one is unlinked (its
// blocks are freed when its descriptor is closed, on the pool) rather than truncated.
std::shared_ptr<util::pool_fd> replace_with_empty(const asio::any_io_executor& pool, const fs::path& path) {
    unlink_if_there(path);
    return std::make_shared<util::pool_fd>(open_or_throw(path, O_RDWR | O_CREAT | O_EXCL).release(), pool);
}

// A fetch's result: the digest of the bytes (when verifying), or the news that ranges don't work.
struct fetched {
    std::optional<std::string> digest;
    bool ranges_ignored = false;
};

using reporter = std::function<void(std::uint64_t)>;

asio::awaitable<fetched> co_sequential(client& c, const download_options& o, const std::string& endpoint,
                                       const file_meta& meta, const fetch_paths& p, start_point& s,
                                       const reporter& report, const std::function<void()>& reset_progress) {
    verifier& v = *s.v;
    std::uint64_t pos = s.have;
    if (pos < meta.size) {
        http_request r = get_request(c, o, endpoint, meta);
        if (pos) r.headers.emplace_back("Range", "bytes=" + std::to_string(pos) + "-");
        // The server sends the whole body again: what we had goes, and a fresh prefix starts.
        auto start_over = [&] {
            s.file = replace_with_empty(detail::blocking_executor(c), p.partial);
            v.reset(meta, o.verify);
            reset_progress();
            pos = 0;
        };
        body_sink sink;
        sink.head = [&](const http_response& resp) {
            std::uint64_t start = 0;
            if (resp.status == 206) {
                auto at = range_start(resp);
                if (!at) fail(client_errc::protocol_error, meta.url, "a 206 answer without a valid Content-Range");
                start = *at;
            }
            if (start != pos) {
                if (start != 0) fail(client_errc::protocol_error, meta.url, "the server resumed at the wrong offset");
                start_over();
            }
        };
        sink.write = [&](std::span<const char> b) {
            if (pos + b.size() > meta.size) fail(client_errc::protocol_error, meta.url, "more bytes than announced");
            util::pwrite_all(s.file->get(), b.data(), b.size(), pos, p.partial);
            v.update(b.data(), b.size());
            pos += b.size();
            report(b.size());
        };
        sink.restart = start_over;
        co_await c.co_stream(std::move(r), std::move(sink));
    }
    if (pos != meta.size)
        fail(client_errc::protocol_error, meta.url, "got " + std::to_string(pos) + " bytes of " + std::to_string(meta.size));
    fetched out;
    out.digest = v.digest();
    co_return out;
}

// Fetches the parts the map doesn't have, into the parts file.
asio::awaitable<fetched> co_parallel(client& c, const download_options& o, const std::string& endpoint,
                                     const file_meta& meta, const fetch_paths& p, start_point& s,
                                     const reporter& report, const std::shared_ptr<cache::file_lock>& lock) {
    const std::uint64_t chunk = s.header.chunk;
    std::shared_ptr<const util::pool_fd> file = s.file;
    std::shared_ptr<ordered_hash> hash;
    if (verifier v(meta, o.verify); v.active())
        hash = make_ordered_hash(detail::blocking_executor(c), std::move(v), file, p.parts, meta.size, chunk, s.done);
    std::shared_ptr<parts_recorder> recorder;
    if (s.map) recorder = std::make_shared<parts_recorder>(detail::blocking_executor(c), file, std::move(s.map), s.header, lock);
    std::vector<std::uint64_t> missing;
    for (std::size_t i = 0; i < s.done.size(); ++i)
        if (!s.done[i]) missing.push_back(i);
        else report(std::min<std::uint64_t>(meta.size, (i + 1) * chunk) - i * chunk);

    // Leaving early, the hasher stops now instead of waiting for parts that won't come.
    struct stop_on_exit {
        std::shared_ptr<ordered_hash>& h;
        ~stop_on_exit() {
            if (h) h->abort();
        }
    } stop{hash};
    try {
        unsigned workers = static_cast<unsigned>(std::min<std::uint64_t>(o.max_parallel, std::max<std::size_t>(1, missing.size())));
        co_await util::co_for_each(missing.size(), workers, [&](std::size_t k) -> asio::awaitable<void> {
            const std::uint64_t i = missing[k];
            std::uint64_t first = i * chunk;
            std::uint64_t last = std::min(meta.size, first + chunk) - 1;
            std::uint64_t pos = first;
            http_request r = get_request(c, o, endpoint, meta);
            r.headers.emplace_back("Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last));
            body_sink sink;
            sink.head = [&](const http_response& resp) {
                if (resp.status == 200) throw ranges_ignored{};
                if (resp.status != 206 || range_start(resp) != std::optional<std::uint64_t>(pos))
                    fail(client_errc::protocol_error, meta.url, "a part's answer is not the range asked for");
            };
            sink.write = [&](std::span<const char> b) {
                if (pos + b.size() > last + 1) fail(client_errc::protocol_error, meta.url, "a part overran its range");
                util::pwrite_all(file->get(), b.data(), b.size(), pos, p.parts);
                pos += b.size();
                if (hash) hash->wrote(i, pos);
                // Its bytes are all in the file: worth keeping even if this call ends right now.
                if (recorder && pos == last + 1) recorder->add(i);
                report(b.size());
            };
            co_await c.co_stream(std::move(r), std::move(sink));
            if (pos != last + 1) fail(client_errc::protocol_error, meta.url, "a part came short");
        });
    } catch (const ranges_ignored&) {
        fetched fall_back;
        fall_back.ranges_ignored = true;
        co_return fall_back;
    }
    fetched out;
    if (hash) {
        // The hasher may still be catching up: wait for it on the pool, not here.
        auto finish = [hash] { return hash->finish(); };
        auto pool = detail::blocking_executor(c);
        out.digest = co_await util::co_blocking(pool, std::move(finish));
    }
    co_return out;
}

// Looks at what earlier runs left, on the pool unless there is nothing to look at.
asio::awaitable<start_point> co_start(client& c, const download_options& o, const file_meta& meta,
                                      const fetch_paths& p, bool ranges, bool fresh,
                                      const std::shared_ptr<cache::file_lock>& lock) {
    const asio::any_io_executor pool = detail::blocking_executor(c);
    // Nothing on disk yet for a small file: no need to hop to the pool.
    if (!ranges && !fresh && size_or_zero(p.partial) == 0) co_return prepare(pool, p, meta, false, false, o.verify, o.chunk_size);
    auto job = [pool, p, meta, ranges, fresh, verify = o.verify, chunk = o.chunk_size, lock] {
        return prepare(pool, p, meta, ranges, fresh, verify, chunk);
    };
    start_point s = co_await util::co_blocking(pool, std::move(job));
    co_return s;
}

// Durable before it is published under its name; then the name itself made durable. What else
// earlier runs left for this blob is of no use afterwards.
asio::awaitable<void> co_publish(client& c, const fetch_paths& p, const start_point& s,
                                 const std::shared_ptr<cache::file_lock>& lock) {
    fs::path from = s.parallel ? p.parts : p.partial;
    auto publish = [file = s.file, from, p, lock] {
        util::fsync_fd(file->get(), from);
        fs::create_directories(p.target.parent_path());
        util::rename_durable(from, p.target);
        for (auto* f : {&p.map, &p.parts, &p.partial})
            if (*f != from) unlink_if_there(*f);
    };
    const asio::any_io_executor pool = detail::blocking_executor(c);
    if (util::may_block_on_sync(s.file->get())) co_await util::co_blocking(pool, std::move(publish));
    else publish();
}

asio::awaitable<void> co_fetch_rounds(client& c, const download_options& o, const std::string& endpoint,
                                      const std::string& file, const file_meta& meta, const fetch_paths& p,
                                      std::shared_ptr<cache::file_lock> lock) {
    const asio::any_io_executor pool = detail::blocking_executor(c);
    bool ranges = want_parallel(meta.size, o.parallel_threshold, o.max_parallel, o.chunk_size);
    bool fresh = o.force_download;
    std::atomic<std::uint64_t> done{0};
    reporter report = [&](std::uint64_t n) {
        auto now = done += n;
        if (o.progress) o.progress({file, now, meta.size});
    };
    auto reset_progress = [&] { done = 0; };
    for (;;) {
        reset_progress();
        start_point s = co_await co_start(c, o, meta, p, ranges, fresh, lock);
        if (!s.parallel && s.have) report(s.have);
        // Not one conditional expression over two co_awaits: g++ 12 destroys its result twice.
        fetched got;
        if (s.parallel) got = co_await co_parallel(c, o, endpoint, meta, p, s, report, lock);
        else got = co_await co_sequential(c, o, endpoint, meta, p, s, report, reset_progress);
        const round_end next = after_round(got.ranges_ignored, got.digest, meta.etag, s.resumed, fresh);
        if (next == round_end::publish) {
            co_await co_publish(c, p, s, lock);
            co_return;
        }
        // Whatever is dropped goes on the pool (deleting a big file waits on the disk). Bytes
        // that are not the file are never kept.
        std::vector<fs::path> which{p.map, p.parts};
        if (next != round_end::again_sequential) which.push_back(p.partial);
        s.file.reset();
        auto drop = [which, lock] {
            for (auto& f : which) unlink_if_there(f);
        };
        co_await util::co_blocking(pool, std::move(drop));
        if (next == round_end::checksum_mismatch)
            fail(client_errc::checksum_mismatch, meta.url,
                 file + ": expected " + meta.etag + ", got " + *got.digest + "; nothing was kept");
        // The server (or a proxy) answers ranges with the whole file: take it once, in one
        // stream. Or bytes an earlier run (or another client) left were wrong: once more, from nothing.
        if (next == round_end::again_sequential) ranges = false;
        else fresh = true;
    }
}

}  // namespace

asio::awaitable<void> co_fetch(client& c, const download_options& o, const std::string& endpoint,
                               const std::string& file, const file_meta& meta, const fs::path& partial,
                               const fs::path& target, std::shared_ptr<cache::file_lock> lock) {
    // A cancellation can land on any co_await here, which then throws asio's own error.
    try {
        co_await co_fetch_rounds(c, o, endpoint, file, meta, paths_for(partial, target), std::move(lock));
        co_return;
    } catch (const boost::system::system_error& e) {
        if (e.code() != asio::error::operation_aborted) throw;
    }
    throw hfhub::error(client_errc::cancelled, {.method = "GET", .url = meta.url, .client_message = "cancelled"});
}

}  // namespace hfhub::download
