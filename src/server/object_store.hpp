// Where LFS objects and regular blobs live. The LFS side is an interface so that an
// S3-compatible backend can replace the disk later; the disk backend serves files by path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

namespace hfhub::server {

namespace fs = std::filesystem;

class lfs_storage {
public:
    virtual ~lfs_storage() = default;
    // Size of a stored object, or nullopt.
    virtual std::optional<std::uint64_t> stat(std::string_view sha256) = 0;
    // Takes a local file already verified against `sha256` and stores it (moved, not copied,
    // where it can be). After a crash the object is either fully there or absent.
    virtual void put_verified(std::string_view sha256, const fs::path& file) = 0;
    // A local path to read the object from, for backends that have one.
    virtual std::optional<fs::path> local_path(std::string_view sha256) = 0;
    // Drops the object's bytes (a permanent deletion); no error if it is absent.
    virtual void remove(std::string_view sha256) = 0;
};

class disk_lfs_storage final : public lfs_storage {
public:
    explicit disk_lfs_storage(fs::path dir);
    std::optional<std::uint64_t> stat(std::string_view sha256) override;
    void put_verified(std::string_view sha256, const fs::path& file) override;
    std::optional<fs::path> local_path(std::string_view sha256) override;
    void remove(std::string_view sha256) override;

private:
    fs::path path_of(std::string_view sha256) const;
    fs::path dir_;
};

// Regular (git-stored) file contents, by git blob SHA-1.
class blob_store {
public:
    blob_store(fs::path dir, fs::path tmp_dir);
    // Stores `content` unless present; returns its blob id.
    std::string put(std::string_view content);
    // Stores many at once, durably: data first, one flush, then the renames and one more
    // flush, instead of two fsyncs per blob (a 10,000-file commit would spend minutes).
    void put_all(const std::vector<const std::string*>& contents);
    fs::path path_of(std::string_view sha1) const;
    bool exists(std::string_view sha1) const;

private:
    fs::path dir_;
    fs::path tmp_;
};

}  // namespace hfhub::server
