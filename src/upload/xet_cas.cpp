#include "upload/xet_cas.hpp"

#include "hub/errors.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <memory>

namespace hfhub::upload {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

hub::xet_token_request token_request(client& c, const std::string& repo_id, const commit_options& o,
                                     const lfs_transfer& first) {
    hub::xet_token_request r;
    // The batch's href is the write-token route the Hub wants (it knows a PR's revision).
    r.url = !first.upload_href.empty()
                ? first.upload_href
                : hub::xet_token_url(c.settings().endpoint, o.type, repo_id, hub::xet_token_kind::write, o.revision);
    r.token = o.token;
    return r;
}

// A first token the batch answer's header carried (X-Xet-*), when it names all three.
std::optional<hub::xet_token> seeded(const lfs_transfer& t) {
    std::optional<std::string> tok, cas, exp;
    for (auto& [k, v] : t.upload_headers) {
        std::string lk = k;
        for (auto& ch : lk) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (lk == "x-xet-access-token") tok = v;
        else if (lk == "x-xet-cas-url") cas = v;
        else if (lk == "x-xet-token-expiration") exp = v;
    }
    if (!tok || !cas || !exp || tok->empty()) return std::nullopt;
    if (!(cas->starts_with("http://") || cas->starts_with("https://"))) return std::nullopt;
    std::int64_t e = 0;
    for (char ch : *exp) {
        if (ch < '0' || ch > '9' || e > (std::int64_t(1) << 40)) return std::nullopt;
        e = e * 10 + (ch - '0');
    }
    while (!cas->empty() && cas->back() == '/') cas->pop_back();
    return hub::xet_token{*tok, *cas, e};
}

}  // namespace

cas_session::cas_session(client& c, const std::string& repo_id, const commit_options& o, const lfs_transfer& first)
    : c_(c), tokens_(c, token_request(c, repo_id, o, first)) {
    if (auto t = seeded(first)) tokens_.seed(std::move(*t));
}

void cas_session::fail_answer(const std::string& why) const {
    diagnostics d;
    d.url = last_url_;
    d.client_message = why;
    throw error(client_errc::protocol_error, std::move(d));
}

// Sends `r` to the CAS with the Xet token (never the Hub's): once more with a fresh token after
// a 401. Failures throw, except a 404 with accept::or_missing and any answer with
// accept::anything.
asio::awaitable<http_response> cas_session::co_send(http_request r, accept what) {
    hub::xet_token tok = co_await tokens_.co_get();
    const std::string path = r.url;
    for (int attempt = 0;; ++attempt) {
        http_request q = r;
        q.url = tok.cas_url + path;
        q.send_token = false;
        q.headers.emplace_back("Authorization", "Bearer " + tok.access_token);
        last_url_ = q.url;
        const std::string method = q.method;
        http_response resp = co_await c_.co_request(std::move(q), false);
        if (resp.status == 401 && attempt == 0) {
            hub::xet_token fresh = co_await tokens_.co_refresh(tok.access_token);
            tok = std::move(fresh);
            continue;
        }
        if (what == accept::anything || (resp.status == 404 && what == accept::or_missing)) co_return resp;
        if (resp.status >= 400) throw hub::status_error(method, last_url_, resp);
        co_return resp;
    }
}

asio::awaitable<std::optional<std::vector<std::uint8_t>>> cas_session::co_query_chunk(const xet::merkle_hash& chunk) {
    http_request r;
    r.url = "/v1/chunks/default-merkledb/" + chunk.hex();
    r.idempotent = true;
    http_response resp = co_await co_send(std::move(r), accept::or_missing);
    if (resp.status == 404) co_return std::nullopt;
    co_return std::vector<std::uint8_t>(resp.body.begin(), resp.body.end());
}

namespace {

// The bytes of `all` from `at`, at most 1 MiB.
asio::awaitable<std::string> co_piece(std::shared_ptr<const std::vector<std::uint8_t>> all, std::uint64_t at) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(1u << 20, all->size() - at));
    co_return std::string(reinterpret_cast<const char*>(all->data()) + at, n);
}

}  // namespace

asio::awaitable<bool> cas_session::co_upload_xorb(const xet::merkle_hash& hash,
                                                 std::shared_ptr<const std::vector<std::uint8_t>> bytes) {
    const std::string path = "/v1/xorbs/default/" + hash.hex();
    {
        // Content addressed: a xorb the CAS has is the same bytes. A CAS without HEAD answers
        // something else: then the xorb is sent.
        http_request h;
        h.method = "HEAD";
        h.url = path;
        h.idempotent = true;
        http_response resp = co_await co_send(std::move(h), accept::anything);
        if (resp.status >= 200 && resp.status < 300) co_return false;
    }
    http_request r;
    r.method = "POST";
    r.url = path;
    r.headers = {{"Content-Type", "application/octet-stream"}};
    // Streamed from the one buffer in pieces: a copy of 64 MiB per attempt would cost as much
    // memory again and, fresh pages each time, more time than sending it.
    auto shared = std::move(bytes);
    r.body_source_length = shared->size();
    r.body_source = [shared](std::uint64_t at) { return co_piece(shared, at); };
    r.idempotent = true;  // content addressed: sending it twice stores it once
    r.redirects = follow_redirects::none;
    http_response resp = co_await co_send(std::move(r), accept::success);
    (void)resp;
    co_return true;
}

asio::awaitable<void> cas_session::co_upload_shard(std::vector<std::uint8_t> bytes) {
    http_request r;
    r.method = "POST";
    r.url = "/v1/shards";
    r.headers = {{"Content-Type", "application/octet-stream"}};
    r.body.assign(bytes.begin(), bytes.end());
    bytes = {};
    r.idempotent = true;  // registering the same files twice changes nothing
    r.redirects = follow_redirects::none;
    // The CAS checks every term against the xorbs before it answers.
    r.read_timeout = std::max(c_.settings().timeouts.read, std::chrono::milliseconds(std::chrono::minutes(5)));
    http_response resp = co_await co_send(std::move(r), accept::success);
    boost::system::error_code ec;
    json::value v = json::parse(resp.body, ec);
    if (ec || !v.is_object()) fail_answer("the shard upload's answer is not a JSON object");
}

}  // namespace hfhub::upload
