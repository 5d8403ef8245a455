#include "hub/errors.hpp"

#include "http/policy.hpp"

namespace hfhub::hub {

namespace {

std::string_view trim(std::string_view s) {
    auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

}  // namespace

std::error_code map_status(unsigned status, std::string_view x_error_code, std::string_view x_error_message) {
    if (status < 400) return {};
    auto code = trim(x_error_code);
    if (code == "RevisionNotFound") return hub_errc::revision_not_found;
    if (code == "EntryNotFound") return hub_errc::entry_not_found;
    if (code == "GatedRepo") return hub_errc::gated_repo;
    if (trim(x_error_message) == "Access to this resource is disabled.") return hub_errc::disabled_repo;
    if (code == "RepoNotFound") return hub_errc::repo_not_found;
    switch (status) {
    case 400: return hub_errc::bad_request;
    case 401: return hub_errc::unauthorized;
    case 403: return hub_errc::forbidden;
    case 404: return hub_errc::not_found;
    case 409: return hub_errc::conflict;
    case 412: return hub_errc::precondition_failed;
    case 413: return hub_errc::payload_too_large;
    case 416: return hub_errc::range_not_satisfiable;
    case 422: return hub_errc::unprocessable;
    case 429: return hub_errc::rate_limited;
    default: break;
    }
    if (status >= 500 && status <= 599) return hub_errc::server_error;
    return hub_errc::http_error;
}

hfhub::error status_error(std::string method, std::string url, const http_response& resp) {
    std::string_view x_message = resp.header("X-Error-Message").value_or("");
    diagnostics d{.status = resp.status,
                  .method = std::move(method),
                  .url = std::move(url),
                  .request_id = http::request_id_of(resp.headers),
                  .server_message = http::server_message(x_message, resp.header("Content-Type").value_or(""), resp.body)};
    return hfhub::error(map_status(resp.status, resp.header("X-Error-Code").value_or(""), x_message), std::move(d));
}

}  // namespace hfhub::hub
