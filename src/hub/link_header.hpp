// RFC 8288 Link header parsing, for the Hub's paginated listings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hfhub::hub {

// The target of the first link with rel "next" in one Link header value, e.g.
// `<https://h/api/x?cursor=a>; rel="next"`. Tolerates no space after ';', unquoted or
// multi-token rel values, other params and several comma-separated links. nullopt if none;
// `malformed` is set when the value does not parse (the caller must not guess the last page).
std::optional<std::string> next_link(std::string_view header_value, bool& malformed);

}  // namespace hfhub::hub
