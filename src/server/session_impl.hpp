// The session template, instantiated once for TCP and once for TLS in separate files to keep
// each translation unit's compile time down.
#pragma once

#include "server/session.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/sendfile.hpp"

#include <boost/asio.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <chrono>
#include <type_traits>
#include <fcntl.h>
#include <unistd.h>

namespace hfhub::server::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::string status_line(unsigned status);
std::string serialize_head(const response& r, bool keep_alive, std::string_view request_id);

// Counts a request in flight for graceful shutdown.
struct in_flight_guard {
    session_shared& sh;
    explicit in_flight_guard(session_shared& s) : sh(s) { ++sh.in_flight; }
    ~in_flight_guard() { sh.request_done(); }
};

// Requests whose handling may block on the disk or the CPU for long: storage uploads (a part
// may join parts, a completion may join a whole object) and commits.
inline bool is_store_work(listener_kind kind, const request& req) {
    if (kind == listener_kind::storage) return req.method == "PUT" || req.method == "POST";
    return req.method == "POST" && req.path.find("/commit/") != std::string::npos;
}

template <class Stream>
asio::awaitable<bool> write_body(Stream& stream, const session_shared& sh, const response& r,
                                 const fault_action* fault, std::vector<char>& chunk, std::uint64_t& sent) {
    auto& lowest = beast::get_lowest_layer(stream);
    std::uint64_t total = r.head ? 0 : r.content_length();
    std::uint64_t limit = total;
    if (fault && fault->drop_after_bytes) limit = std::min(limit, *fault->drop_after_bytes);
    bool stall_pending = fault && fault->stall_ms && fault->stall_after_bytes;

    // The body byte to flip, if the fault corrupts one.
    std::optional<std::uint64_t> corrupt;
    if (fault && fault->corrupt_at_byte && *fault->corrupt_at_byte < total) corrupt = fault->corrupt_at_byte;
    if (fault && fault->corrupt_middle && total > 0) corrupt = total / 2;

    auto send = [&](const char* data, std::size_t n) -> asio::awaitable<bool> {
        std::vector<char> flipped;
        if (corrupt && *corrupt >= sent && *corrupt - sent < n) {
            flipped.assign(data, data + n);
            flipped[static_cast<std::size_t>(*corrupt - sent)] ^= static_cast<char>(0xff);
            data = flipped.data();
        }
        while (n > 0) {
            std::size_t take = n;
            if (stall_pending && sent < *fault->stall_after_bytes)
                take = std::min<std::uint64_t>(take, *fault->stall_after_bytes - sent);
            if (stall_pending && sent >= *fault->stall_after_bytes) {
                stall_pending = false;
                asio::steady_timer t(co_await asio::this_coro::executor);
                t.expires_after(std::chrono::milliseconds(fault->stall_ms));
                co_await t.async_wait(tuple_awaitable);
                continue;
            }
            lowest.expires_after(sh.opts.write_timeout);
            auto [ec, w] = co_await asio::async_write(stream, asio::buffer(data, take), tuple_awaitable);
            sent += w;  // before the error check: a timed-out write may still have sent part
            if (ec) co_return false;
            data += w;
            n -= w;
        }
        co_return true;
    };

    if (r.stream) {
        if (limit > 0 && chunk.empty()) chunk.resize(1 << 20);
        std::uint64_t left = limit;
        while (left > 0) {
            std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
            std::size_t got = 0;
            try {
                got = r.stream->read(chunk.data(), want);
            } catch (const std::exception&) {
                co_return false;  // unreadable store: cut the answer rather than send wrong bytes
            }
            if (got == 0) co_return false;
            if (!co_await send(chunk.data(), got)) co_return false;
            left -= got;
        }
    } else if (!r.file) {
        if (!co_await send(r.body.data(), static_cast<std::size_t>(limit))) co_return false;
    } else {
        util::unique_fd fd(::open(r.file->path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) co_return false;
        std::uint64_t off = r.file->offset, left = limit;
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            // Plain TCP and no fault to pace: the kernel sends page-cache pages, no copy through us.
            if (!fault) {
                std::uint64_t before = left;
                auto ec = co_await util::co_sendfile(lowest.socket(), fd.get(), off, left, sh.opts.write_timeout);
                sent += before - left;
                if (ec && ec != boost::system::errc::operation_not_supported) co_return false;
            }
        }
        if (left > 0 && chunk.empty()) chunk.resize(1 << 20);
        while (left > 0) {
            std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk.size()));
            ssize_t got = ::pread(fd.get(), chunk.data(), want, static_cast<off_t>(off));
            if (got <= 0) co_return false;  // the file shrank: drop rather than send a short body
            if (!co_await send(chunk.data(), static_cast<std::size_t>(got))) co_return false;
            off += static_cast<std::uint64_t>(got);
            left -= static_cast<std::uint64_t>(got);
        }
    }
    co_return limit == total;
}

