#include "download/xet_download.hpp"

#include "download/chunk_cache.hpp"
#include "download/ordered_hash.hpp"
#include "download/xet_plan.hpp"
#include "blocking_call.hpp"
#include "http/policy.hpp"
#include "hub/errors.hpp"
#include "hub/xet_token.hpp"
#include "util/blocking.hpp"
#include "util/for_each.hpp"
#include "util/fs.hpp"
#include "xet/hash.hpp"
#include "xet/xorb.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include <atomic>
#include <functional>
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
    std::shared_ptr<util::pool_fd> fd;
    fs::path temp;
    std::vector<std::vector<xet::hash_and_size>> term_hashes;  // one slot per term, written once
    std::vector<std::vector<std::vector<std::size_t>>> range_terms;  // per fetch, per range: its terms
    std::unique_ptr<chunk_cache> cache;
    std::shared_ptr<ordered_hash> sha;  // the etag's hash, fed in file order as terms land
    std::mutex mu;
    std::mutex write_mu;  // the strands' writes to the private file
    std::set<std::string> xorbs_used;
    std::shared_ptr<cache::file_lock> lock;

    // A term's bytes are all in the file.
    void term_written(std::size_t ti) {
        const xet_term& t = plan.terms[ti];
        if (sha) sha->wrote(ti, t.file_offset + t.unpacked_length);
    }
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
    for (std::size_t ti : s.range_terms[fetch][range]) {
        const xet_term& t = s.plan.terms[ti];
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
        util::pwrite_all(s.fd->get(), reinterpret_cast<const char*>(data), static_cast<std::size_t>(len),
                         t.file_offset, s.temp);
        s.term_hashes[ti] = std::move(hashes);
        s.term_written(ti);
        written += len;
    }
    return written;
}

// Decodes one range as its bytes stream in. The I/O thread only cuts the stream into whole
// chunks (their headers give the sizes) and hands batches of them to a strand of the blocking
// pool, which decompresses, hashes and writes them in order: BLAKE3 and the copies then run
// beside the transfer instead of on the thread that reads it. Memory stays within the range's
// bytes not yet processed.
class range_decoder : public std::enable_shared_from_this<range_decoder> {
public:
    range_decoder(std::shared_ptr<xet_job_state> s, const asio::any_io_executor& pool, std::size_t fi, std::size_t ri,
                  bool keep_raw)
        : owner_(std::move(s)), s_(*owner_), strand_(asio::make_strand(pool)), fi_(fi), ri_(ri),
          rg_(s_.plan.fetches[fi].ranges[ri]), keep_raw_(keep_raw) {
        clear_io();
        clear_decoded();
    }

    // Back to nothing received (the server restarts the body, or the URL is renewed). What the
    // strand still holds of the abandoned attempt runs first, then is forgotten.
    void reset() {
        clear_io();
        post_batch();
        asio::post(strand_, [self = shared_from_this()] { self->clear_decoded(); });
    }

    std::uint64_t received() const { return received_; }
    std::uint64_t length() const { return rg_.byte_end - rg_.byte_start + 1; }
    // The range's bytes as served, when kept for the chunk cache.
    std::string_view raw() const { return raw_; }

    // Returns the file bytes the whole chunks in `in` will write (for progress).
    std::uint64_t feed(std::span<const char> in) {
        if (in.size() > length() - received_) bad("more bytes than the range holds");
        received_ += in.size();
        if (keep_raw_) raw_.append(in.data(), in.size());
        std::uint64_t wrote = 0;
        auto bytes = xet::as_bytes(std::string_view(in.data(), in.size()));
        // Complete the chunk carried over from the last call first.
        if (!pending_.empty()) {
            std::size_t need = chunk_needs(xet::as_bytes(pending_));
            std::size_t take = std::min(need - pending_.size(), bytes.size());
            pending_.append(reinterpret_cast<const char*>(bytes.data()), take);
            bytes = bytes.subspan(take);
            // The header may have only now become whole.
            need = chunk_needs(xet::as_bytes(pending_));
            if (pending_.size() < need && !bytes.empty()) {
                take = std::min(need - pending_.size(), bytes.size());
                pending_.append(reinterpret_cast<const char*>(bytes.data()), take);
                bytes = bytes.subspan(take);
            }
            if (pending_.size() < need) return 0;
            wrote += take_chunk(xet::as_bytes(pending_));
            pending_.clear();
        }
        while (!bytes.empty()) {
            std::size_t need = chunk_needs(bytes);
            if (bytes.size() < need) break;
            wrote += take_chunk(bytes.first(need));
            bytes = bytes.subspan(need);
        }
        pending_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        if (batch_.size() >= batch_bytes) post_batch();
        return wrote;
    }

