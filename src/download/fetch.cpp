#include "download/fetch.hpp"

#include "http/policy.hpp"
#include "util/blocking.hpp"
#include "util/for_each.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/paths.hpp"
#include "util/read_ahead.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
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
    throw hfhub::error(e, {0, "GET", url, "", std::move(msg)});
}

// The verifier the etag calls for: sha256 for 64 hex, git blob SHA-1 for 40 hex.
std::optional<std::string> expected_kind(const std::string& etag) {
    if (util::is_hex(etag, 64)) return "sha256";
    if (util::is_hex(etag, 40)) return "sha1";
    return std::nullopt;
}

struct verifier {
    std::optional<util::hasher> sha256;
    std::optional<util::git_blob_hasher> sha1;
    verifier(const file_meta& m, bool on) { reset(m, on); }
    void reset(const file_meta& m, bool on) {
        sha256.reset();
        sha1.reset();
        if (!on) return;
        auto k = expected_kind(m.etag);
        if (k == "sha256") sha256.emplace(util::hash_algo::sha256);
        if (k == "sha1") sha1.emplace(m.size);
    }
    void update(const char* p, std::size_t n) {
        if (sha256) sha256->update(p, n);
        if (sha1) sha1->update(p, n);
    }
    std::optional<std::string> digest() {
        if (sha256) return sha256->hex_digest();
        if (sha1) return sha1->hex_digest();
        return std::nullopt;
    }
};


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

// Hashes the parts of a parallel download in file order while they arrive, on a thread of its
// own: the I/O side only records how far each part has got, and the hasher reads bytes back
// (from the page cache) as soon as they are contiguous from its cursor. Verifying then costs one
// SHA-256 pass overlapped with the transfer instead of a second pass after it, and never holds
// up the connections, even when the client runs on a single thread.
class ordered_hash {
public:
    ordered_hash(verifier& v, int fd, const fs::path& path, std::uint64_t size, std::uint64_t chunk)
        : v_(v), fd_(fd), path_(path), size_(size), chunk_(chunk), reached_((size + chunk - 1) / chunk) {
        for (std::size_t i = 0; i < reached_.size(); ++i) reached_[i] = i * chunk;
        thread_ = std::thread([this] { run(); });
    }
    ordered_hash(const ordered_hash&) = delete;
    ordered_hash& operator=(const ordered_hash&) = delete;
    ~ordered_hash() {
        if (!thread_.joinable()) return;
        {
            std::lock_guard lk(mu_);
            abort_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }

    // Part `part` now has its bytes up to `end` on disk.
    void wrote(std::uint64_t part, std::uint64_t end) {
        {
            std::lock_guard lk(mu_);
            reached_[part] = end;
        }
        cv_.notify_one();
    }

    // Every part is in: waits for the hasher to reach the end; rethrows its read error.
    void finish() {
        {
            std::lock_guard lk(mu_);
            all_in_ = true;
        }
        cv_.notify_one();
        thread_.join();
        if (error_) std::rethrow_exception(error_);
    }

private:
    void run() {
        // Two threads: a helper reads what has arrived while this one hashes what it read
        // before, so the page-cache copy is off the hashing path (the longest one here).
        std::uint64_t read_pos = 0;
        auto read = [&](char* p, std::size_t n) -> ssize_t {
            if (read_pos >= size_) return 0;
            std::uint64_t to;
            {
                std::unique_lock lk(mu_);
                cv_.wait(lk, [&] { return abort_ || all_in_ || reached_[read_pos / chunk_] > read_pos; });
                if (abort_) {
                    errno = ECANCELED;
                    return -1;
                }
                to = all_in_ ? size_ : reached_[read_pos / chunk_];
            }
            auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n, to - read_pos));
            ssize_t r;
            do r = ::pread(fd_, p, want, static_cast<off_t>(read_pos));
            while (r < 0 && errno == EINTR);
            if (r == 0) errno = EIO;  // the file is shorter than what was written to it
            if (r <= 0) return -1;
            read_pos += static_cast<std::uint64_t>(r);
            return r;
        };
        try {
            auto r = util::read_ahead(read, 1u << 20, size_, [&](const char* p, std::size_t n) { v_.update(p, n); });
            if (r.bytes != size_) {
                std::lock_guard lk(mu_);
                if (!abort_)
                    throw std::system_error(r.error ? r.error : EIO, std::generic_category(), "read " + path_.string());
            }
        } catch (...) {
            error_ = std::current_exception();
        }
    }

    verifier& v_;
    int fd_;
    const fs::path& path_;
    std::uint64_t size_, chunk_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::uint64_t> reached_;  // per part: the end of its bytes on disk
    bool all_in_ = false, abort_ = false;
    std::exception_ptr error_;
    std::thread thread_;  // last: started once the rest is ready
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
        auto ec = http::map_status(resp.status, header("X-Error-Code"), header("X-Error-Message"));
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
                           {resp.status, "HEAD", r.url, header("X-Request-Id"),
                            "the Hub's answer lacks X-Repo-Commit, an ETag or a size"});
    // An etag names a cache file: refuse anything that could escape blobs/.
    if (m.etag.find_first_of("/\\") != std::string::npos || m.etag == "." || m.etag == ".." || m.etag.size() > 128)
        throw hfhub::error(client_errc::protocol_error, {resp.status, "HEAD", r.url, "", "unusable ETag"});
    m.size = std::stoull(size);
    if (m.size > max_file_size)
        throw hfhub::error(client_errc::protocol_error, {resp.status, "HEAD", r.url, "", "size " + size + " is no file's"});
    co_return m;
}

