// Hashing the adds of a commit: one read pass per file, on the client's blocking pool.
#include "upload/commit_steps.hpp"

#include "blocking_call.hpp"
#include "util/blocking.hpp"
#include "util/for_each.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"
#include "util/read_ahead.hpp"

#include <algorithm>
#include <atomic>
#include <fcntl.h>
#include <functional>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace hfhub::upload {

namespace asio = boost::asio;
namespace fs = std::filesystem;

void file_error(const fs::path& p, int err, const char* what) {
    throw fs::filesystem_error(what, p, std::error_code(err, std::generic_category()));
}

namespace {

constexpr std::size_t keep_in_memory = 64 << 10;      // small files aren't read twice
constexpr std::uint64_t read_ahead_from = 64ull << 20;   // a reading thread pays off from here

[[noreturn]] void stopped() { throw error(client_errc::cancelled, {.client_message = "cancelled while hashing"}); }

// One read pass: sha256 always, git's blob SHA-1 when the file could be regular.
// `stop` (when given) is checked between reads: a cancelled commit stops hashing within one read.
// A big file is read ahead by a helper on `pool`, the pool this runs on.
void hash_add(local_add& a, const asio::any_io_executor& pool, const std::atomic<bool>* stop = nullptr) {
    if (auto& pre = a.src->preuploaded) {
        a.size = pre->size;
        a.sha256 = pre->sha256;
        a.git_sha1 = pre->git_sha1;
        a.sample = pre->sample;
        return;
    }
    if (auto* b = a.bytes()) {
        a.size = b->size();
        a.sample = b->substr(0, 512);
        a.sha256 = util::sha256_hex(*b);
        a.git_sha1 = util::git_blob_sha1(*b);
        return;
    }
    const fs::path& p = *a.file();
    util::unique_fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) file_error(p, errno, "cannot open a file to upload");
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) file_error(p, errno, "cannot stat a file to upload");
    if (!S_ISREG(st.st_mode)) file_error(p, EISDIR, "not a regular file");
    a.size = static_cast<std::uint64_t>(st.st_size);
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    util::hasher sha(util::hash_algo::sha256);
    std::optional<util::git_blob_hasher> git;
    if (a.size <= regular_limit) git.emplace(a.size);
    if (a.size <= keep_in_memory) a.content.emplace();
    std::uint64_t done = 0;
    bool read_all = false;
    if (a.size >= read_ahead_from && !git && !a.content) {
        // Only the sha256: read by a helper on the pool, so the copy out of the page cache
        // overlaps the hash instead of adding to it (one file is one hash, on one core).
        auto r = util::read_ahead(pool, fd.get(), 4u << 20, a.size, [&](const char* d, std::size_t n) {
            if (stop && *stop) stopped();
            if (a.sample.size() < 512) a.sample.append(d, std::min<std::size_t>(512 - a.sample.size(), n));
            sha.update(d, n);
        });
        if (r.error) file_error(p, r.error, "cannot read a file to upload");
        done = r.bytes;
        read_all = true;
    }
    std::vector<char> buf(read_all ? 0 : std::min<std::uint64_t>(std::max<std::uint64_t>(a.size, 1), 4u << 20));
    while (!read_all) {
        if (stop && *stop) stopped();
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            file_error(p, errno, "cannot read a file to upload");
        }
        if (n == 0) break;
        if (a.sample.size() < 512) a.sample.append(buf.data(), std::min<std::size_t>(512 - a.sample.size(), n));
        sha.update(buf.data(), static_cast<std::size_t>(n));
        if (git) git->update(buf.data(), static_cast<std::size_t>(n));
        if (a.content) a.content->append(buf.data(), static_cast<std::size_t>(n));
        done += static_cast<std::uint64_t>(n);
        if (done > a.size) break;
    }
    if (done != a.size) {
        diagnostics d;
        d.client_message = p.string() + " changed size while it was hashed";
        throw error(client_errc::local_file_changed, std::move(d));
    }
    a.sha256 = sha.hex_digest();
    if (git) a.git_sha1 = git->hex_digest();
}

}  // namespace

// The bytes of a regular file, checked against the hash the Hub was told about.
std::string regular_content(const local_add& a) {
    if (a.content) return *a.content;
    if (auto* b = a.bytes()) return *b;
    auto data = util::read_file(*a.file());
    if (!data) file_error(*a.file(), errno ? errno : EIO, "cannot read a file to upload");
    if (util::git_blob_sha1(*data) != a.git_sha1) {
        diagnostics d;
        d.client_message = a.file()->string() + " changed after it was hashed";
        throw error(client_errc::local_file_changed, std::move(d));
    }
    return std::move(*data);
}

asio::awaitable<void> co_hash_all(client& c, std::vector<local_add>& adds, const commit_options& o,
                                  progress_reporter& prog) {
    const asio::any_io_executor pool = detail::blocking_executor(c);
    // Preuploaded adds carry their hashes.
    for (auto& a : adds)
        if (a.src->preuploaded) hash_add(a, pool);
    std::vector<std::size_t> to_hash;
    for (std::size_t i = 0; i < adds.size(); ++i)
        if (!adds[i].src->preuploaded) to_hash.push_back(i);
    if (to_hash.empty()) co_return;
    std::uint64_t total = 0;
    for (std::size_t i : to_hash)
        if (auto& a = adds[i]; auto* b = a.bytes()) total += b->size();
        else {
            std::error_code ec;
            auto s = fs::file_size(*a.file(), ec);
            if (!ec) total += s;
        }
    prog.begin(commit_progress::stage::hashing, to_hash.size(), total);
    unsigned threads = std::max(1u, std::min({o.max_workers, std::max(1u, std::thread::hardware_concurrency()),
                                               static_cast<unsigned>(to_hash.size())}));
    // Hashing is CPU work: it runs on the client's blocking pool, never on the caller's executor.
    // A cancellation stops it within one read, and the caller waits for that: it writes into `a`.
    co_await util::co_for_each(to_hash.size(), threads, [&](std::size_t k) -> asio::awaitable<void> {
        auto& a = adds[to_hash[k]];
        std::function<void(const std::atomic<bool>&)> job = [&a, pool](const std::atomic<bool>& stop) {
            hash_add(a, pool, &stop);
        };
        co_await util::co_blocking_to_end(pool, std::move(job));
        prog.step(a.path, a.size);
    });
}

}  // namespace hfhub::upload
