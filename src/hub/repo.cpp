#include <hfhub/error.hpp>
#include <hfhub/repo.hpp>

#include "util/paths.hpp"

namespace hfhub {

std::string_view to_string(repo_type t) {
    switch (t) {
        case repo_type::dataset: return "dataset";
        case repo_type::space: return "space";
        case repo_type::model: break;
    }
    return "model";
}

std::string_view plural(repo_type t) {
    switch (t) {
        case repo_type::dataset: return "datasets";
        case repo_type::space: return "spaces";
        case repo_type::model: break;
    }
    return "models";
}

std::string_view url_prefix(repo_type t) {
    switch (t) {
        case repo_type::dataset: return "datasets/";
        case repo_type::space: return "spaces/";
        case repo_type::model: break;
    }
    return "";
}

std::optional<repo_type> parse_repo_type(std::string_view s) {
    for (repo_type t : {repo_type::model, repo_type::dataset, repo_type::space})
        if (s == to_string(t) || s == plural(t)) return t;
    return std::nullopt;
}

void validate_repo_id(std::string_view repo_id) {
    auto slash = repo_id.find('/');
    bool ok = slash == std::string_view::npos
                  ? util::valid_repo_name_part(repo_id)
                  : util::valid_repo_name_part(repo_id.substr(0, slash)) &&
                        util::valid_repo_name_part(repo_id.substr(slash + 1));  // a second '/' fails here
    if (!ok)
        throw error(client_errc::invalid_repo_id,
                    diagnostics{.client_message = "invalid repo id '" + std::string(repo_id) +
                                                  "': expected 'name' or 'namespace/name' of [A-Za-z0-9._-], "
                                                  "no '--' or '..', at most 96 characters each"});
}

std::string repo_folder_name(repo_type t, std::string_view repo_id) {
    std::string out(plural(t));
    out += "--";
    for (char c : repo_id) {
        if (c == '/')
            out += "--";
        else
            out.push_back(c);
    }
    return out;
}

void validate_repo_path(std::string_view path) {
    std::string why;
    // normalize_repo_path forgives a leading "/" or "./" (the server's leniency); a caller's
    // path must already be in the canonical form.
    if (path.starts_with('/'))
        why = "path is absolute";
    else if (path.starts_with("./"))
        why = "path has a '.' segment";
    else if (util::normalize_repo_path(path, why))
        return;
    throw error(client_errc::invalid_path,
                diagnostics{.client_message = "invalid path in repo '" + std::string(path) + "': " + why});
}


bool path_matches(std::string_view path, const std::vector<std::string>& allow, const std::vector<std::string>& ignore) {
    auto norm = [](std::string p) {
        for (char& ch : p)
            if (ch == '\\') ch = '/';
        if (p.ends_with('/')) p += '*';
        return p;
    };
    auto any = [&](const std::vector<std::string>& pats) {
        for (auto& p : pats)
            if (util::fnmatch(norm(p), path)) return true;
        return false;
    };
    if (!allow.empty() && !any(allow)) return false;
    return ignore.empty() || !any(ignore);
}

}  // namespace hfhub
