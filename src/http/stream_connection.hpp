// The HTTP/1.1 exchange on one stream type; instantiated for TCP and TLS in separate files.
#pragma once

#include "http/connection.hpp"
#include "util/sendfile.hpp"

#include <hfhub/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <type_traits>

#include <fcntl.h>
#include <unistd.h>

namespace hfhub::http::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

template <class Stream>
class stream_connection final : public connection {
public:
    explicit stream_connection(Stream s) : stream_(std::move(s)) { buf_.reserve(64 * 1024); }

    beast::tcp_stream& lowest() override { return beast::get_lowest_layer(stream_); }

    asio::awaitable<response_head> exchange(const std::string& head, const http_request& req, bool head_request,
                                            std::chrono::milliseconds timeout) override {
        const std::string& body = req.body;
        const std::optional<file_range>& body_file = req.body_file;
        reusable_ = false;
        auto& low = lowest();
        low.expires_after(timeout);
        if (body.empty() || body.size() > 64 * 1024) {
            co_await asio::async_write(stream_, asio::buffer(head), asio::use_awaitable);
            if (!body.empty()) {
                low.expires_after(timeout);
                co_await asio::async_write(stream_, asio::buffer(body), asio::use_awaitable);
            }
        } else {
            // One write for small requests: fewer packets, no Nagle interplay.
            std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
            co_await asio::async_write(stream_, bufs, asio::use_awaitable);
        }
        if (body_file) co_await send_file(*body_file, timeout);
        if (req.body_source) co_await send_source(req.body_source, req.body_source_length, timeout);

        parser_.emplace();
        parser_->header_limit(64 * 1024);
        parser_->body_limit(boost::none);
        parser_->skip(head_request);
        low.expires_after(timeout);
        co_await bhttp::async_read_header(stream_, buf_, *parser_, asio::use_awaitable);
        auto& msg = parser_->get();
        response_head out;
        out.status = msg.result_int();
        for (auto& f : msg) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        if (auto cl = parser_->content_length()) out.content_length = *cl;
        out.keep_alive = parser_->keep_alive();
        out.has_body = !parser_->is_done();
        chunked_ = parser_->chunked();
        // Bytes already buffered past this answer were never asked for (we don't pipeline):
        // a connection holding them would read them as the next answer.
        if (!out.has_body) reusable_ = out.keep_alive && buf_.size() == 0;
        keep_alive_ = out.keep_alive;
        co_return out;
    }

    asio::awaitable<void> read_body(std::string& out, std::uint64_t limit, std::chrono::milliseconds timeout) override {
        if (parser_ && parser_->content_length() && *parser_->content_length() > limit)
            throw hfhub::error(client_errc::body_too_large, {});
        co_await stream_body(
            [&](std::span<const char> s) {
                if (out.size() + s.size() > limit) throw hfhub::error(client_errc::body_too_large, {});
                out.append(s.data(), s.size());
            },
            timeout);
    }

    asio::awaitable<void> stream_body(const std::function<void(std::span<const char>)>& write,
                                      std::chrono::milliseconds timeout) override {
        if (!parser_ || parser_->is_done()) {
            reusable_ = keep_alive_;
            co_return;
        }
        if (chunk_.empty()) chunk_.resize(1 << 20);
        auto& low = lowest();
        // The timeout is renewed per `min_progress` bytes, not per read: a server that drips a
        // byte at a time keeps every read short but must still not hold the body open forever.
        constexpr std::uint64_t min_progress = 16 * 1024;
        std::uint64_t since_renewal = 0;
        auto progressed = [&](std::size_t n) {
            since_renewal += n;
            if (since_renewal >= min_progress) {
                since_renewal = 0;
                low.expires_after(timeout);
            }
        };
        low.expires_after(timeout);
        if (parser_->content_length() && !chunked_) {
            // Known length: read straight into our buffer, past the parser, in large reads.
            std::uint64_t left = *parser_->content_length();
            auto pending = buf_.data();
            std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(pending.size(), left));
            if (take) {
                write({static_cast<const char*>(pending.data()), take});
                buf_.consume(take);
                left -= take;
            }
            while (left > 0) {
                std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_.size(), left));
                std::size_t n = co_await stream_.async_read_some(asio::buffer(chunk_.data(), want), asio::use_awaitable);
                write({chunk_.data(), n});
                left -= n;
                progressed(n);
            }
            parser_.reset();
            reusable_ = keep_alive_ && buf_.size() == 0;
            co_return;
        }
        bhttp::response_parser<bhttp::buffer_body> bp{std::move(*parser_)};
        parser_.reset();
        while (!bp.is_done()) {
            bp.get().body().data = chunk_.data();
            bp.get().body().size = chunk_.size();
            auto [ec, n] = co_await bhttp::async_read_some(stream_, buf_, bp, asio::as_tuple(asio::use_awaitable));
            if (ec == bhttp::error::need_buffer) ec = {};
            if (ec) throw boost::system::system_error(ec);
            std::size_t got = chunk_.size() - bp.get().body().size;
            if (got) write({chunk_.data(), got});
            progressed(got);
        }
        reusable_ = keep_alive_ && bp.keep_alive() && buf_.size() == 0;
    }