// After refusing a request whose body we won't read: stop sending, then discard what the client
// is still sending (bounded), so closing doesn't reset the connection before it reads the answer.
template <class Stream>
asio::awaitable<void> linger_close(Stream& stream, const session_shared& sh) {
    auto& lowest = beast::get_lowest_layer(stream);
    beast::error_code ec;
    lowest.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    lowest.expires_after(std::min<std::chrono::milliseconds>(sh.opts.read_timeout, std::chrono::seconds(2)));
    std::array<char, 16384> sink;
    for (std::uint64_t total = 0; total < (64u << 20);) {
        auto [rec, n] = co_await lowest.async_read_some(asio::buffer(sink), tuple_awaitable);
        if (rec) break;
        total += n;
    }
    lowest.socket().close(ec);
}

// Keeps an open connection in sh.conns for its lifetime, so stop() can close it while idle.
struct connection_registration {
    session_shared& sh;
    std::shared_ptr<session_shared::connection> conn;

    connection_registration(session_shared& s, beast::tcp_stream& lowest)
        : sh(s), conn(std::make_shared<session_shared::connection>()) {
        conn->ex = lowest.get_executor();
        conn->stream = &lowest;
        std::lock_guard lk(sh.conns_mu);
        sh.conns.insert(conn);
    }
    ~connection_registration() {
        conn->stream = nullptr;
        std::lock_guard lk(sh.conns_mu);
        sh.conns.erase(conn);
    }
    connection_registration(const connection_registration&) = delete;
    connection_registration& operator=(const connection_registration&) = delete;
};

// What one connection's requests share: its stream, its read buffer and its copy buffer.
template <class Stream>
struct connection_io {
    Stream& stream;
    session_shared& sh;
    listener_kind kind;
    bool loopback;
    std::string remote;  // the peer's address
    beast::flat_buffer buf;
    std::vector<char> chunk;

    auto& lowest() { return beast::get_lowest_layer(stream); }
};

// Answers with an error and closes: the request is refused before its body was read.
template <class Stream>
asio::awaitable<void> reject(connection_io<Stream>& io, unsigned status, std::string_view msg) {
    response r = error_response(status, "", msg);
    std::string head = serialize_head(r, false, "");
    io.lowest().expires_after(io.sh.opts.write_timeout);
    auto bufs = std::array{asio::buffer(head), asio::buffer(r.body)};
    auto [wec, w] = co_await asio::async_write(io.stream, bufs, tuple_awaitable);
    if (!wec) co_await linger_close(io.stream, io.sh);
}

