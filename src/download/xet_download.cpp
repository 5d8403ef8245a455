#include "download/xet_download.hpp"

#include "download/chunk_cache.hpp"
#include "download/ordered_hash.hpp"
#include "download/xet_plan.hpp"
#include "blocking_call.hpp"
#include "hub/errors.hpp"
#include "hub/xet_token.hpp"
#include "util/blocking.hpp"
#include "util/for_each.hpp"
#include "util/fs.hpp"
#include "xet/hash.hpp"
#include "xet/xorb.hpp"

#include <boost/system/system_error.hpp>

#include <atomic>
#include <fcntl.h>
#include <mutex>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace hfhub::download {

namespace asio = boost::asio;

bool use_xet(const config& cfg, const file_meta& meta) { return cfg.xet.enabled && meta.xet.has_value(); }

namespace {

[[noreturn]] void fail(client_errc e, const std::string& url, std::string msg) {
    throw hfhub::error(e, {.method = "GET", .url = url, .client_message = std::move(msg)});
}

bool not_served(const hfhub::error& e) {
    return e.diag().status == 404 || e.diag().status == 501;
}

// Everything the workers and the disk jobs share; the jobs own it through a shared_ptr, so one
// still running after a cancellation touches nothing freed.
struct xet_job_state {
    std::string file, url;
    xet_reconstruction plan;
    util::unique_fd fd;
    fs::path temp;
    std::vector<std::vector<xet::hash_and_size>> term_hashes;  // one slot per term, written once
    std::unique_ptr<chunk_cache> cache;
    std::mutex mu;
    std::set<std::string> xorbs_used;
    std::shared_ptr<cache::file_lock> lock;
};

// Decodes one range's bytes (chunks [chunk_start, ...) of its xorb), checks and writes every term
// it holds. Runs on the pool. Returns the bytes written.
std::uint64_t write_range(xet_job_state& s, std::size_t fetch, std::size_t range, std::uint32_t chunk_start,
                 std::uint32_t chunk_end, std::string_view bytes) {
    const auto& f = s.plan.fetches[fetch];
    xet::parse_options po;
    po.expected_chunks = chunk_end - chunk_start;
    auto parsed = xet::parse_chunks(xet::as_bytes(bytes), po);
    std::uint64_t written = 0;
    if (!parsed)
        fail(client_errc::checksum_mismatch, s.url,
             s.file + ": xorb " + f.xorb + " range " + std::to_string(chunk_start) + "-" + std::to_string(chunk_end) +
                 " does not decode (" + parsed.error().message() + "); nothing was kept");
    for (std::size_t ti = 0; ti < s.plan.terms.size(); ++ti) {
        const xet_term& t = s.plan.terms[ti];
        if (t.fetch != fetch || t.range != range) continue;
        std::vector<xet::hash_and_size> hashes;
        std::uint64_t len = 0;
        const std::size_t a = t.start - chunk_start, b = t.end - chunk_start;
        for (std::size_t k = a; k < b; ++k) {
            hashes.push_back({parsed->chunks[k].hash, parsed->chunks[k].size});
            len += parsed->chunks[k].size;
        }
        if (len != t.unpacked_length)
            fail(client_errc::checksum_mismatch, s.url,
                 s.file + ": a term of xorb " + t.xorb + " holds " + std::to_string(len) + " bytes, not " +
                     std::to_string(t.unpacked_length) + "; nothing was kept");
        const std::uint8_t* data = parsed->data.data() + parsed->chunks[a].unpacked_offset;
        util::pwrite_all(s.fd.get(), reinterpret_cast<const char*>(data), static_cast<std::size_t>(len),
                         t.file_offset, s.temp);
        s.term_hashes[ti] = std::move(hashes);
        written += len;
    }
    return written;
}

http_request cas_request(const download_options& o, const std::string& url, const hub::xet_token& tok) {
    http_request r;
    r.url = url;
    r.send_token = false;  // the Hub's token never goes to the CAS
    r.headers.emplace_back("Authorization", "Bearer " + tok.access_token);
    r.proxies = o.proxies;
    r.user_agent_suffix = user_agent_suffix(o);
    return r;
}

// GET /v2/reconstructions/{id}, then /v1 where v2 isn't served; a 401 refreshes the token once.
asio::awaitable<xet_reconstruction> co_reconstruction(client& c, const download_options& o, hub::xet_token_source& tokens,
                                                      const std::string& file_hash, std::string& url_used) {
    hub::xet_token tok = co_await tokens.co_get();
    bool refreshed = false;
    for (const char* version : {"v2", "v1"}) {
        for (;;) {
            url_used = tok.cas_url + "/" + version + "/reconstructions/" + file_hash;
            http_request r = cas_request(o, url_used, tok);
            r.max_body = 256ull << 20;
            http_response resp = co_await c.co_request(r, false);
            if (resp.status == 401 && !refreshed) {
                refreshed = true;
                tok = co_await tokens.co_refresh(tok.access_token);
                continue;
            }
            if ((resp.status == 404 || resp.status == 501) && std::string_view(version) == "v2") break;
            if (resp.status >= 400) throw hub::status_error("GET", resp.url.empty() ? r.url : resp.url, resp);
            std::string why;
            auto plan = parse_reconstruction(resp.body, why);
            if (!plan) fail(client_errc::protocol_error, url_used, why);
            co_return std::move(*plan);
        }
    }
    fail(client_errc::protocol_error, url_used, "unreachable");
}

// The bytes of the given ranges of a fetch, one request (multipart when several).
asio::awaitable<std::vector<std::string>> co_fetch_ranges(client& c, const download_options& o, const xet_fetch& f,
                                                          const std::vector<std::size_t>& ranges) {
    http_request r;
    r.url = f.url;
    r.send_token = false;  // signed URL: no credentials
    r.proxies = o.proxies;
    r.user_agent_suffix = user_agent_suffix(o);
    r.read_timeout = c.settings().timeouts.download;  // HF_HUB_DOWNLOAD_TIMEOUT, as for other downloads
    r.headers.emplace_back("Range", range_header(f, ranges));
    std::uint64_t want = 0;
    for (auto i : ranges) want += f.ranges[i].byte_end - f.ranges[i].byte_start + 1;
    r.max_body = want + 4096 * (ranges.size() + 1);
    http_response resp = co_await c.co_request(r, false);
    std::vector<std::string> out;
    if (resp.status == 401 || resp.status == 403) co_return out;  // expired URL: the caller renews it
    if (resp.status >= 400) throw hub::status_error("GET", resp.url.empty() ? r.url : resp.url, resp);
    auto bad = [&](const std::string& why) { fail(client_errc::protocol_error, f.url, "xorb " + f.xorb + ": " + why); };
    if (resp.status != 206) bad("the xorb answer is not the ranges asked for (status " + std::to_string(resp.status) + ")");
    auto ct = resp.header("Content-Type").value_or("");
    if (ranges.size() == 1 && !std::string_view(ct).starts_with("multipart/")) {
        const auto& rg = f.ranges[ranges[0]];
        if (resp.body.size() != rg.byte_end - rg.byte_start + 1) bad("a range came with the wrong length");
        out.push_back(std::move(resp.body));
        co_return out;
    }
    auto parts = parse_multipart_byteranges(ct, resp.body);
    if (!parts) bad("a malformed multipart/byteranges answer");
    for (auto i : ranges) {
        const auto& rg = f.ranges[i];
        auto it = std::find_if(parts->begin(), parts->end(), [&](auto& p) { return p.first == rg.byte_start && p.last == rg.byte_end; });
        if (it == parts->end()) bad("a range asked for is missing from the answer");
        out.push_back(resp.body.substr(it->offset, it->length));
    }
    co_return out;
}

struct temp_guard {
    fs::path path;
    bool armed = true;
    ~temp_guard() {
        if (armed) ::unlink(path.c_str());
    }
};

asio::awaitable<xet_outcome> co_xet_fetch_impl(client& c, const download_options& o, const std::string& file,
                                               const file_meta& meta, const fs::path& partial, const fs::path& target,
                                               std::shared_ptr<cache::file_lock> lock) {
    const config& cfg = c.settings();
    const asio::any_io_executor pool = detail::blocking_executor(c);
    hub::xet_token_request treq;
    treq.url = hub::absolute_refresh_url(cfg.endpoint, meta.xet->refresh_url);
    treq.token = o.token;
    treq.proxies = o.proxies;
    treq.user_agent_suffix = user_agent_suffix(o);
    hub::xet_token_source tokens(c, treq);

    auto s = std::make_shared<xet_job_state>();
    s->file = file;
    s->lock = lock;
    try {
        s->plan = co_await co_reconstruction(c, o, tokens, meta.xet->file_hash, s->url);
    } catch (const hfhub::error& e) {
        if (not_served(e)) co_return xet_outcome::not_served;
        throw;
    }
    if (s->plan.offset_into_first_range != 0 || s->plan.total != meta.size)
        fail(client_errc::protocol_error, s->url,
             file + ": the reconstruction makes " + std::to_string(s->plan.total) + " bytes, the Hub said " +
                 std::to_string(meta.size));
    s->term_hashes.resize(s->plan.terms.size());
    // No folder configured (a config not made by from_env): no chunk cache.
    s->cache = std::make_unique<chunk_cache>(cfg.xet.chunk_cache_dir,
                                             cfg.xet.chunk_cache_dir.empty() ? 0 : cfg.xet.chunk_cache_size);
    for (auto& t : s->plan.terms) s->xorbs_used.insert(t.xorb);

    std::string base = partial.string();
    if (base.ends_with(".incomplete")) base.resize(base.size() - std::string_view(".incomplete").size());
    s->temp = base + ".hfhub-xet";
    temp_guard guard{s->temp};
    {
        auto open_temp = [s, size = meta.size] {
            fs::create_directories(s->temp.parent_path());
            ::unlink(s->temp.c_str());
            s->fd = util::unique_fd(::open(s->temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
            if (!s->fd) util::throw_errno("open", s->temp);
            if (::ftruncate(s->fd.get(), static_cast<off_t>(size)) != 0) util::throw_errno("allocate", s->temp);
        };
        co_await util::co_blocking(pool, std::move(open_temp));
    }

    std::atomic<std::uint64_t> done{0};
    auto report = [&](std::uint64_t n) {
        auto now = done += n;
        if (o.progress) o.progress({file, now, meta.size});
    };
    // Renewed signed URLs (after a 401/403 on a xorb URL: they expired), shared by the workers,
    // which run on one strand. A worker whose URL another already renewed just retries.
    unsigned renewals = 0;
    auto renew = [&](std::size_t fi, std::string old_url) -> asio::awaitable<void> {
        if (s->plan.fetches[fi].url != old_url) co_return;
        if (++renewals > 4) fail(client_errc::protocol_error, s->url, file + ": the CAS keeps refusing renewed xorb URLs");
        std::string url;
        xet_reconstruction fresh = co_await co_reconstruction(c, o, tokens, meta.xet->file_hash, url);
        // Only the URLs change; the same xorb's same ranges must still be on offer.
        for (auto& f : s->plan.fetches)
            for (auto& nf : fresh.fetches)
                if (nf.xorb == f.xorb && nf.ranges == f.ranges) f.url = nf.url;
    };

    const unsigned workers = std::max(1u, std::min<unsigned>(cfg.xet.max_parallel, o.max_parallel ? o.max_parallel : 1u));
    co_await util::co_for_each(s->plan.fetches.size(), workers, [&](std::size_t fi) -> asio::awaitable<void> {
        std::vector<std::size_t> need = used_ranges(s->plan, fi);
        if (need.empty()) co_return;
        // The chunk cache first.
        std::vector<std::size_t> missing;
        for (auto ri : need) {
            const auto& rg = s->plan.fetches[fi].ranges[ri];
            auto lookup = [s, fi, ri, xorb = s->plan.fetches[fi].xorb, a = rg.chunk_start, b = rg.chunk_end]() -> std::optional<std::uint64_t> {
                auto hit = s->cache->get(xorb, a, b);
                if (!hit) return std::nullopt;
                // A wider entry: its chunks before `a` are skipped by decoding from its start.
                xet::parse_options po;
                po.expected_chunks = hit->chunk_end - hit->chunk_start;
                auto parsed = xet::parse_chunks(xet::as_bytes(hit->bytes), po);
                if (!parsed) {
                    s->cache->remove(xorb);
                    return std::nullopt;
                }
                // Re-serialize only the sub-range wanted: the bytes of chunks [a, b).
                const auto& first = parsed->chunks[a - hit->chunk_start];
                const auto& last = parsed->chunks[b - 1 - hit->chunk_start];
                std::string_view sub(hit->bytes.data() + first.offset, last.offset + last.serialized_size - first.offset);
                return write_range(*s, fi, ri, a, b, sub);
            };
            std::optional<std::uint64_t> hit = co_await util::co_blocking(pool, std::move(lookup));
            if (hit) report(*hit);
            else missing.push_back(ri);
        }
        if (missing.empty()) co_return;
        std::vector<std::string> got;
        for (;;) {
            std::string used = s->plan.fetches[fi].url;
            got = co_await co_fetch_ranges(c, o, s->plan.fetches[fi], missing);
            if (!got.empty()) break;
            co_await renew(fi, std::move(used));
        }
        for (std::size_t k = 0; k < missing.size(); ++k) {
            const std::size_t ri = missing[k];
            const auto rg = s->plan.fetches[fi].ranges[ri];
            auto job = [s, fi, ri, rg, bytes = std::move(got[k])] {
                std::uint64_t n = write_range(*s, fi, ri, rg.chunk_start, rg.chunk_end, bytes);
                // Decoded and written: worth keeping for the next file that shares it.
                s->cache->put(s->plan.fetches[fi].xorb, rg.chunk_start, rg.chunk_end, bytes);
                return n;
            };
            std::uint64_t n = co_await util::co_blocking(pool, std::move(job));
            report(n);
        }
    });

    // The file's Xet hash over every chunk in order, then the etag's SHA-256 over the bytes.
    auto verify = [s, expected = meta.xet->file_hash, meta, check_sha = o.verify]() -> std::string {
        std::vector<xet::hash_and_size> all;
        for (auto& t : s->term_hashes) all.insert(all.end(), t.begin(), t.end());
        std::string got = xet::file_hash(all).hex();
        if (got != expected) return "Xet file hash " + got + ", expected " + expected;
        verifier v(meta, check_sha);
        if (v.active()) {
            std::vector<char> buf(1 << 20);
            for (std::uint64_t at = 0; at < meta.size;) {
                auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), meta.size - at));
                ssize_t r = ::pread(s->fd.get(), buf.data(), want, static_cast<off_t>(at));
                if (r < 0 && errno == EINTR) continue;
                if (r <= 0) util::throw_errno("read", s->temp);
                v.update(buf.data(), static_cast<std::size_t>(r));
                at += static_cast<std::uint64_t>(r);
            }
            auto d = v.digest();
            if (d && *d != meta.etag) return "expected " + meta.etag + ", got " + *d;
        }
        return {};
    };
    std::string mismatch = co_await util::co_blocking(pool, std::move(verify));
    if (!mismatch.empty()) {
        // Bytes a range served wrongly may sit in the chunk cache: none of them is trusted again.
        auto purge = [s] {
            for (auto& x : s->xorbs_used) s->cache->remove(x);
        };
        co_await util::co_blocking(pool, std::move(purge));
        fail(client_errc::checksum_mismatch, s->url, file + ": " + mismatch + "; nothing was kept");
    }
    auto publish = [s, target, partial, base, lock] {
        util::fsync_fd(s->fd.get(), s->temp);
        fs::create_directories(target.parent_path());
        util::rename_durable(s->temp, target);
        // What an earlier LFS-bridge attempt left for this blob is of no use now.
        for (const fs::path& p : {partial, fs::path(base + ".hfhub-parts"), fs::path(base + ".hfhub-parts.map")})
            ::unlink(p.c_str());
    };
    co_await util::co_blocking(pool, std::move(publish));
    guard.armed = false;
    co_return xet_outcome::published;
}

}  // namespace

asio::awaitable<xet_outcome> co_xet_fetch(client& c, const download_options& o, const std::string& file,
                                          const file_meta& meta, const fs::path& partial, const fs::path& target,
                                          std::shared_ptr<cache::file_lock> lock) {
    try {
        co_return co_await co_xet_fetch_impl(c, o, file, meta, partial, target, std::move(lock));
    } catch (const boost::system::system_error& e) {
        if (e.code() != asio::error::operation_aborted) throw;
    }
    throw hfhub::error(client_errc::cancelled, {.method = "GET", .url = meta.url, .client_message = "cancelled"});
}

}  // namespace hfhub::download
