// Xet access tokens: what the Hub's xet-read-token / xet-write-token routes hand out for one
// repo and revision, cached and refreshed before they expire. The user's Hub token goes only to
// the Hub's origin (the token route); the CAS gets the Xet access token, never the Hub's.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/repo.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace hfhub::hub {

enum class xet_token_kind { read, write };

struct xet_token {
    std::string access_token;  // "Authorization: Bearer <it>" on the CAS
    std::string cas_url;       // the CAS's base URL, no trailing '/'
    std::int64_t exp = 0;      // expiry, unix seconds
};

// Refreshed this long before `exp` (hf_xet's margin is 30 s, huggingface.js's 60 s).
inline constexpr std::chrono::seconds xet_token_margin{30};

// The pure refresh decision: none yet, or within `margin` of its expiry (or past it).
bool xet_token_needs_refresh(const std::optional<xet_token>& current, std::chrono::system_clock::time_point now,
                             std::chrono::seconds margin = xet_token_margin);

// E/api/{type}s/{repo}/xet-{read|write}-token/{q(revision)}.
std::string xet_token_url(std::string_view endpoint, repo_type type, std::string_view repo_id, xet_token_kind kind,
                          std::string_view revision);

// The route's JSON ({"accessToken","casUrl","exp"}); a missing or mistyped field, an empty
// token or a CAS URL that is not http(s) is a protocol_error. `req`/`resp` give the diagnostics.
xet_token parse_xet_token(const http_request& req, const http_response& resp);

// A refresh URL the Hub gives (Link rel="xet-auth" or X-Xet-Refresh-Route), made absolute
// against the endpoint; a huggingface.co URL is moved to a custom endpoint as Python does.
std::string absolute_refresh_url(std::string_view endpoint, std::string_view route);

// Where a source's requests to the token route go, and as whom.
struct xet_token_request {
    std::string url;                    // the token route (xet_token_url or a refresh URL)
    std::optional<std::string> token;   // the user's Hub token; empty: the client's
    std::optional<proxy_config> proxies;
    std::string user_agent_suffix;
};

// One repo's token, shared by the requests of a transfer: co_get returns the cached token
// while it is fresh and fetches a new one otherwise. Safe from several coroutines and threads.
class xet_token_source {
public:
    using clock_fn = std::function<std::chrono::system_clock::time_point()>;

    xet_token_source(client& c, xet_token_request req, clock_fn now = {});

    boost::asio::awaitable<xet_token> co_get();
    // After the CAS refused `stale` (401): a new token, unless another caller already got one.
    boost::asio::awaitable<xet_token> co_refresh(std::string stale);
    // A token the Hub already sent (e.g. X-Xet-Access-Token headers), used until it nears expiry.
    void seed(xet_token t);
    std::uint64_t fetches() const;  // token requests made

private:
    struct state;
    client& c_;
    std::shared_ptr<state> s_;
};

}  // namespace hfhub::hub
