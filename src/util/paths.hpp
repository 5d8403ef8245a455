// Pure checks on names and paths, shared by the server and the client.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace hfhub::util {

// A path inside a repo: a leading "/" or "./" is dropped; empty segments, ".", "..", ".git",
// backslashes, NUL and control characters are refused. Returns the normalized path, or nullopt
// with `why` set.
std::optional<std::string> normalize_repo_path(std::string_view path, std::string& why);

// One segment of a repo id (namespace or name): [A-Za-z0-9._-], 1..96 characters, no "--" or
// "..", not starting or ending with "-" or ".".
bool valid_repo_name_part(std::string_view part);

// A branch or tag name as git allows it (the subset the Hub accepts).
bool valid_ref_name(std::string_view name);

// Python fnmatch.fnmatchcase: '*' also spans '/', '?', '[seq]' and '[!seq]'.
bool fnmatch(std::string_view pattern, std::string_view name);

// Percent-decoding of one path segment or query value; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);
// Encodes everything except unreserved characters; keeps '/' when `keep_slash`.
std::string percent_encode(std::string_view s, bool keep_slash);

}  // namespace hfhub::util