    // Every byte in and every chunk processed: the chunk count and the terms' lengths must be
    // the plan's.
    asio::awaitable<void> co_finish() {
        if (received_ != length() || !pending_.empty()) bad("the range came short");
        post_batch();
        co_await asio::post(strand_, asio::use_awaitable);  // after every batch posted before it
        if (error_) std::rethrow_exception(error_);
        if (hashes_.size() != rg_.chunk_end - rg_.chunk_start) bad("the range holds the wrong number of chunks");
        const auto& terms = s_.range_terms[fi_][ri_];
        for (std::size_t j = 0; j < terms.size(); ++j) {
            const xet_term& t = s_.plan.terms[terms[j]];
            auto first = hashes_.begin() + (t.start - rg_.chunk_start), last = hashes_.begin() + (t.end - rg_.chunk_start);
            std::uint64_t len = 0;
            for (auto it = first; it != last; ++it) len += it->size;
            if (len != t.unpacked_length)
                fail(client_errc::checksum_mismatch, s_.url,
                     s_.file + ": a term of xorb " + t.xorb + " holds " + std::to_string(len) + " bytes, not " +
                         std::to_string(t.unpacked_length) + "; nothing was kept");
            s_.term_hashes[terms[j]].assign(first, last);
            s_.term_written(terms[j]);
        }
    }

private:
    static constexpr std::size_t batch_bytes = 1 << 20;

    [[noreturn]] void bad(const std::string& why) const {
        const auto& f = s_.plan.fetches[fi_];
        fail(client_errc::checksum_mismatch, s_.url,
             s_.file + ": xorb " + f.xorb + " range " + std::to_string(rg_.chunk_start) + "-" +
                 std::to_string(rg_.chunk_end) + ": " + why + "; nothing was kept");
    }

    // The I/O side's state.
    void clear_io() {
        pending_.clear();
        batch_.clear();
        batch_.reserve(batch_bytes + xet::chunk_header_size + (128 << 10));
        raw_.clear();
        received_ = 0;
        seen_ = 0;
    }
    // The strand's state.
    void clear_decoded() {
        hashes_.clear();
        base_.assign(s_.range_terms[fi_][ri_].size(), 0);
        unpacked_ = 0;
        error_ = nullptr;
    }

    // The serialized size of the chunk `b` starts with, or the header's size while that is short.
    std::size_t chunk_needs(std::span<const std::uint8_t> b) const {
        if (b.size() < xet::chunk_header_size) return xet::chunk_header_size;
        auto h = xet::decode_chunk_header(b);
        if (!h) bad("does not decode (" + h.error().message() + ")");
        return xet::chunk_header_size + h->compressed_size;
    }

    // A whole chunk, on the I/O thread: into the batch; returns the file bytes it will make.
    std::uint64_t take_chunk(std::span<const std::uint8_t> b) {
        auto h = xet::decode_chunk_header(b);
        if (!h) bad("does not decode (" + h.error().message() + ")");
        if (seen_ >= rg_.chunk_end - rg_.chunk_start) bad("more chunks than the range holds");
        const std::uint32_t index = rg_.chunk_start + static_cast<std::uint32_t>(seen_++);
        batch_.append(reinterpret_cast<const char*>(b.data()), b.size());
        std::uint64_t will = 0;
        for (std::size_t ti : s_.range_terms[fi_][ri_]) {
            const xet_term& t = s_.plan.terms[ti];
            if (index >= t.start && index < t.end) will += h->uncompressed_size;
        }
        return will;
    }

    void post_batch() {
        if (batch_.empty()) return;
        asio::post(strand_, [self = shared_from_this(), batch = std::move(batch_)]() mutable {
            if (!self->error_) try {
                    auto b = xet::as_bytes(batch);
                    while (!b.empty()) {
                        const std::size_t n = self->chunk_needs(b);
                        self->chunk(b.first(n));
                        b = b.subspan(n);
                    }
                } catch (...) {
                    self->error_ = std::current_exception();
                }
            // Back for the next batch: a fresh MiB each time would fault its pages in anew.
            batch.clear();
            std::lock_guard lk(self->spare_mu_);
            if (self->spare_.size() < 4) self->spare_.push_back(std::move(batch));
        });
        batch_ = take_spare();
    }

    std::string take_spare() {
        std::string b;
        {
            std::lock_guard lk(spare_mu_);
            if (!spare_.empty()) {
                b = std::move(spare_.back());
                spare_.pop_back();
            }
        }
        b.clear();
        b.reserve(batch_bytes + xet::chunk_header_size + (128 << 10));
        return b;
    }

