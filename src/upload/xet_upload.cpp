// Uploads through Xet: one read pass per object (chunked and hashed on the blocking pool, files
// in parallel, the next window read while one is placed), dedup, xorbs built and sent by a few
// senders while the files go on, then the shard.
#include "upload/xet_upload.hpp"

#include "blocking_call.hpp"
#include "upload/commit_steps.hpp"
#include "upload/xet_plan.hpp"
#include "upload/xet_cas.hpp"
#include "util/blocking.hpp"
#include "util/for_each.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "xet/chunker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <set>
#include <tuple>
#include <variant>

namespace hfhub::upload {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace xet_up;

bool xet_offered(const client& c) { return c.settings().xet.enabled; }

namespace {

constexpr std::size_t window_bytes = 16u << 20;  // read, chunked and placed at a time per file
constexpr unsigned max_files_at_once = 3;         // each holds two windows at most: memory stays bounded
constexpr unsigned xorb_senders = 2;              // xorbs built and sent at once, besides the one filling

// Runs `a` and `b` at once on the caller's executor; the first error cancels the other and is
// rethrown as it is (awaitable_operators' && would wrap it when the other then fails too).
template <class A, class B>
asio::awaitable<std::pair<A, B>> co_both(asio::awaitable<A> a, asio::awaitable<B> b) {
    auto ex = co_await asio::this_coro::executor;
    auto [order, ea, ra, eb, rb] =
        co_await asio::experimental::make_parallel_group(asio::co_spawn(ex, std::move(a), asio::deferred),
                                                         asio::co_spawn(ex, std::move(b), asio::deferred))
            .async_wait(asio::experimental::wait_for_one_error(), asio::use_awaitable);
    for (auto i : order) {
        if (i == 0 && ea) std::rethrow_exception(ea);
        if (i == 1 && eb) std::rethrow_exception(eb);
    }
    co_return std::pair<A, B>{std::move(ra), std::move(rb)};
}

asio::awaitable<std::monostate> as_value(asio::awaitable<void> a) {
    co_await std::move(a);
    co_return std::monostate{};
}

template <class A, class B>
asio::awaitable<std::monostate> as_value_pair(asio::awaitable<std::pair<A, B>> a) {
    co_await std::move(a);
    co_return std::monostate{};
}

// A file's bytes in order, and the chunks they make. The chunking job and the SHA-256 job of a
// window run at the same time on the pool: each touches only its own members.
struct scanner {
    xet::chunker ck;             // chunking job
    std::string carry;           // bytes of the chunk still open
    std::uint64_t carry_at = 0;  // its offset in the object
    std::vector<std::uint64_t> ends;
    util::hasher sha{util::hash_algo::sha256};  // SHA-256 job
};

// One window: its bytes (the open chunk's first, then what was read) and the chunks it closed.
struct window {
    std::shared_ptr<const std::string> data;
    std::uint64_t base = 0;  // offset of (*data)[0] in the object
    std::vector<chunk_ref> chunks;
    std::vector<std::uint32_t> offsets;  // of each chunk in `data`
    std::string sha256;  // set on the last window
    std::uint64_t fresh = 0;  // bytes read for it
    bool last = false;
};

// Closes the chunks that end in buf[carried..] (the next bytes of the object, none at its
// end; before them, the open chunk's bytes) and hashes them.
window cut_chunks(scanner& s, const std::string& buf, std::size_t carried, bool last) {
    window w;
    w.last = last;
    s.ends.clear();
    s.ck.update(xet::as_bytes(std::string_view(buf).substr(carried)), s.ends);
    if (last)
        if (auto e = s.ck.finish()) s.ends.push_back(*e);
    w.base = s.carry_at;
    std::uint64_t start = w.base;
    for (std::uint64_t end : s.ends) {
        auto off = static_cast<std::uint32_t>(start - w.base);
        auto n = static_cast<std::uint32_t>(end - start);
        w.chunks.push_back({xet::chunk_hash(xet::as_bytes(std::string_view(buf).substr(off, n))), n});
        w.offsets.push_back(off);
        start = end;
    }
    s.carry = buf.substr(static_cast<std::size_t>(start - w.base));
    s.carry_at = start;
    return w;
}

// Appends up to `want` bytes read at the descriptor's position (fewer at its end) to `buf`.
void read_some(int fd, std::uint64_t want, const std::filesystem::path& path, std::string& buf) {
    const std::size_t at = buf.size();
    buf.resize(at + static_cast<std::size_t>(want));
    std::size_t got = 0;
    while (got < want) {
        ssize_t n = ::read(fd, buf.data() + at + got, static_cast<std::size_t>(want) - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) file_error(path, errno, "cannot read a file to upload");
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    buf.resize(at + got);
}

// The xorb being filled: chunk bytes kept until it is cut and built on the pool.
struct filling {
    std::size_t slot = 0;
    xorb_fill fill;
    std::string data;
    std::vector<chunk_ref> chunks;
};

struct object_job {
    const lfs_transfer* t = nullptr;
    file_plan plan;
};

using xorb_channel = asio::experimental::channel<void(boost::system::error_code, std::shared_ptr<filling>)>;

class session {
public:
    session(client& c, const commit_options& o, progress_reporter& prog, lfs_totals& totals, cas_session& cas)
        : c_(c), o_(o), prog_(prog), totals_(totals), cas_(cas), pool_(detail::blocking_executor(c)) {}

    asio::awaitable<void> run(std::vector<object_job>& jobs) {
        // One strand for all of the session's state: the file workers, their read-ahead, the
        // senders. The files fill xorbs; each full one goes to a sender (the hand-over waits for
        // a free one), which builds it on the pool and sends it while the files go on.
        auto strand = asio::make_strand(co_await asio::this_coro::executor);
        auto body = run_on_strand(jobs);
        co_await asio::co_spawn(strand, std::move(body), asio::use_awaitable);
        std::vector<file_plan> files;
        for (auto& j : jobs) files.push_back(std::move(j.plan));
        xet::shard sh = form_shard(files, made_);
        std::vector<std::uint8_t> bytes = xet::serialize_shard(sh);
        co_await cas_.co_upload_shard(std::move(bytes));
        ++totals_.shards_sent;
    }

private:
    asio::awaitable<void> run_on_strand(std::vector<object_job>& jobs) {
        xorb_channel ch(co_await asio::this_coro::executor, 0);
        ch_ = &ch;
        static_assert(xorb_senders == 2);
        auto s1 = as_value(co_sender());
        auto s2 = as_value(co_sender());
        auto senders = as_value_pair(co_both(std::move(s1), std::move(s2)));
        auto files = as_value(co_files(jobs));
        auto all = co_both(std::move(files), std::move(senders));
        co_await std::move(all);
        ch_ = nullptr;
    }

    asio::awaitable<void> co_files(std::vector<object_job>& jobs) {
        unsigned workers = std::max(1u, std::min(o_.max_workers, max_files_at_once));
        co_await util::co_for_each(jobs.size(), workers, [&](std::size_t i) -> asio::awaitable<void> {
            co_await co_object(jobs[i]);
        });
        co_await co_cut();  // the last, partly filled xorb
        for (unsigned k = 0; k < xorb_senders; ++k) {
            std::shared_ptr<filling> done;  // no more xorbs
            co_await ch_->async_send(boost::system::error_code{}, std::move(done), asio::use_awaitable);
        }
    }

    // Builds the xorbs handed over on the pool and sends each unless the CAS has it. The big
    // buffers are reused (the chunk bytes' for the next xorb to fill, this sender's for the
    // next it builds): fresh ones would cost a page fault per 4 KiB each time.
    asio::awaitable<void> co_sender() {
        std::vector<std::uint8_t> out;
        for (;;) {
            std::shared_ptr<filling> f = co_await ch_->async_receive(asio::use_awaitable);
            if (!f) co_return;
            auto build = [f, out = std::move(out)]() mutable {
                xet::xorb_builder b;
                b.reuse(std::move(out));
                std::size_t at = 0;
                for (auto& ch : f->chunks) {
                    auto span = xet::as_bytes(std::string_view(f->data).substr(at, ch.size));
                    if (!b.add_chunk(span, ch.hash)) throw std::logic_error("a xorb over its bounds");
                    at += ch.size;
                }
                f->data.clear();
                return b.finish();
            };
            xet::built_xorb x = co_await util::co_blocking(pool_, std::move(build));
            made_xorb& m = made_[f->slot];
            m.hash = x.hash;
            m.chunks = x.chunks;
            m.serialized_size = static_cast<std::uint32_t>(x.bytes.size());
            if (spare_.size() < xorb_senders + 1) spare_.push_back(std::move(f->data));
            f.reset();
            auto bytes = std::make_shared<std::vector<std::uint8_t>>(std::move(x.bytes));
            std::uint64_t n = bytes->size();
            if (co_await cas_.co_upload_xorb(x.hash, bytes)) {
                ++totals_.xorbs_sent;
                totals_.xorb_bytes_sent += n;
            }
            if (bytes.use_count() == 1) out = std::move(*bytes);
        }
    }

    // One window of an object, read and chunked (the SHA-256 at the same time, on the pool).
    // Its bytes are read in after the open chunk's: one buffer, no copy.
    asio::awaitable<window> co_scan(const lfs_object& obj, const remote_body* remote,
                                    std::shared_ptr<util::unique_fd> fd, std::shared_ptr<scanner> sc,
                                    std::uint64_t off, std::uint64_t want, bool last) {
        // No job of this object runs now: the carry is free to take.
        auto buf = std::make_shared<std::string>(std::move(sc->carry));
        const std::size_t carried = buf->size();
        if (remote) {
            if (want) {
                std::string piece = co_await remote->read(off, want);
                buf->append(piece);
            }
        } else if (fd) {
            // Named, not a temporary in the co_await: g++ 12 mishandles those.
            auto read_job = [fd, buf, want, path = *obj.file]() { read_some(fd->get(), want, path, *buf); };
            co_await util::co_blocking(pool_, std::move(read_job));
        } else {
            buf->append(*obj.bytes, static_cast<std::size_t>(off), static_cast<std::size_t>(want));
        }
        if (buf->size() - carried != want) changed(obj);
        auto sha_job = [sc, buf, carried, last]() {
            sc->sha.update(buf->data() + carried, buf->size() - carried);
            return last ? sc->sha.hex_digest() : std::string();
        };
        auto chunk_job = [sc, buf, carried, last]() { return cut_chunks(*sc, *buf, carried, last); };
        auto sha = util::co_blocking(pool_, std::move(sha_job));
        auto chunks = util::co_blocking(pool_, std::move(chunk_job));
        auto both = co_both(std::move(sha), std::move(chunks));
        auto r = co_await std::move(both);
        window w = std::move(r.second);
        if (w.base + buf->size() != off + want) changed(obj);
        w.data = std::move(buf);
        w.sha256 = std::move(r.first);
        w.fresh = want;
        co_return w;
    }

    // One object, window by window: read and chunk the next window (pool) while this one is
    // checked against the dedup and placed.
    asio::awaitable<void> co_object(object_job& job) {
        const lfs_object& obj = *job.t->obj;
        job.plan.sha256 = obj.oid;
        auto sc = std::make_shared<scanner>();
        std::shared_ptr<util::unique_fd> fd;
        const remote_body* remote = obj.source ? obj.source->remote() : nullptr;
        if (!remote && obj.file) {
            fd = std::make_shared<util::unique_fd>(::open(obj.file->c_str(), O_RDONLY | O_CLOEXEC));
            if (!*fd) file_error(*obj.file, errno, "cannot open a file to upload");
            ::posix_fadvise(fd->get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        }
        // A remote source is read in the pieces it asks for (what one request holds).
        const std::uint64_t piece =
            remote ? std::max<std::uint64_t>(1, std::min<std::uint64_t>(window_bytes, remote->piece_size)) : window_bytes;
        std::uint64_t off = 0;
        auto next = [&]() {
            std::uint64_t want = std::min<std::uint64_t>(piece, obj.size - off);
            bool last = off + want >= obj.size;
            auto op = co_scan(obj, remote, fd, sc, off, want, last);
            off += want;
            return op;
        };
        dedup_sampler sampler;
        std::size_t chunk_no = 0;
        auto first = next();
        window w = co_await std::move(first);
        while (!w.last) {
            auto ahead = next();
            auto here = as_value(co_place_window(job, w, sampler, chunk_no));
            auto both = co_both(std::move(ahead), std::move(here));
            auto r = co_await std::move(both);
            w = std::move(r.first);
        }
        auto here = co_place_window(job, w, sampler, chunk_no);
        co_await std::move(here);
        if (w.sha256 != obj.oid) changed(obj);
    }

    asio::awaitable<void> co_place_window(object_job& job, const window& w, dedup_sampler& sampler, std::size_t& chunk_no) {
        if (c_.settings().xet.dedup) co_await co_query(w, sampler, chunk_no);
        co_await co_place(job, w);
        chunk_no += w.chunks.size();
        prog_.advance(w.fresh);
    }

    [[noreturn]] static void changed(const lfs_object& obj) {
        diagnostics d;
        d.client_message = (obj.file ? obj.file->string() : obj.path_in_repo) +
                           " changed since it was hashed: its bytes no longer match " + obj.oid;
        throw error(obj.file ? client_errc::local_file_changed : client_errc::checksum_mismatch, std::move(d));
    }

    // Asks the global dedup about the window's sampled chunks that nothing known covers yet.
    asio::awaitable<void> co_query(const window& w, dedup_sampler& sampler, std::size_t first_no) {
        std::vector<digest> ask;
        for (std::size_t i = 0; i < w.chunks.size(); ++i) {
            const digest& h = w.chunks[i].hash;
            if (!sampler.should_query(first_no + i, h)) continue;
            if (index_.find(h) || !queried_.insert(h).second) continue;
            ask.push_back(h);
        }
        co_await util::co_for_each(ask.size(), 4, [&](std::size_t k) -> asio::awaitable<void> {
            std::optional<std::vector<std::uint8_t>> answer = co_await cas_.co_query_chunk(ask[k]);
            if (!answer) co_return;
            auto parsed = xet::parse_shard(*answer);
            if (!parsed) cas_.fail_answer("the dedup answer for chunk " + ask[k].hex() + " is not a shard: " +
                                          parsed.error().message());
            auto key = parsed->hmac_key();
            std::vector<digest> hashes;
            for (auto& x : parsed->xorbs) {
                hashes.clear();
                for (auto& ch : x.chunks) hashes.push_back(ch.chunk_hash);
                index_.add_remote(key, x.cas_hash, hashes);
            }
        });
    }

    // Places each chunk: where the CAS or this upload has it, else into the xorb being filled.
    asio::awaitable<void> co_place(object_job& job, const window& w) {
        for (std::size_t i = 0; i < w.chunks.size(); ++i) {
            const chunk_ref& ch = w.chunks[i];
            std::optional<chunk_place> where = index_.find(ch.hash);
            if (where) {
                ++totals_.chunks_deduped;
            } else {
                // Another file may have started a xorb while this one waited for its cut: check again.
                while (cur_ && !cur_->fill.fits(ch.size)) co_await co_cut();
                if (!cur_) {
                    cur_.emplace();
                    // Room for a full xorb at once: doubling would copy and fault in pages again.
                    if (!spare_.empty()) {
                        cur_->data = std::move(spare_.back());
                        spare_.pop_back();
                        cur_->data.clear();
                    }
                    cur_->data.reserve(static_cast<std::size_t>(xorb_limits{}.max_bytes));
                    cur_->slot = made_.size();
                    made_.emplace_back();
                }
                where = chunk_place{new_xorb_slot{cur_->slot}, static_cast<std::uint32_t>(cur_->chunks.size())};
                cur_->fill.add(ch.size);
                cur_->data.append(*w.data, w.offsets[i], ch.size);
                cur_->chunks.push_back(ch);
                index_.add_local(ch.hash, *where);
            }
            job.plan.chunks.push_back({ch.hash, ch.size, *where});
        }
    }

    // Hands the filled xorb to a sender, once one is free: what is in memory stays bounded.
    asio::awaitable<void> co_cut() {
        if (!cur_) co_return;
        auto f = std::make_shared<filling>(std::move(*cur_));
        cur_.reset();
        co_await ch_->async_send(boost::system::error_code{}, std::move(f), asio::use_awaitable);
    }

    client& c_;
    const commit_options& o_;
    progress_reporter& prog_;
    lfs_totals& totals_;
    cas_session& cas_;
    asio::any_io_executor pool_;
    chunk_index index_;
    std::set<digest> queried_;
    std::optional<filling> cur_;
    std::vector<made_xorb> made_;  // by slot
    xorb_channel* ch_ = nullptr;   // while run_on_strand runs
    std::vector<std::string> spare_;  // emptied chunk-byte buffers of built xorbs
};

}  // namespace

asio::awaitable<void> co_upload_xet(client& c, const std::string& repo_id, const commit_options& o,
                                    const std::vector<const lfs_transfer*>& transfers, progress_reporter& progress,
                                    lfs_totals& totals) {
    cas_session cas(c, repo_id, o, *transfers.front());
    std::vector<object_job> jobs;
    for (auto* t : transfers) jobs.push_back({t, {}});
    session s(c, o, progress, totals, cas);
    co_await s.run(jobs);
    for (auto* t : transfers) progress.step(t->obj->path_in_repo, 0);
}

}  // namespace hfhub::upload
