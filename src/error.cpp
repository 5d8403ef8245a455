#include <hfhub/error.hpp>

#include <string>
#include <string_view>

namespace hfhub {
namespace {

struct errc_text {
    const char* name;
    const char* message;
};

errc_text hub_text(int v) {
    switch (static_cast<hub_errc>(v)) {
    case hub_errc::repo_not_found: return {"repo_not_found", "Repository not found"};
    case hub_errc::revision_not_found: return {"revision_not_found", "Revision not found"};
    case hub_errc::entry_not_found: return {"entry_not_found", "File not found in the repository"};
    case hub_errc::gated_repo: return {"gated_repo", "Access to this gated repository is restricted"};
    case hub_errc::disabled_repo: return {"disabled_repo", "Repository is disabled"};
    case hub_errc::unauthorized: return {"unauthorized", "Unauthorized: missing or invalid token"};
    case hub_errc::forbidden: return {"forbidden", "Forbidden"};
    case hub_errc::not_found: return {"not_found", "Not found"};
    case hub_errc::conflict: return {"conflict", "Conflict"};
    case hub_errc::precondition_failed:
        return {"precondition_failed", "Precondition failed (the branch moved since the parent commit)"};
    case hub_errc::payload_too_large: return {"payload_too_large", "Payload too large"};
    case hub_errc::range_not_satisfiable: return {"range_not_satisfiable", "Requested range not satisfiable"};
    case hub_errc::unprocessable: return {"unprocessable", "Unprocessable request"};
    case hub_errc::rate_limited: return {"rate_limited", "Rate limited: too many requests"};
    case hub_errc::bad_request: return {"bad_request", "Bad request"};
    case hub_errc::server_error: return {"server_error", "Server error"};
    case hub_errc::http_error: return {"http_error", "HTTP error"};
    }
    return {nullptr, "Unknown Hub error"};
}

errc_text client_text(int v) {
    switch (static_cast<client_errc>(v)) {
    case client_errc::invalid_repo_id: return {"invalid_repo_id", "Invalid repository id"};
    case client_errc::invalid_path: return {"invalid_path", "Invalid path in repository"};
    case client_errc::checksum_mismatch: return {"checksum_mismatch", "Downloaded data does not match its checksum"};
    case client_errc::local_entry_not_found:
        return {"local_entry_not_found", "File not found in the local cache and the Hub was not reachable"};
    case client_errc::offline: return {"offline", "Offline mode is enabled"};
    case client_errc::lock_timeout: return {"lock_timeout", "Timed out waiting for a cache lock"};
    case client_errc::cancelled: return {"cancelled", "Operation cancelled"};
    case client_errc::timeout: return {"timeout", "Operation timed out"};
    case client_errc::connection_failed: return {"connection_failed", "Connection failed"};
    case client_errc::tls_error: return {"tls_error", "TLS error"};
    case client_errc::proxy_error: return {"proxy_error", "Proxy error"};
    case client_errc::too_many_redirects: return {"too_many_redirects", "Too many redirects"};
    case client_errc::insecure_redirect: return {"insecure_redirect", "Refused a redirect from https to http"};
    case client_errc::body_too_large: return {"body_too_large", "Response body too large"};
    case client_errc::protocol_error: return {"protocol_error", "HTTP protocol error"};
    case client_errc::retries_exhausted: return {"retries_exhausted", "Retries exhausted"};
    case client_errc::invalid_url: return {"invalid_url", "Invalid URL"};
    case client_errc::invalid_argument: return {"invalid_argument", "Invalid argument"};
    case client_errc::local_file_changed: return {"local_file_changed", "A local file changed during the upload"};
    case client_errc::io_error: return {"io_error", "Local I/O error"};
    case client_errc::would_deadlock:
        return {"would_deadlock", "A blocking call was made on a thread that runs the client's executor"};
    case client_errc::unsupported_format: return {"unsupported_format", "A file is in a format hfhub does not read"};
    }
    return {nullptr, "Unknown client error"};
}

class hub_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "hfhub.hub"; }
    std::string message(int v) const override { return hub_text(v).message; }
};

class client_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "hfhub.client"; }
    std::string message(int v) const override { return client_text(v).message; }
};

// Defensive: the contract says diagnostics URLs carry no credentials, but a userinfo slipping
// through would leak a token into logs. Drops everything between "//" and the last '@' of the
// authority.
std::string strip_userinfo(std::string_view url) {
    auto scheme_end = url.find("://");
    std::size_t auth_begin;
    if (scheme_end != std::string_view::npos)
        auth_begin = scheme_end + 3;
    else if (url.starts_with("//"))
        auth_begin = 2;
    else
        return std::string(url);
    auto auth_end = url.find_first_of("/?#", auth_begin);
    if (auth_end == std::string_view::npos) auth_end = url.size();
    auto at = url.substr(auth_begin, auth_end - auth_begin).rfind('@');
    if (at == std::string_view::npos) return std::string(url);
    std::string out(url.substr(0, auth_begin));
    out += url.substr(auth_begin + at + 1);
    return out;
}

std::string compose(const std::error_code& ec, const diagnostics& d) {
    std::string out = error_name(ec);
    out += ": ";
    out += ec.message();

    std::string ctx;
    if (d.status != 0) ctx += std::to_string(d.status);
    if (!d.method.empty()) {
        if (!ctx.empty()) ctx += ' ';
        ctx += d.method;
    }
    if (!d.url.empty()) {
        if (!ctx.empty()) ctx += ' ';
        ctx += strip_userinfo(d.url);
    }
    if (!d.request_id.empty()) {
        if (!ctx.empty()) ctx += ", ";
        ctx += "request id ";
        ctx += d.request_id;
    }
    if (!ctx.empty()) out += " (" + ctx + ")";
    if (!d.client_message.empty()) out += ": " + d.client_message;
    if (!d.server_message.empty()) out += ": " + d.server_message;
    return out;
}

}  // namespace

const std::error_category& hub_category() noexcept {
    static const hub_category_impl c;
    return c;
}

const std::error_category& client_category() noexcept {
    static const client_category_impl c;
    return c;
}

std::error_code make_error_code(hub_errc e) noexcept { return {static_cast<int>(e), hub_category()}; }
std::error_code make_error_code(client_errc e) noexcept { return {static_cast<int>(e), client_category()}; }

std::string error_name(const std::error_code& ec) {
    const char* name = nullptr;
    if (ec.category() == hub_category())
        name = hub_text(ec.value()).name;
    else if (ec.category() == client_category())
        name = client_text(ec.value()).name;
    if (name) return name;
    return std::string(ec.category().name()) + ':' + std::to_string(ec.value());
}

error::error(std::error_code ec, diagnostics d) : std::system_error(ec), diag_(std::move(d)) {
    diag_.url = strip_userinfo(diag_.url);
    what_ = compose(ec, diag_);
}

const char* error::what() const noexcept { return what_.c_str(); }

}  // namespace hfhub