// The request line and headers as the hub sees them.
inline request request_of(const http::request<http::empty_body>& hr, listener_kind kind, bool loopback,
                          const std::string& remote) {
    request req;
    req.listener = kind;
    req.from_loopback = loopback;
    req.remote = remote;
    req.method = std::string(hr.method_string());
    req.target = std::string(hr.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (auto& f : hr) req.headers.add(std::string(f.name_string()), std::string(f.value()));
    return req;
}

// A storage PUT's body, streamed to disk and hashed on the way: to a temp file, or straight into
// its multipart object when `part_slot` can be claimed. False: the connection is done.
template <class Stream>
asio::awaitable<bool> read_upload(connection_io<Stream>& io, http::request_parser<http::empty_body>& hp,
                                  request& req, std::unique_ptr<multipart_assembly::claim>& part_slot) {
    auto& sh = io.sh;
    // A multipart part is hashed once, into its whole object, when it is joined;
    // when it can be, it is written straight to its place in the object's file.
    bool hash = !req.path.starts_with("/multipart/");
    if (!hash) part_slot = sh.h.claim_part(req);
    fs::path tmp;
    util::unique_fd fd;
    if (!part_slot) {
        tmp = sh.h.temp_dir() / ("upload." + util::unique_suffix());
        fd = util::unique_fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd) {
            co_await reject(io, 500, "Cannot create a temp file");
            co_return false;
        }
    }
    http::request_parser<http::buffer_body> bp{std::move(hp)};
    bp.body_limit(sh.opts.max_upload_bytes);
    auto& chunk = io.chunk;
    if (chunk.empty()) chunk.resize(1 << 20);
    util::hasher sha(util::hash_algo::sha256);
    std::uint64_t total = 0;
    unsigned refuse = 0;  // answered after the temp file is gone
    bool failed = false;
    while (!bp.is_done()) {
        bp.get().body().data = chunk.data();
        bp.get().body().size = chunk.size();
        io.lowest().expires_after(sh.opts.read_timeout);
        auto [rec, rn] = co_await http::async_read_some(io.stream, io.buf, bp, tuple_awaitable);
        if (rec == http::error::need_buffer) rec = {};
        if (rec) {
            failed = true;
            if (rec == http::error::body_limit) refuse = 413;
            break;
        }
        std::size_t got = chunk.size() - bp.get().body().size;
        bool stored = true;
        try {
            if (!part_slot)
                util::write_all(fd.get(), chunk.data(), got, tmp);
            else if (total + got <= part_slot->length())
                util::pwrite_all(part_slot->fd(), chunk.data(), got, part_slot->offset() + total, tmp);
            else
                stored = false;  // more than Content-Length promised: never past the part
        } catch (const std::exception&) {
            stored = false;
        }
        if (!stored) {
            failed = true;
            refuse = 507;
            break;
        }
        if (hash) sha.update(chunk.data(), got);
        total += got;
    }
    if (failed) {
        if (!part_slot) ::unlink(tmp.c_str());
        if (refuse == 413) co_await reject(io, 413, "Upload too large");
        if (refuse == 507) co_await reject(io, 507, "Cannot store the upload");
        co_return false;
    }
    req.upload = streamed_body{tmp, total, hash ? sha.hex_digest() : std::string(), part_slot ? part_slot->id() : 0};
    co_return true;
}

// Any other body, buffered whole. False: the connection is done.
template <class Stream>
asio::awaitable<bool> read_buffered(connection_io<Stream>& io, http::request_parser<http::empty_body>& hp,
                                    request& req) {
    http::request_parser<http::string_body> sp{std::move(hp)};
    sp.body_limit(io.sh.opts.max_body_bytes);
    while (!sp.is_done()) {
        io.lowest().expires_after(io.sh.opts.read_timeout);
        auto [rec, rn] = co_await http::async_read_some(io.stream, io.buf, sp, tuple_awaitable);
        if (rec == http::error::body_limit) {
            co_await reject(io, 413, "Request body too large");
            co_return false;
        }
        if (rec) co_return false;
    }
    req.body = std::move(sp.get().body());
    co_return true;
}

