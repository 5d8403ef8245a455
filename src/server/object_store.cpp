#include "server/object_store.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace hfhub::server {

disk_lfs_storage::disk_lfs_storage(fs::path dir) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
}

fs::path disk_lfs_storage::path_of(std::string_view sha) const {
    // Two levels of fan-out keep folders small for big stores.
    return dir_ / std::string(sha.substr(0, 2)) / std::string(sha);
}

std::optional<std::uint64_t> disk_lfs_storage::stat(std::string_view sha) {
    if (!util::is_hex(sha, 64)) return std::nullopt;
    struct stat st{};
    if (::stat(path_of(sha).c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.st_size);
}

void disk_lfs_storage::put_verified(std::string_view sha, const fs::path& file) {
    fs::path target = path_of(sha);
    fs::create_directories(target.parent_path());
    {
        util::unique_fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) util::throw_errno("open", file);
        util::fsync_fd(fd.get(), file);
    }
    util::rename_durable(file, target);
}

std::optional<fs::path> disk_lfs_storage::local_path(std::string_view sha) {
    if (!stat(sha)) return std::nullopt;
    return path_of(sha);
}

void disk_lfs_storage::remove(std::string_view sha) {
    if (!util::is_hex(sha, 64)) return;
    std::error_code ec;
    fs::remove(path_of(sha), ec);
    if (ec) throw std::system_error(ec, "remove " + path_of(sha).string());
}

blob_store::blob_store(fs::path dir, fs::path tmp_dir) : dir_(std::move(dir)), tmp_(std::move(tmp_dir)) {
    fs::create_directories(dir_);
    fs::create_directories(tmp_);
}

fs::path blob_store::path_of(std::string_view sha1) const {
    return dir_ / std::string(sha1.substr(0, 2)) / std::string(sha1);
}

bool blob_store::exists(std::string_view sha1) const {
    return util::is_hex(sha1, 40) && ::access(path_of(sha1).c_str(), F_OK) == 0;
}

std::string blob_store::put(std::string_view content) {
    std::string id = util::git_blob_sha1(content);
    if (exists(id)) return id;
    fs::path target = path_of(id);
    fs::create_directories(target.parent_path());
    // Staged in tmp_ (wiped at start), not beside the target: a kill mid-write must not
    // leave a stray file in objects/ that nothing ever removes.
    util::write_file_atomic(target, content, tmp_);
    return id;
}

namespace {
void sync_filesystem(const fs::path& dir) {
    util::unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) util::throw_errno("open", dir);
    if (::syncfs(fd.get()) != 0) util::throw_errno("syncfs", dir);
}
}  // namespace

void blob_store::put_all(const std::vector<const std::string*>& contents) {
    if (contents.size() <= 2) {
        for (auto* c : contents) put(*c);
        return;
    }
    struct staged {
        fs::path tmp, target;
    };
    std::vector<staged> pending;
    std::set<std::string> ids;
    try {
        for (auto* c : contents) {
            std::string id = util::git_blob_sha1(*c);
            if (exists(id) || !ids.insert(id).second) continue;
            fs::path tmp = tmp_ / (id + ".tmp." + util::unique_suffix());
            util::unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
            if (!fd) util::throw_errno("create", tmp);
            pending.push_back({tmp, path_of(id)});
            util::write_all(fd.get(), c->data(), c->size(), tmp);
        }
        if (pending.empty()) return;
        // Only durable data gets a name in objects/: a crash never leaves a torn blob there.
        sync_filesystem(tmp_);
        for (auto& t : pending) {
            fs::create_directories(t.target.parent_path());
            if (::rename(t.tmp.c_str(), t.target.c_str()) != 0) util::throw_errno("rename to", t.target);
            t.tmp.clear();
        }
        sync_filesystem(dir_);
    } catch (...) {
        for (auto& t : pending)
            if (!t.tmp.empty()) ::unlink(t.tmp.c_str());
        throw;
    }
}

}  // namespace hfhub::server
