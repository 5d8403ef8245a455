// upload_file and upload_folder: one commit built from local files and patterns.
#include <hfhub/commit.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/repo_api.hpp>

#include "blocking_call.hpp"
#include "upload/payload.hpp"
#include "upload/pipeline.hpp"
#include "boundary.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <set>

namespace hfhub {

namespace asio = boost::asio;
namespace fs = std::filesystem;

static asio::awaitable<commit_info> co_upload_file_impl(client& c, std::string repo_id, commit_add file, commit_options opts);

asio::awaitable<commit_info> co_upload_file(client& c, std::string repo_id, commit_add file, commit_options opts) {
    return detail::co_public(co_upload_file_impl(c, std::move(repo_id), std::move(file), std::move(opts)));
}

static asio::awaitable<commit_info> co_upload_file_impl(client& c, std::string repo_id, commit_add file, commit_options opts) {
    if (opts.commit_message.empty()) opts.commit_message = "Upload " + upload::path_in_repo(file.path_in_repo) + " with hfhub";
    std::vector<commit_operation> ops{std::move(file)};
    co_return co_await co_create_commit(c, std::move(repo_id), std::move(ops), std::move(opts));
}

commit_info upload_file(client& c, std::string repo_id, commit_add file, commit_options opts) {
    return detail::run_blocking(c, co_upload_file(c, std::move(repo_id), std::move(file), std::move(opts)));
}

static asio::awaitable<commit_info> co_upload_folder_impl(client& c, std::string repo_id, fs::path folder, folder_options opts);

asio::awaitable<commit_info> co_upload_folder(client& c, std::string repo_id, fs::path folder, folder_options opts) {
    return detail::co_public(co_upload_folder_impl(c, std::move(repo_id), std::move(folder), std::move(opts)));
}

static asio::awaitable<commit_info> co_upload_folder_impl(client& c, std::string repo_id, fs::path folder, folder_options opts) {
    validate_repo_id(repo_id);
    std::error_code ec;
    if (!fs::is_directory(folder, ec))
        throw fs::filesystem_error("not a folder to upload", folder, ec ? ec : std::make_error_code(std::errc::not_a_directory));
    std::string prefix;
    if (!opts.path_in_repo.empty() && opts.path_in_repo != "/" && opts.path_in_repo != ".")
        prefix = upload::path_in_repo(opts.path_in_repo, true);
    opts.path_in_repo = prefix;

    // Regular files, following symlinks as Python's glob does.
    std::vector<std::string> local;
    for (auto it = fs::recursive_directory_iterator(folder, fs::directory_options::follow_directory_symlink);
         it != fs::recursive_directory_iterator(); ++it) {
        if (!it->is_regular_file()) continue;
        local.push_back(fs::relative(it->path(), folder).generic_string());
    }
    std::vector<std::string> remote;
    if (!opts.delete_patterns.empty()) {
        tree_query q;
        q.type = opts.type;
        q.revision = opts.revision;
        q.token = opts.token;
        q.path = prefix;
        q.recursive = true;
        try {
            auto entries = co_await co_list_repo_tree(c, repo_id, q);
            for (auto& e : entries)
                if (auto* f = std::get_if<repo_file>(&e)) remote.push_back(f->path);
        } catch (const error& e) {
            if (e.code() != hub_errc::entry_not_found) throw;  // no such folder yet: nothing to delete
        }
    }
    folder_plan plan = plan_folder(local, remote, opts);
    std::vector<commit_operation> ops;
    std::string with_slash = prefix.empty() ? "" : prefix + "/";
    for (auto& f : plan.upload) ops.push_back(commit_add::file(with_slash + f, folder / f));
    for (auto& d : plan.delete_paths) ops.push_back(commit_delete{d, false});
    if (opts.commit_message.empty()) opts.commit_message = "Upload folder using hfhub";
    co_return co_await co_create_commit(c, std::move(repo_id), std::move(ops), std::move(opts));
}

commit_info upload_folder(client& c, std::string repo_id, fs::path folder, folder_options opts) {
    return detail::run_blocking(c, co_upload_folder(c, std::move(repo_id), std::move(folder), std::move(opts)));
}

asio::awaitable<std::string> upload::co_ensure_target(client& c, const std::string& repo_id, repo_type type,
                                                      const std::string& branch, bool is_private, bool create_pr,
                                                      const std::optional<std::string>& token) {
    create_repo_options cro;
    cro.type = type;
    cro.is_private = is_private;
    cro.exist_ok = true;
    cro.token = token;
    repo_url_info made = co_await co_create_repo(c, repo_id, cro);
    std::string id = made.repo_id.empty() ? repo_id : made.repo_id;  // a bare name lands under the token's user
    if (!create_pr && !branch.empty() && branch != "main" && !branch.starts_with("refs/")) {
        branch_options bo;
        bo.type = type;
        bo.exist_ok = true;
        bo.token = token;
        co_await co_create_branch(c, id, branch, bo);
    }
    co_return id;
}

static asio::awaitable<commit_info> co_push_to_hub_impl(client& c, std::string repo_id, fs::path folder, push_options opts);

asio::awaitable<commit_info> co_push_to_hub(client& c, std::string repo_id, fs::path folder, push_options opts) {
    return detail::co_public(co_push_to_hub_impl(c, std::move(repo_id), std::move(folder), std::move(opts)));
}

static asio::awaitable<commit_info> co_push_to_hub_impl(client& c, std::string repo_id, fs::path folder, push_options opts) {
    std::string id = co_await upload::co_ensure_target(c, repo_id, opts.type, opts.revision, opts.is_private,
                                                       opts.create_pr, opts.token);
    if (opts.commit_message.empty()) opts.commit_message = "Push model using hfhub";
    folder_options fo = opts;
    co_return co_await co_upload_folder(c, std::move(id), std::move(folder), std::move(fo));
}

commit_info push_to_hub(client& c, std::string repo_id, fs::path folder, push_options opts) {
    return detail::run_blocking(c, co_push_to_hub(c, std::move(repo_id), std::move(folder), std::move(opts)));
}

}  // namespace hfhub