// The hub's answer, or the injected fault's; on the store's executor when it may block.
template <class Stream>
asio::awaitable<response> answer(connection_io<Stream>& io, request& req, const std::optional<fault_action>& fault) {
    auto& sh = io.sh;
    if (fault && fault->stall_ms && !fault->stall_after_bytes) {
        asio::steady_timer t(co_await asio::this_coro::executor);
        t.expires_after(std::chrono::milliseconds(fault->stall_ms));
        co_await t.async_wait(tuple_awaitable);
    }
    response res;
    if (fault && fault->status) {
        res = error_response(fault->status, "", "Injected fault");
        for (auto& [k, v] : fault->headers.items) res.headers.set(k, v);
    } else {
        if (sh.store_ex && is_store_work(io.kind, req))
            res = co_await asio::co_spawn(
                sh.store_ex, [&]() -> asio::awaitable<response> { co_return sh.h.handle(req); }, use_awaitable);
        else
            res = sh.h.handle(req);
        if (fault)
            for (auto& [k, v] : fault->headers.items) res.headers.set(k, v);
    }
    if (req.method == "HEAD") res.head = true;  // whatever produced it, a HEAD answer has no body
    if (req.upload && !req.upload->file.empty()) {
        std::error_code rm;
        fs::remove(req.upload->file, rm);  // routes move what they keep
    }
    co_return res;
}

// Checks a file answer before promising it in a 200; a small one travels with the head.
inline void open_file_answer(response& res, bool faulted) {
    if (!res.file) return;
    util::unique_fd fd(::open(res.file->path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        bool head_only = res.head;
        res = error_response(500, "", "A stored object is unreadable");
        res.head = head_only;
    } else if (!res.head && !faulted && res.file->length <= 64 * 1024) {
        res.body.resize(static_cast<std::size_t>(res.file->length));
        ssize_t got = ::pread(fd.get(), res.body.data(), res.body.size(), static_cast<off_t>(res.file->offset));
        if (got == static_cast<ssize_t>(res.body.size())) {
            res.file.reset();
        } else {
            res = error_response(500, "", "A stored object is unreadable");
        }
    }
}

template <class Stream>
void close_now(connection_io<Stream>& io) {
    beast::error_code ignore;
    io.lowest().socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignore);
    io.lowest().socket().close(ignore);
}

// The request body bytes read, for the access log.
inline std::uint64_t received_bytes(const request& req) {
    return req.upload ? req.upload->size : req.body.size();
}

// Writes the answer (cut short if the fault says so) and logs it. True: the connection may
// carry another request.
template <class Stream>
asio::awaitable<bool> send_answer(connection_io<Stream>& io, const request& req, response& res,
                                  std::optional<fault_action>& fault, bool keep_alive,
                                  std::chrono::steady_clock::time_point started) {
    auto& sh = io.sh;
    auto since_start = [&] {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    };
    bool authorized = req.headers.get("Authorization").has_value();
    if (fault && fault->drop) {
        std::uint64_t total = res.head ? 0 : res.content_length();
        if (total < 2) {  // nothing to cut in half: close without an answer
            sh.log.write(io.kind, req.method, req.target, res.status, 0, authorized, since_start(), received_bytes(req));
            close_now(io);
            co_return false;
        }
        fault->drop_after_bytes = total / 2;
    }
    std::string rid = sh.id_prefix + std::to_string(++sh.next_id);
    std::string head = serialize_head(res, keep_alive, rid);
    std::uint64_t sent = 0;
    bool whole = false;
    io.lowest().expires_after(sh.opts.write_timeout);
    if (!res.file && !res.stream && !fault) {
        // Head and body in one gather write: one send for a small answer.
        std::string_view body = res.head ? std::string_view() : std::string_view(res.body);
        std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
        auto [wec, w] = co_await asio::async_write(io.stream, bufs, tuple_awaitable);
        whole = !wec;
        sent = w > head.size() ? w - head.size() : 0;
    } else {
        auto [hec, hw] = co_await asio::async_write(io.stream, asio::buffer(head), tuple_awaitable);
        whole = !hec && co_await write_body(io.stream, sh, res, fault ? &*fault : nullptr, io.chunk, sent);
    }
    sh.log.write(io.kind, req.method, req.target, res.status, sent, authorized, since_start(), received_bytes(req));
    if (!whole) {
        close_now(io);
        co_return false;
    }
    co_return keep_alive;
}