    // One whole chunk, on the strand: decompressed, hashed, written.
    void chunk(std::span<const std::uint8_t> b) {
        auto h = xet::decode_chunk_header(b);
        if (!h) bad("does not decode (" + h.error().message() + ")");
        const std::size_t k = hashes_.size();
        if (k >= rg_.chunk_end - rg_.chunk_start) bad("more chunks than the range holds");
        auto payload = b.subspan(xet::chunk_header_size, h->compressed_size);
        std::span<const std::uint8_t> data;
        if (h->scheme == xet::compression::none) {
            if (payload.size() != h->uncompressed_size) bad("a stored chunk of the wrong size");
            data = payload;
        } else {
            scratch_.clear();
            if (auto r = xet::decompress_chunk(payload, h->scheme, h->uncompressed_size, scratch_); !r)
                bad("does not decode (" + r.error().message() + ")");
            data = scratch_;
        }
        hashes_.push_back({xet::chunk_hash(data), data.size()});
        const std::uint32_t index = rg_.chunk_start + static_cast<std::uint32_t>(k);
        const auto& terms = s_.range_terms[fi_][ri_];
        for (std::size_t j = 0; j < terms.size(); ++j) {
            const xet_term& t = s_.plan.terms[terms[j]];
            if (index == t.start) base_[j] = unpacked_;
            if (index < t.start || index >= t.end) continue;
            const std::uint64_t at = unpacked_ - base_[j];
            // Never past the term: its neighbours' bytes are not this range's to write.
            if (at + data.size() > t.unpacked_length)
                fail(client_errc::checksum_mismatch, s_.url,
                     s_.file + ": a term of xorb " + t.xorb + " holds more than " +
                         std::to_string(t.unpacked_length) + " bytes; nothing was kept");
            // One writer at a time: the kernel's inode lock would otherwise spin the others.
            std::lock_guard lk(s_.write_mu);
            util::pwrite_all(s_.fd->get(), data.data(), data.size(), t.file_offset + at, s_.temp);
        }
        unpacked_ += data.size();
    }

    std::shared_ptr<xet_job_state> owner_;  // the strand's jobs may outlive a cancelled download
    xet_job_state& s_;
    asio::strand<asio::any_io_executor> strand_;
    std::size_t fi_, ri_;
    xet_range rg_;
    bool keep_raw_;
    // The I/O thread's.
    std::string pending_;  // a chunk split between two reads
    std::string batch_;    // whole chunks not yet handed to the strand
    std::string raw_;
    std::uint64_t received_ = 0, seen_ = 0;
    // The strand's (read by the I/O thread only after co_finish's round trip through it).
    std::vector<std::uint8_t> scratch_;       // a decompressed chunk
    std::vector<xet::hash_and_size> hashes_;  // the range's chunks so far
    std::vector<std::uint64_t> base_;         // per term of the range: unpacked offset of its first chunk
    std::uint64_t unpacked_ = 0;
    std::exception_ptr error_;
    std::mutex spare_mu_;
    std::vector<std::string> spare_;  // batch buffers the strand is done with
};

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