asio::awaitable<void> co_fetch(client& c, const download_options& o, const std::string& endpoint,
                               const std::string& file, const file_meta& meta, const fs::path& partial,
                               const fs::path& target) {
    fs::create_directories(partial.parent_path());
    util::unique_fd fd(::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) util::throw_errno("open", partial);
    struct stat st{};
    ::fstat(fd.get(), &st);
    std::uint64_t have = static_cast<std::uint64_t>(st.st_size);
    bool parallel = meta.size >= o.parallel_threshold && o.max_parallel > 1 && o.chunk_size > 0;
    if (o.force_download || have > meta.size || parallel) {
        // Parallel parts don't resume across runs: start clean.
        if (::ftruncate(fd.get(), 0) != 0) util::throw_errno("truncate", partial);
        have = 0;
    }
    verifier v(meta, o.verify);
    std::atomic<std::uint64_t> done{0};
    auto report = [&](std::uint64_t n) {
        auto now = done += n;
        if (o.progress) o.progress({file, now, meta.size});
    };

    if (parallel) {
        bool fall_back = false;
        try {
            if (::ftruncate(fd.get(), static_cast<off_t>(meta.size)) != 0) util::throw_errno("allocate", partial);
            const std::uint64_t parts = (meta.size + o.chunk_size - 1) / o.chunk_size;
            std::optional<ordered_hash> hash;
            if (v.sha256 || v.sha1) hash.emplace(v, fd.get(), partial, meta.size, o.chunk_size);
            unsigned workers = static_cast<unsigned>(std::min<std::uint64_t>(o.max_parallel, parts));
            co_await util::co_for_each(static_cast<std::size_t>(parts), workers, [&](std::size_t i) -> asio::awaitable<void> {
                std::uint64_t first = i * o.chunk_size;
                std::uint64_t last = std::min(meta.size, first + o.chunk_size) - 1;
                std::uint64_t pos = first;
                http_request r = get_request(c, o, endpoint, meta);
                r.headers.emplace_back("Range", "bytes=" + std::to_string(first) + "-" + std::to_string(last));
                body_sink sink;
                sink.head = [&](const http_response& resp) {
                    if (resp.status == 200) throw ranges_ignored{};
                    if (resp.status != 206 || range_start(resp) != std::optional<std::uint64_t>(pos))
                        fail(client_errc::protocol_error, meta.url, "a part's answer is not the range asked for");
                };
                sink.write = [&, i](std::span<const char> s) {
                    if (pos + s.size() > last + 1) fail(client_errc::protocol_error, meta.url, "a part overran its range");
                    util::pwrite_all(fd.get(), s.data(), s.size(), pos, partial);
                    pos += s.size();
                    if (hash) hash->wrote(i, pos);
                    report(s.size());
                };
                co_await c.co_stream(std::move(r), std::move(sink));
                if (pos != last + 1) fail(client_errc::protocol_error, meta.url, "a part came short");
            });
            if (hash) hash->finish();
        } catch (const ranges_ignored&) {
            fall_back = true;
        }
        if (fall_back) {
            // The server answers ranges with the whole file: take it once, in one stream.
            if (::ftruncate(fd.get(), 0) != 0) util::throw_errno("truncate", partial);
            v.reset(meta, o.verify);
            done = 0;
            parallel = false;
        }
    }

    if (!parallel) {
        if (have) hash_prefix(fd.get(), have, v, partial);
        done = have;
        std::uint64_t pos = have;
        http_request r = get_request(c, o, endpoint, meta);
        if (have == meta.size) {
            // Complete already (a previous run died before the rename): nothing to fetch.
        } else {
            if (have) r.headers.emplace_back("Range", "bytes=" + std::to_string(have) + "-");
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
                    // The whole body again: drop what we had.
                    if (::ftruncate(fd.get(), 0) != 0) util::throw_errno("truncate", partial);
                    v.reset(meta, o.verify);
                    done = 0;
                    pos = 0;
                }
            };
            sink.write = [&](std::span<const char> s) {
                if (pos + s.size() > meta.size) fail(client_errc::protocol_error, meta.url, "more bytes than announced");
                util::pwrite_all(fd.get(), s.data(), s.size(), pos, partial);
                v.update(s.data(), s.size());
                pos += s.size();
                report(s.size());
            };
            sink.restart = [&] {
                if (::ftruncate(fd.get(), 0) != 0) util::throw_errno("truncate", partial);
                v.reset(meta, o.verify);
                done = 0;
                pos = 0;
            };
            co_await c.co_stream(std::move(r), std::move(sink));
        }
        if (pos != meta.size)
            fail(client_errc::protocol_error, meta.url,
                 "got " + std::to_string(pos) + " bytes of " + std::to_string(meta.size));
    }

    if (auto got = v.digest(); got && *got != meta.etag) {
        fd = util::unique_fd();
        std::error_code ec;
        fs::remove(partial, ec);  // never keep bytes that are not the file
        fail(client_errc::checksum_mismatch, meta.url,
             file + ": expected " + meta.etag + ", got " + *got + "; nothing was kept");
    }
    // Durable before it is published under its name; then the name itself made durable.
    auto publish = [&] {
        util::fsync_fd(fd.get(), partial);
        fd = util::unique_fd();
        fs::create_directories(target.parent_path());
        util::rename_durable(partial, target);
    };
    if (util::may_block_on_sync(fd.get())) co_await util::co_blocking(publish);
    else publish();
}

}  // namespace hfhub::download
