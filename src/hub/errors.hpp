// What the Hub's error answers mean: X-Error-Code, X-Error-Message and the status mapped to
// hub_errc (protocol reference section 6), and the hfhub::error a failed call throws.
#pragma once

#include <hfhub/client.hpp>
#include <hfhub/error.hpp>

#include <string>
#include <string_view>
#include <system_error>

namespace hfhub::hub {

// X-Error-Code first, then X-Error-Message, then the status. No error below 400.
std::error_code map_status(unsigned status, std::string_view x_error_code, std::string_view x_error_message);

// The error for an answer of 400 or more to `method` on `url`: the mapped code, with the
// status, the request id and the server's message in its diagnostics.
hfhub::error status_error(std::string method, std::string url, const http_response& resp);

}  // namespace hfhub::hub
