// Repository identity: types, ids, and the names the Hub and the cache give them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfhub {

enum class repo_type { model, dataset, space };

std::string_view to_string(repo_type t);    // "model"
std::string_view plural(repo_type t);       // "models"
std::string_view url_prefix(repo_type t);   // "", "datasets/", "spaces/" (git-style URLs)
std::optional<repo_type> parse_repo_type(std::string_view s);  // "model" or "models", ...

// "name" or "namespace/name": [A-Za-z0-9._-], no "--" or "..", not starting or ending with
// '-' or '.', at most 96 characters. Throws hfhub::error(client_errc::invalid_repo_id).
void validate_repo_id(std::string_view repo_id);

// "models--org--name", the cache folder of a repo (the Python client's repo_folder_name).
std::string repo_folder_name(repo_type t, std::string_view repo_id);

// A file path inside a repo: no "..", "." or empty segments, not absolute, no backslash or NUL.
// Throws hfhub::error(client_errc::invalid_path).
void validate_repo_path(std::string_view path);

// Python's filter of repo paths: allowed by some allow pattern (when any) and by no ignore pattern.
// A pattern ending in '/' means everything under that folder.
bool path_matches(std::string_view path, const std::vector<std::string>& allow, const std::vector<std::string>& ignore);

}  // namespace hfhub
