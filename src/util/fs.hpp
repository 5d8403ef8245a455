// Durable file operations: what makes a write survive a crash whole or not at all.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace hfhub::util {

namespace fs = std::filesystem;

// An owned POSIX file descriptor.
class unique_fd {
public:
    unique_fd() = default;
    explicit unique_fd(int fd) : fd_(fd) {}
    unique_fd(unique_fd&& o) noexcept : fd_(o.release()) {}
    unique_fd& operator=(unique_fd&& o) noexcept;
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd();

    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }

private:
    int fd_ = -1;
};

// Throws std::system_error naming the path.
[[noreturn]] void throw_errno(std::string_view what, const fs::path& p);

void write_all(int fd, const void* data, std::size_t n, const fs::path& p);
void pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t offset, const fs::path& p);
void fsync_fd(int fd, const fs::path& p);
void fsync_dir(const fs::path& dir);

// Writes to a unique temp file (beside `target`, or in `temp_dir` on the same file system),
// fsyncs, renames over `target`, fsyncs the folder.
void write_file_atomic(const fs::path& target, std::string_view content, const fs::path& temp_dir = {});

// Renames `from` over `to` and makes the rename durable.
void rename_durable(const fs::path& from, const fs::path& to);

std::optional<std::string> read_file(const fs::path& p);

// A name no other process or thread will pick: "<pid>.<random>".
std::string unique_suffix();

}  // namespace hfhub::util
