// hfhub::client — HTTP to the Hub over a shared connection pool, on the caller's executor.
//
// Every operation is a coroutine (`co_*`, returning boost::asio::awaitable) that honours the
// awaiting coroutine's cancellation: a cancelled request ends with client_errc::cancelled and
// its connection is closed, leaving the pool consistent. I/O runs on the caller's executor only;
// state shared between coroutines is guarded, so the io_context may run on several threads.
// Work that would block an I/O thread (hashing local files, serialising a model, fsync, renames,
// unlinking big files) runs on the client's blocking pool: config::blocking_threads threads,
// started on first use. The client must outlive the operations it started; its destructor lets
// the pool finish the jobs it holds (those a cancelled call left running), then joins it.
#pragma once

#include <hfhub/config.hpp>
#include <hfhub/error.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfhub {

namespace detail {
struct blocking_access;
}

// What `{}` as a co_ function's options converts to: the defaults. Each co_ function that takes
// an options struct has an overload taking this, which `{}` picks (an exact conversion beats
// building the struct). Why: inside a co_await expression g++ 12 builds a brace-initialised
// aggregate temporary in one place and destroys another (an abort at run time), so `{}` must
// not build one. Named options and `T()` are fine; `{.field = x}` there is still the bug's.
enum class use_defaults {};

using header_fields = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive lookup; nullopt when absent.
std::optional<std::string_view> find_header(const header_fields& h, std::string_view name);

enum class follow_redirects {
    none,           // return the 3xx
    relative_only,  // metadata probes: follow same-origin relative Locations, return others
    all,            // downloads: follow any, dropping the token off-origin
};

struct file_range {
    std::filesystem::path path;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

struct http_request {
    std::string method = "GET";
    std::string url;  // absolute
    header_fields headers;
    std::string body;                    // a small body, sent as is
    std::optional<file_range> body_file; // or a body streamed from a file, never loaded whole
    // Or a body pulled in pieces (e.g. from another server): called with the offset it needs
    // next, it returns the bytes from there on (at least one, at most what is left). Every
    // attempt starts again at offset 0, so retries stay safe. Its exceptions end the request
    // as they are, without a retry. `body_source_length` is the Content-Length.
    std::function<boost::asio::awaitable<std::string>(std::uint64_t offset)> body_source;
    std::uint64_t body_source_length = 0;
    std::optional<bool> idempotent;      // default: by method (POST and PATCH are not)
    follow_redirects redirects = follow_redirects::all;
    bool send_token = true;
    std::optional<std::string> token;         // overrides the configured token
    std::optional<proxy_config> proxies;      // overrides the configured proxies
    std::string user_agent_suffix;            // appended to the client's User-Agent: "; mylib/1.0"
    std::optional<std::chrono::milliseconds> read_timeout;
    // Overrides the configured retries for this request: 0 makes one attempt (plus the one
    // retry of a pooled connection the server had closed), for callers with another answer.
    std::optional<unsigned> max_retries;
    std::uint64_t max_body = 64ull << 20;     // for buffered bodies; streaming has no limit
};

struct http_response {
    unsigned status = 0;
    header_fields headers;
    std::string body;  // empty when streamed to a sink
    std::string url;   // the final URL, after redirects
    std::optional<std::string_view> header(std::string_view name) const { return find_header(headers, name); }
};

// Where a streamed body goes. `write` gets the bytes in order. If the connection drops mid-body
// the client resumes with a Range request; if the server can't resume it calls `restart`
// (which must discard what was written) or fails when `restart` is empty.
struct body_sink {
    std::function<void(std::span<const char>)> write;
    std::function<void()> restart;
    // Called with each response about to stream (the first, and every resumed one), before its
    // bytes; a 206 carries Content-Range. Throwing aborts the request.
    std::function<void(const http_response&)> head;
};

struct pool_stats {
    std::size_t open = 0;       // connections open now (idle + in use)
    std::size_t idle = 0;
    std::uint64_t opened = 0;   // connections opened since the client was made
    std::uint64_t reused = 0;   // requests that reused a pooled connection
    std::size_t peak_open = 0;  // the most open at once
};

class client {
public:
    client(boost::asio::any_io_executor ex, config cfg);
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Sends a request and buffers the response body (up to `max_body`). Retries idempotent
    // requests on connection errors and on 408/429/5xx, honouring Retry-After and RateLimit.
    // Throws hfhub::error for a non-2xx final answer when `throw_on_error`.
    boost::asio::awaitable<http_response> co_request(http_request req, bool throw_on_error = true);

    // Like co_request, but a 2xx body streams into `sink` with large reads; a dropped
    // connection is resumed with Range.
    boost::asio::awaitable<http_response> co_stream(http_request req, body_sink sink);

    // Blocking twin of co_request, for callers that are not coroutines. Like every blocking
    // call of the library it runs on a thread of the client's own, started on first use, so it
    // works from a plain main() that runs nothing. Made on a thread that runs the client's
    // executor it throws client_errc::would_deadlock instead of waiting.
    http_response request(http_request req, bool throw_on_error = true);

    const config& settings() const;
    pool_stats stats() const;
    std::string user_agent() const;
    boost::asio::any_io_executor get_executor() const;

private:
    friend struct detail::blocking_access;
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace hfhub