// One request whose header `hp` holds (or whose read failed with `ec`), answered. True: the
// connection may carry another.
template <class Stream>
asio::awaitable<bool> serve_request(connection_io<Stream>& io, http::request_parser<http::empty_body>& hp,
                                    beast::error_code ec) {
    auto& sh = io.sh;
    auto started = std::chrono::steady_clock::now();
    if (ec == http::error::header_limit) {
        co_await reject(io, 431, "Request header fields too large");
        co_return false;
    }
    if (ec == http::error::body_limit) {
        co_await reject(io, 413, "Request body too large");
        co_return false;
    }
    if (ec) co_return false;
    if (sh.stopping) {  // arrived as we stopped: after on_drained, nothing may be processed
        co_await reject(io, 503, "The server is shutting down");
        co_return false;
    }
    // Only storage PUTs stream to disk; every other body is buffered, so max_body_bytes applies.
    if (!(io.kind == listener_kind::storage && hp.get().method() == http::verb::put) && hp.content_length() &&
        *hp.content_length() > sh.opts.max_body_bytes) {
        co_await reject(io, 413, "Request body too large");
        co_return false;
    }
    // Xorbs and shards are at most 64 MiB (xorb.md, shard.md): a bigger body is refused unread.
    if (io.kind == listener_kind::storage && hp.get().method() == http::verb::post && hp.content_length() &&
        *hp.content_length() > xet_max_body_bytes) {
        co_await reject(io, 400, "A xorb or shard body is at most 64 MiB");
        co_return false;
    }
    in_flight_guard guard(sh);
    // Held until the answer is built: released, the part still missing, unless accepted.
    std::unique_ptr<multipart_assembly::claim> part_slot;
    request req = request_of(hp.get(), io.kind, io.loopback, io.remote);
    bool keep_alive = hp.get().keep_alive();

    if (auto expect = hp.get()[http::field::expect]; beast::iequals(expect, "100-continue")) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        io.lowest().expires_after(sh.opts.write_timeout);
        auto [wec, w] = co_await asio::async_write(io.stream, asio::buffer(cont), tuple_awaitable);
        if (wec) co_return false;
    }
    // The body: storage uploads stream to disk, hashed on the way; the rest is buffered.
    if (!hp.is_done()) {
        bool read = false;
        if (io.kind == listener_kind::storage && req.method == "PUT")
            read = co_await read_upload(io, hp, req, part_slot);
        else
            read = co_await read_buffered(io, hp, req);
        if (!read) co_return false;
    }
    // The admin route is exempt, or a catch-all rule could never be cleared.
    bool admin = io.kind == listener_kind::api && req.path.starts_with("/admin/");
    std::optional<fault_action> fault;
    if (!admin) fault = sh.h.faults().on_request(io.kind, req.method, req.target);
    response res = co_await answer(io, req, fault);
    if (sh.stopping) keep_alive = false;
    open_file_answer(res, fault.has_value());
    bool more = co_await send_answer(io, req, res, fault, keep_alive, started);
    co_return more;
}

template <class Stream>
asio::awaitable<void> serve_connection(Stream& stream, std::shared_ptr<session_shared> sh, listener_kind kind,
                                       bool loopback, std::string remote) {
    connection_io<Stream> io{stream, *sh, kind, loopback, std::move(remote), {}, {}};
    io.buf.reserve(64 * 1024);
    connection_registration reg(*sh, io.lowest());
    auto& conn = *reg.conn;
    for (;;) {
        // Checked in the same strand step that marks us idle, so stop() can't slip between.
        if (sh->stopping) co_return;
        conn.idle = true;
        http::request_parser<http::empty_body> hp;
        hp.header_limit(static_cast<std::uint32_t>(sh->opts.max_header_bytes));
        // Checked against Content-Length as soon as the header is parsed.
        hp.body_limit(kind == listener_kind::storage ? sh->opts.max_upload_bytes : sh->opts.max_body_bytes);
        io.lowest().expires_after(sh->opts.read_timeout);
        auto [ec, n] = co_await http::async_read_header(stream, io.buf, hp, tuple_awaitable);
        conn.idle = false;
        if (!co_await serve_request(io, hp, ec)) co_return;
    }
}

}  // namespace hfhub::server::detail
