#include "upload/payload.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/error.hpp>
#include <hfhub/repo.hpp>

#include "util/hash.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

namespace hfhub::upload {

namespace json = boost::json;

namespace {
[[noreturn]] void bad_path(std::string_view raw, const std::string& why) {
    diagnostics d;
    d.client_message = "invalid path in repo '" + std::string(raw.substr(0, 200)) + "': " + why;
    throw error(client_errc::invalid_path, std::move(d));
}
}  // namespace

std::string path_in_repo(std::string_view raw, bool folder) {
    std::string p(raw);
    if (p.starts_with('/')) p.erase(0, 1);
    if (p == "." || p == ".." || p.starts_with("../")) bad_path(raw, "it leaves the repo");
    if (p.starts_with("./")) p.erase(0, 2);
    if (folder)
        while (p.ends_with('/')) p.pop_back();
    std::string_view rest = p;
    while (true) {
        auto slash = rest.find('/');
        auto seg = rest.substr(0, slash);
        if (seg == ".git" || seg == ".cache") bad_path(raw, "'" + std::string(seg) + "' is reserved");
        if (slash == std::string_view::npos) break;
        rest.remove_prefix(slash + 1);
    }
    if (p.empty()) bad_path(raw, "it is empty");
    try {
        validate_repo_path(p);
    } catch (const error& e) {
        bad_path(raw, e.diag().client_message.empty() ? "not a valid path" : e.diag().client_message);
    }
    return p;
}

std::string commit_payload(const payload_header& h, const std::vector<payload_op>& ops) {
    std::string out;
    auto line = [&](std::string_view key, json::object value) {
        out += json::serialize(json::object{{"key", key}, {"value", std::move(value)}});
        out += '\n';
    };
    json::object head{{"summary", h.summary}, {"description", h.description}};
    if (h.parent_commit) head["parentCommit"] = *h.parent_commit;
    line("header", std::move(head));
    for (const auto& op : ops) {
        switch (op.what) {
        case payload_op::kind::file:
            line("file", {{"content", util::base64_encode(op.content)}, {"path", op.path}, {"encoding", "base64"}});
            break;
        case payload_op::kind::lfs_file: {
            json::object v{{"path", op.path}, {"algo", "sha256"}, {"oid", op.oid}};
            if (op.size) v["size"] = *op.size;
            line("lfsFile", std::move(v));
            break;
        }
        case payload_op::kind::deleted_file:
            line("deletedFile", {{"path", op.path}});
            break;
        case payload_op::kind::deleted_folder:
            line("deletedFolder", {{"path", op.path.ends_with('/') ? op.path : op.path + "/"}});
            break;
        }
    }
    return out;
}

std::vector<std::pair<std::size_t, std::size_t>> batches(std::size_t n, std::size_t size) {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    size = std::max<std::size_t>(size, 1);
    for (std::size_t b = 0; b < n; b += size) out.emplace_back(b, std::min(n, b + size));
    return out;
}

std::optional<unsigned> pr_number(std::string_view url) {
    auto at = url.rfind("/discussions/");
    if (at == std::string_view::npos) return std::nullopt;
    auto digits = url.substr(at + 13);
    if (digits.empty() || digits.size() > 9) return std::nullopt;
    unsigned n = 0;
    for (char ch : digits) {
        if (ch < '0' || ch > '9') return std::nullopt;
        n = n * 10 + static_cast<unsigned>(ch - '0');
    }
    return n;
}

}  // namespace hfhub::upload

namespace hfhub {

folder_plan plan_folder(const std::vector<std::string>& local_files, const std::vector<std::string>& remote_files,
                        const folder_options& opts) {
    // Python's upload_folder always leaves these out, whatever the patterns say.
    static const std::vector<std::string> always_ignored = {
        ".git", ".git/*", "*/.git", "**/.git/**",
        ".cache/huggingface", ".cache/huggingface/*", "*/.cache/huggingface", "**/.cache/huggingface/**"};
    std::string prefix = opts.path_in_repo;
    while (prefix.starts_with('/')) prefix.erase(0, 1);
    while (prefix.ends_with('/')) prefix.pop_back();
    if (!prefix.empty()) prefix += '/';

    folder_plan plan;
    std::set<std::string> added;
    std::vector<std::string> files = local_files;
    for (auto& f : files) std::replace(f.begin(), f.end(), '\\', '/');
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        if (!path_matches(f, opts.allow_patterns, opts.ignore_patterns)) continue;
        if (!path_matches(f, {}, always_ignored)) continue;
        plan.upload.push_back(f);
        added.insert(prefix + f);
    }
    if (!opts.delete_patterns.empty()) {
        std::vector<std::string> remote = remote_files;
        std::sort(remote.begin(), remote.end());
        for (const auto& r : remote) {
            if (!r.starts_with(prefix)) continue;
            std::string rel = r.substr(prefix.size());
            if (rel == ".gitattributes" || r == ".gitattributes" || added.count(r)) continue;
            if (path_matches(rel, opts.delete_patterns, {})) plan.delete_paths.push_back(r);
        }
    }
    return plan;
}

}  // namespace hfhub
