#include "util/fs.hpp"

#include "util/hash.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

namespace hfhub::util {

unique_fd& unique_fd::operator=(unique_fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.release();
    }
    return *this;
}

unique_fd::~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
}

void throw_errno(std::string_view what, const fs::path& p) {
    throw std::system_error(errno, std::generic_category(),
                            std::string(what) + " " + p.string());
}

void write_all(int fd, const void* data, std::size_t n, const fs::path& p) {
    auto* c = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t w = ::write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", p);
        }
        c += w;
        n -= static_cast<std::size_t>(w);
    }
}

void pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t off, const fs::path& p) {
    auto* c = static_cast<const char*>(data);
    while (n > 0) {
        ssize_t w = ::pwrite(fd, c, n, static_cast<off_t>(off));
        if (w < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", p);
        }
        c += w;
        n -= static_cast<std::size_t>(w);
        off += static_cast<std::uint64_t>(w);
    }
}

void fsync_fd(int fd, const fs::path& p) {
    if (::fsync(fd) != 0) throw_errno("fsync", p);
}

void fsync_dir(const fs::path& dir) {
    unique_fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) throw_errno("open", dir);
    fsync_fd(fd.get(), dir);
}

std::string unique_suffix() { return std::to_string(::getpid()) + "." + random_hex(6); }

void write_file_atomic(const fs::path& target, std::string_view content, const fs::path& temp_dir) {
    fs::path tmp = temp_dir.empty() ? target : temp_dir / target.filename();
    tmp += ".tmp." + unique_suffix();
    {
        unique_fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
        if (!fd) throw_errno("create", tmp);
        try {
            write_all(fd.get(), content.data(), content.size(), tmp);
            fsync_fd(fd.get(), tmp);
        } catch (...) {
            ::unlink(tmp.c_str());
            throw;
        }
    }
    rename_durable(tmp, target);
}

void rename_durable(const fs::path& from, const fs::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) {
        int e = errno;
        ::unlink(from.c_str());
        errno = e;
        throw_errno("rename to", to);
    }
    fsync_dir(to.parent_path());
}

std::optional<std::string> read_file(const fs::path& p) {
    unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return std::nullopt;
    std::string out;
    out.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < out.size()) {
        ssize_t r = ::read(fd.get(), out.data() + got, out.size() - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;
        }
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
}

}  // namespace hfhub::util
