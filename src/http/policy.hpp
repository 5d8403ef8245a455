// Sans-io decisions of the HTTP layer: retries, redirects, proxies, error messages. Pure
// functions and small classes, unit-tested without sockets.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/config.hpp>
#include <hfhub/error.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace hfhub::http {

// ---- retries ---------------------------------------------------------------------------------

// "Retry-After: 3" → 3 s. HTTP dates and garbage → nullopt.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);
// `RateLimit: "api";r=0;t=12` → 12 s when the remaining quota r is 0; nullopt otherwise.
std::optional<std::chrono::seconds> parse_ratelimit_reset(std::string_view value);
// 408, 429, 500, 502, 503, 504.
bool is_retryable_status(unsigned status);

// One request's retry schedule: exponential backoff with jitter, honouring server hints,
// within a count and a time budget.
class retry_schedule {
public:
    retry_schedule(const retry_config& cfg, std::uint64_t seed);

    struct failure {
        bool idempotent = true;
        std::optional<unsigned> status;  // nullopt: a connection-level error
        std::string_view retry_after;    // header values, empty when absent
        std::string_view ratelimit;
    };
    // The wait before the next attempt, or nullopt to give up.
    std::optional<std::chrono::milliseconds> next(const failure& f);
    unsigned retries() const { return retries_; }

private:
    retry_config cfg_;
    std::mt19937_64 rng_;
    unsigned retries_ = 0;
    std::chrono::milliseconds waited_{0};
};

// ---- ranges --------------------------------------------------------------------------------

struct content_range {
    std::uint64_t first = 0;
    std::uint64_t last = 0;                 // inclusive
    std::optional<std::uint64_t> complete;  // nullopt for "*"
};
// `Content-Range: bytes 0-99/1000` (or ".../*"). nullopt when malformed, when last < first or
// when the range ends past the complete length; unit other than "bytes" included.
std::optional<content_range> parse_content_range(std::string_view value);

// ---- redirects -------------------------------------------------------------------------------

enum class redirect_mode {
    none,           // never follow
    relative_only,  // metadata probes: follow relative Locations on the same origin only
    follow,         // downloads: follow any, dropping credentials off-origin
};

struct redirect_decision {
    enum class action { stop, follow, fail } what = action::stop;
    std::string url;        // absolute, when following
    bool keep_auth = true;  // false when the new URL is another origin
    std::error_code error;  // when failing: too_many_redirects, insecure_redirect, invalid_url
};

// Same scheme, host and port (default ports filled in, case-insensitive); false when either
// is not an absolute URL. The user's token goes only to the endpoint's origin.
bool same_origin(std::string_view a, std::string_view b);

// `current` is the absolute URL just requested; `hops` the redirects followed so far.
redirect_decision decide_redirect(std::string_view current, std::string_view location, unsigned hops,
                                  unsigned max_hops, redirect_mode mode);

// ---- proxies ---------------------------------------------------------------------------------

struct proxy_choice {
    std::string scheme;  // "http" (the proxy itself is spoken to in plain HTTP)
    std::string host;
    std::string port;
    std::string authorization;  // "Basic <base64(user:password)>" from the URL's userinfo, or empty
};

// The proxy for a request to scheme://host:port, or nullopt for a direct connection.
// Throws hfhub::error(invalid_url) on a malformed proxy URL.
std::optional<proxy_choice> select_proxy(const proxy_config& cfg, std::string_view scheme, std::string_view host,
                                         std::string_view port);
bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::string_view port);

// ---- errors ----------------------------------------------------------------------------------

// X-Request-Id, else X-Amzn-Trace-Id, else empty: what names the request in the server's logs.
std::string request_id_of(const header_fields& h);
// The server's message: X-Error-Message, else JSON "error" (string or list), "error_description",
// "errors[].message", else a short plain-text body.
std::string server_message(std::string_view x_error_message, std::string_view content_type, std::string_view body);

}  // namespace hfhub::http