private:
    // The body file ended before the length the request announced: it changed after it was
    // hashed, which the caller must hear as that, not as a failing disk.
    [[noreturn]] static void shrank(const file_range& f) {
        diagnostics d;
        d.client_message = f.path.string() + " shrank while it was sent";
        throw hfhub::error(client_errc::local_file_changed, std::move(d));
    }

    asio::awaitable<void> send_file(const file_range& f, std::chrono::milliseconds timeout) {
        int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + f.path.string());
        struct closer {
            int fd;
            ~closer() { ::close(fd); }
        } guard{fd};
        std::uint64_t off = f.offset, left = f.length;
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            // Plain TCP: the kernel moves page-cache pages to the socket, no copy through us.
            auto ec = co_await util::co_sendfile(lowest().socket(), fd, off, left, timeout);
            if (!ec) co_return;
            if (ec == asio::error::timed_out) throw boost::system::system_error(beast::error::timeout);
            if (ec == boost::system::errc::io_error) shrank(f);
            if (ec != boost::system::errc::operation_not_supported) throw boost::system::system_error(ec);
        }
        if (chunk_.empty()) chunk_.resize(1 << 20);
        while (left > 0) {
            std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, chunk_.size()));
            ssize_t got = ::pread(fd, chunk_.data(), want, static_cast<off_t>(off));
            if (got == 0) shrank(f);
            if (got < 0) throw std::system_error(errno, std::generic_category(), "read " + f.path.string());
            lowest().expires_after(timeout);
            co_await asio::async_write(stream_, asio::buffer(chunk_.data(), static_cast<std::size_t>(got)),
                                       asio::use_awaitable);
            off += static_cast<std::uint64_t>(got);
            left -= static_cast<std::uint64_t>(got);
        }
    }

    // Pulls the body piece by piece from offset 0; one piece in memory at a time.
    asio::awaitable<void> send_source(const std::function<asio::awaitable<std::string>(std::uint64_t)>& source,
                                      std::uint64_t length, std::chrono::milliseconds timeout) {
        std::uint64_t off = 0;
        while (off < length) {
            std::string piece;
            std::exception_ptr failed;
            try {
                piece = co_await source(off);
                if (piece.empty() || piece.size() > length - off)
                    throw hfhub::error(client_errc::protocol_error,
                                       {.client_message =
                                        "the body source returned " + std::to_string(piece.size()) + " bytes at offset " +
                                            std::to_string(off) + " of " + std::to_string(length)});
            } catch (...) {
                failed = std::current_exception();
            }
            if (failed) throw body_source_failure{failed};
            lowest().expires_after(timeout);
            co_await asio::async_write(stream_, asio::buffer(piece), asio::use_awaitable);
            off += piece.size();
        }
    }

    Stream stream_;
    beast::flat_buffer buf_;
    std::optional<bhttp::response_parser<bhttp::empty_body>> parser_;
    std::vector<char> chunk_;
    bool chunked_ = false;
    bool keep_alive_ = false;
};

}  // namespace hfhub::http::detail