// Streams one range of a fetch into `dec`: one GET with one Range, so nothing is buffered. An
// expired URL (401/403) returns false for the caller to renew it.
asio::awaitable<bool> co_stream_range(client& c, const download_options& o, const xet_fetch& f, std::size_t ri,
                                      range_decoder& dec, const std::function<void(std::int64_t)>& report) {
    const xet_range& rg = f.ranges[ri];
    http_request r;
    r.url = f.url;
    r.send_token = false;  // signed URL: no credentials
    r.proxies = o.proxies;
    r.user_agent_suffix = user_agent_suffix(o);
    r.read_timeout = c.settings().timeouts.download;  // HF_HUB_DOWNLOAD_TIMEOUT, as for other downloads
    r.headers.emplace_back("Range", range_header(f, {ri}));
    std::int64_t reported = 0;
    auto start_over = [&] {
        dec.reset();
        report(-reported);
        reported = 0;
    };
    start_over();
    body_sink sink;
    sink.head = [&](const http_response& resp) {
        // A resumed body was checked by the client; the first must be exactly the range.
        if (dec.received() != 0) return;
        auto cr = resp.header("Content-Range");
        auto range = cr ? http::parse_content_range(*cr) : std::nullopt;
        if (resp.status != 206 || !range || range->first != rg.byte_start)
            fail(client_errc::protocol_error, f.url,
                 "xorb " + f.xorb + ": the answer is not the range asked for (status " + std::to_string(resp.status) + ")");
    };
    sink.write = [&](std::span<const char> b) {
        auto n = static_cast<std::int64_t>(dec.feed(b));
        reported += n;
        report(n);
    };
    sink.restart = start_over;
    try {
        co_await c.co_stream(std::move(r), std::move(sink));
    } catch (const hfhub::error& e) {
        if (e.diag().status == 401 || e.diag().status == 403) co_return false;
        throw;
    }
    co_await dec.co_finish();
    co_return true;
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
    s->range_terms.resize(s->plan.fetches.size());
    for (std::size_t fi = 0; fi < s->plan.fetches.size(); ++fi) s->range_terms[fi].resize(s->plan.fetches[fi].ranges.size());
    for (std::size_t ti = 0; ti < s->plan.terms.size(); ++ti)
        s->range_terms[s->plan.terms[ti].fetch][s->plan.terms[ti].range].push_back(ti);
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
            util::unique_fd fd(::open(s->temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
            if (!fd) util::throw_errno("open", s->temp);
            if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) util::throw_errno("allocate", s->temp);
            return fd;
        };
        util::unique_fd fd = co_await util::co_blocking(pool, std::move(open_temp));
        s->fd = std::make_shared<util::pool_fd>(fd.release(), pool);
    }
    // The etag's SHA-256 over the terms in file order as they land, on the pool: it overlaps the
    // transfer, and nothing is read back at the end but what it has not caught up with.
    if (verifier v(meta, o.verify && cfg.xet.verify_sha256); v.active()) {
        std::vector<std::uint64_t> starts;
        starts.reserve(s->plan.terms.size());
        for (auto& t : s->plan.terms) starts.push_back(t.file_offset);
        s->sha = std::make_shared<ordered_hash>(pool, std::move(v), s->fd, s->temp, meta.size, std::move(starts));
    }

    std::atomic<std::int64_t> done{0};
    std::function<void(std::int64_t)> report = [&](std::int64_t n) {
        auto now = done += n;
        if (o.progress && n) o.progress({file, static_cast<std::uint64_t>(now), meta.size});
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

    // Every range some term uses, each fetched (or taken from the chunk cache) on its own.
    std::vector<std::pair<std::size_t, std::size_t>> work;
    for (std::size_t fi = 0; fi < s->plan.fetches.size(); ++fi)
        for (auto ri : used_ranges(s->plan, fi)) work.emplace_back(fi, ri);
    // Leaving early, the hasher stops now instead of waiting for terms that won't come.
    struct stop_on_exit {
        std::shared_ptr<ordered_hash>& h;
        ~stop_on_exit() {
            if (h) h->abort();
        }
    } stop{s->sha};
    const bool caching = s->cache->capacity() > 0;
    const unsigned workers = std::max(1u, std::min<unsigned>(cfg.xet.max_parallel, o.max_parallel ? o.max_parallel : 1u));
    co_await util::co_for_each(work.size(), workers, [&](std::size_t w) -> asio::awaitable<void> {
        const auto [fi, ri] = work[w];
        const auto rg = s->plan.fetches[fi].ranges[ri];
        if (caching) {
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
            if (hit) {
                report(static_cast<std::int64_t>(*hit));
                co_return;
            }
        }
        auto dec = std::make_shared<range_decoder>(s, pool, fi, ri, caching);
        for (;;) {
            std::string used = s->plan.fetches[fi].url;
            auto op = co_stream_range(c, o, s->plan.fetches[fi], ri, *dec, report);
            if (co_await std::move(op)) break;
            co_await renew(fi, std::move(used));
        }
        if (caching) {
            // Decoded and written: worth keeping for the next file that shares it.
            auto put = [s, dec, xorb = s->plan.fetches[fi].xorb, rg] { s->cache->put(xorb, rg.chunk_start, rg.chunk_end, dec->raw()); };
            co_await util::co_blocking(pool, std::move(put));
        }
    });

    // The file's Xet hash over every chunk in order, then the etag's SHA-256 over the bytes.
    auto verify = [s, expected = meta.xet->file_hash, meta]() -> std::string {
        std::vector<xet::hash_and_size> all;
        for (auto& t : s->term_hashes) all.insert(all.end(), t.begin(), t.end());
        std::string got = xet::file_hash(all).hex();
        if (got != expected) return "Xet file hash " + got + ", expected " + expected;
        if (s->sha) {
            auto d = s->sha->finish();
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
        util::fsync_fd(s->fd->get(), s->temp);
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
