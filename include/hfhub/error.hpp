// Errors: what the Hub said (hub_errc) and what the client found (client_errc), both
// std::error_code enums, thrown as one hfhub::error carrying diagnostics. No token ever
// appears in a message.
#pragma once

#include <optional>
#include <string>
#include <system_error>

namespace hfhub {

enum class hub_errc {
    repo_not_found = 1,
    revision_not_found,
    entry_not_found,
    gated_repo,
    disabled_repo,
    unauthorized,
    forbidden,
    not_found,
    conflict,
    precondition_failed,
    payload_too_large,
    range_not_satisfiable,
    unprocessable,
    rate_limited,
    bad_request,
    server_error,
    http_error,  // any other non-2xx
};

enum class client_errc {
    invalid_repo_id = 1,
    invalid_path,
    checksum_mismatch,
    local_entry_not_found,
    offline,
    lock_timeout,
    cancelled,
    timeout,
    connection_failed,
    tls_error,
    proxy_error,
    too_many_redirects,
    insecure_redirect,
    body_too_large,
    protocol_error,
    retries_exhausted,
    invalid_url,
    invalid_argument,  // an option or operation the call can't carry out as given
    local_file_changed,  // a file changed between hashing and upload
    io_error,            // a local file or folder could not be read or written
    would_deadlock,      // a blocking call made on a thread its own operation needs
    unsupported_format,  // a file hfhub can't read, e.g. weights only as pytorch_model.bin (pickle)
};

const std::error_category& hub_category() noexcept;
const std::error_category& client_category() noexcept;
std::error_code make_error_code(hub_errc e) noexcept;
std::error_code make_error_code(client_errc e) noexcept;

// The enumerator's name ("checksum_mismatch", "repo_not_found"), for logs and scripts;
// "<category>:<value>" for codes of other categories.
std::string error_name(const std::error_code& ec);

// What is known about the request that failed.
struct diagnostics {
    unsigned status = 0;  // 0 when no response arrived
    std::string method;
    std::string url;  // never with credentials
    std::string request_id;
    std::string server_message;  // what the server said (X-Error-Message or its error body)
    std::string client_message;  // what hfhub found wrong on its side
};

class error : public std::system_error {
public:
    error(std::error_code ec, diagnostics d);
    const diagnostics& diag() const noexcept { return diag_; }
    // "<name>: <message> (<status> <method> <url>, request id <id>): <client message>: <server message>"
    const char* what() const noexcept override;

private:
    diagnostics diag_;
    std::string what_;
};

}  // namespace hfhub

template <>
struct std::is_error_code_enum<hfhub::hub_errc> : std::true_type {};
template <>
struct std::is_error_code_enum<hfhub::client_errc> : std::true_type {};
