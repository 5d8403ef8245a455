#include "hub/xet_token.hpp"

#include <boost/json.hpp>
#include "util/paths.hpp"

#include <cstdint>
#include <mutex>

namespace hfhub::hub {

namespace json = boost::json;

namespace {

std::string origin_of(std::string_view url) {
    auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos) return {};
    auto path = url.find_first_of("/?#", scheme_end + 3);
    return std::string(url.substr(0, path));
}

}  // namespace

bool xet_token_needs_refresh(const std::optional<xet_token>& current, std::chrono::system_clock::time_point now,
                             std::chrono::seconds margin) {
    if (!current || current->access_token.empty()) return true;
    const auto expires = std::chrono::system_clock::time_point(std::chrono::seconds(current->exp));
    return now + margin >= expires;
}

std::string xet_token_url(std::string_view endpoint, repo_type type, std::string_view repo_id, xet_token_kind kind,
                          std::string_view revision) {
    std::string url(endpoint);
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += "/api/";
    url += plural(type);
    url += "/";
    url += repo_id;
    url += kind == xet_token_kind::read ? "/xet-read-token/" : "/xet-write-token/";
    url += util::percent_encode(revision, false);
    return url;
}

std::string absolute_refresh_url(std::string_view endpoint, std::string_view route) {
    std::string ep(endpoint);
    while (!ep.empty() && ep.back() == '/') ep.pop_back();
    if (route.starts_with("/")) return ep + std::string(route);
    constexpr std::string_view hf = "https://huggingface.co";
    if (route.starts_with(hf) && (route.size() == hf.size() || route[hf.size()] == '/'))
        return ep + std::string(route.substr(hf.size()));
    return std::string(route);
}

xet_token parse_xet_token(const http_request& req, const http_response& resp) {
    auto fail = [&](const char* what) {
        diagnostics d;
        d.status = resp.status;
        d.method = req.method;
        d.url = resp.url.empty() ? req.url : resp.url;
        if (auto id = resp.header("X-Request-Id")) d.request_id = std::string(*id);
        d.client_message = what;
        throw hfhub::error(client_errc::protocol_error, std::move(d));
    };
    boost::system::error_code ec;
    json::value v = json::parse(resp.body, ec);
    if (ec) fail("the Xet token answer is not JSON");
    const json::object* o = v.if_object();
    if (!o) fail("the Xet token answer is not a JSON object");
    auto str = [&](std::string_view key) -> std::string {
        auto* f = o->if_contains(key);
        if (!f || !f->is_string()) fail("the Xet token answer lacks accessToken or casUrl");
        return std::string(f->get_string());
    };
    xet_token t;
    t.access_token = str("accessToken");
    t.cas_url = str("casUrl");
    const json::value* exp = o->if_contains("exp");
    if (!exp) fail("the Xet token answer lacks exp");
    if (auto* i = exp->if_int64()) t.exp = *i;
    else if (auto* u = exp->if_uint64(); u && *u <= static_cast<std::uint64_t>(INT64_MAX)) t.exp = static_cast<std::int64_t>(*u);
    else if (auto* d = exp->if_double(); d && *d > -9.2e18 && *d < 9.2e18) t.exp = static_cast<std::int64_t>(*d);
    else fail("the Xet token's exp is not a number");
    while (!t.cas_url.empty() && t.cas_url.back() == '/') t.cas_url.pop_back();
    if (t.access_token.empty()) fail("the Xet token is empty");
    if (t.access_token.find_first_of("\r\n") != std::string::npos) fail("the Xet token has a line break");
    if (!t.cas_url.starts_with("http://") && !t.cas_url.starts_with("https://")) fail("casUrl is not an http(s) URL");
    return t;
}

struct xet_token_source::state {
    xet_token_request req;
    clock_fn now;
    std::mutex mu;
    std::optional<xet_token> current;
    std::uint64_t fetches = 0;
};

xet_token_source::xet_token_source(client& c, xet_token_request req, clock_fn now) : c_(c), s_(std::make_shared<state>()) {
    s_->req = std::move(req);
    s_->now = now ? std::move(now) : clock_fn([] { return std::chrono::system_clock::now(); });
}

void xet_token_source::seed(xet_token t) {
    std::lock_guard lk(s_->mu);
    s_->current = std::move(t);
}

std::uint64_t xet_token_source::fetches() const {
    std::lock_guard lk(s_->mu);
    return s_->fetches;
}

boost::asio::awaitable<xet_token> xet_token_source::co_get() {
    {
        std::lock_guard lk(s_->mu);
        if (!xet_token_needs_refresh(s_->current, s_->now())) co_return *s_->current;
    }
    co_return co_await co_refresh({});
}

boost::asio::awaitable<xet_token> xet_token_source::co_refresh(std::string stale) {
    auto s = s_;
    {
        std::lock_guard lk(s->mu);
        // Another caller already replaced the refused token with a fresh one.
        if (!stale.empty() && s->current && s->current->access_token != stale &&
            !xet_token_needs_refresh(s->current, s->now()))
            co_return *s->current;
        ++s->fetches;
    }
    http_request r;
    r.url = s->req.url;
    r.token = s->req.token;
    r.proxies = s->req.proxies;
    r.user_agent_suffix = s->req.user_agent_suffix;
    // The Hub token is for the endpoint's origin only (a refresh route elsewhere gets none).
    r.send_token = origin_of(r.url) == origin_of(c_.settings().endpoint);
    r.redirects = follow_redirects::relative_only;
    r.max_body = 1 << 20;
    http_response resp = co_await c_.co_request(r);
    xet_token t = parse_xet_token(r, resp);
    std::lock_guard lk(s->mu);
    // Keep whichever token lives longer: a slower concurrent refresh must not roll it back.
    if (!s->current || s->current->exp <= t.exp) s->current = t;
    co_return t;
}

}  // namespace hfhub::hub
