#include "server/multipart_assembly.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <condition_variable>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace hfhub::server {

namespace fs = std::filesystem;

struct multipart_assembly::state {
    struct extent {
        std::uint64_t claim = 0;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };

    std::mutex mu;
    std::condition_variable idle;
    std::uint64_t parts = 0;
    // Unique per state: a state started after another was taken never writes into its file.
    fs::path file;
    util::unique_fd fd;
    bool taken = false;
    std::map<std::uint64_t, extent> claims;  // parts being written in place
    std::map<std::uint64_t, std::string> etags;  // accepted parts
    std::map<std::uint64_t, extent> ready;       // accepted, not yet hashed
    std::uint64_t next_claim = 1;
    std::uint64_t next = 1;  // the part to hash next
    bool busy = false;       // a caller is hashing; only it touches `sha` and `bytes`
    bool failed = false;     // reading the file back failed
    util::hasher sha{util::hash_algo::sha256};
    std::uint64_t bytes = 0;

    ~state() {
        if (!taken && !file.empty()) ::unlink(file.c_str());  // forgotten or evicted, never completed
    }
};

multipart_assembly::claim::~claim() {
    std::lock_guard lk(s_->mu);
    auto it = s_->claims.find(part_);
    if (it != s_->claims.end() && it->second.claim == id_) s_->claims.erase(it);  // not accepted: still missing
}

std::shared_ptr<multipart_assembly::state> multipart_assembly::find(const fs::path& dir, std::uint64_t parts,
                                                                    bool create) {
    std::lock_guard lk(mu_);
    auto key = dir.string();
    if (auto it = states_.find(key); it != states_.end()) {
        if (parts && it->second->parts != parts) throw std::runtime_error("the upload's part count changed");
        return it->second;
    }
    if (!create) return nullptr;
    auto s = std::make_shared<state>();
    s->parts = parts;
    fs::path file = dir / ("joined." + util::unique_suffix());
    s->fd = util::unique_fd(::open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!s->fd) util::throw_errno("create", file);
    s->file = file;
    // Uploads abandoned half way would otherwise pile up; an evicted one must start again.
    while (states_.size() >= max_uploads_ && !order_.empty()) {
        states_.erase(order_.front());
        order_.pop_front();
    }
    states_.emplace(key, s);
    order_.push_back(key);
    return s;
}

void multipart_assembly::forget(const fs::path& dir) {
    std::lock_guard lk(mu_);
    auto key = dir.string();
    if (states_.erase(key)) order_.remove(key);
}

std::unique_ptr<multipart_assembly::claim> multipart_assembly::try_claim(const fs::path& dir, std::uint64_t parts,
                                                                         std::uint64_t n, std::uint64_t offset,
                                                                         std::uint64_t length) {
    auto s = find(dir, parts, true);
    std::lock_guard lk(s->mu);
    if (s->etags.count(n) || s->claims.count(n)) return nullptr;
    std::uint64_t id = s->next_claim++;
    s->claims[n] = {id, offset, length};
    return std::make_unique<claim>(s, n, id, s->fd.get(), offset, length);
}

std::string multipart_assembly::accept(const fs::path& dir, std::uint64_t n, std::uint64_t claim_id) {
    auto s = find(dir, 0, false);
    if (!s) throw std::runtime_error("the upload is no longer known");
    std::unique_lock lk(s->mu);
    auto it = s->claims.find(n);
    if (it == s->claims.end() || it->second.claim != claim_id) throw std::runtime_error("the part's claim was lost");
    auto ext = it->second;
    s->claims.erase(it);
    std::string etag = util::random_hex(8);
    s->etags[n] = etag;
    s->ready[n] = ext;
    if (!s->busy) {
        s->busy = true;
        hash_ready(*s, lk);
    }
    return etag;
}

std::optional<std::string> multipart_assembly::accept_file(const fs::path& dir, std::uint64_t parts, std::uint64_t n,
                                                           std::uint64_t offset, std::uint64_t length,
                                                           const fs::path& file) {
    auto s = find(dir, parts, true);
    std::uint64_t id;
    {
        std::lock_guard lk(s->mu);
        if (auto e = s->etags.find(n); e != s->etags.end()) return e->second;  // a retry: the first bytes stay
        if (s->claims.count(n)) return std::nullopt;
        id = s->next_claim++;
        s->claims[n] = {id, offset, length};
    }
    claim held(s, n, id, s->fd.get(), offset, length);  // released if the copy fails
    util::unique_fd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) util::throw_errno("open", file);
    std::vector<char> buf(static_cast<std::size_t>(std::min<std::uint64_t>(std::max<std::uint64_t>(length, 1), 4u << 20)));
    std::uint64_t done = 0;
    while (done < length) {
        ssize_t got = ::read(in.get(), buf.data(), static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - done)));
        if (got < 0) util::throw_errno("read", file);
        if (got == 0) throw std::runtime_error("a part file is shorter than its part");
        util::pwrite_all(s->fd.get(), buf.data(), static_cast<std::size_t>(got), offset + done, s->file);
        done += static_cast<std::uint64_t>(got);
    }
    return accept(dir, n, id);
}

void multipart_assembly::hash_ready(state& s, std::unique_lock<std::mutex>& lk) {
    std::vector<char> buf;
    while (!s.failed) {
        auto it = s.ready.find(s.next);
        if (it == s.ready.end()) break;
        auto ext = it->second;
        s.ready.erase(it);
        lk.unlock();
        bool ok = true;
        try {
            if (buf.empty()) buf.resize(4 << 20);
            std::uint64_t done = 0;
            while (done < ext.length) {
                auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), ext.length - done));
                ssize_t got = ::pread(s.fd.get(), buf.data(), want, static_cast<off_t>(ext.offset + done));
                if (got < 0) util::throw_errno("read", s.file);
                if (got == 0) throw std::runtime_error("the joined file is short");
                s.sha.update(buf.data(), static_cast<std::size_t>(got));
                done += static_cast<std::uint64_t>(got);
            }
            s.bytes += ext.length;
        } catch (const std::exception&) {
            ok = false;
        }
        lk.lock();
        if (!ok) s.failed = true;
        ++s.next;
    }
    s.busy = false;
    s.idle.notify_all();
}

std::variant<multipart_assembly::joined, std::string> multipart_assembly::take(
    const fs::path& dir, std::uint64_t parts, const std::map<std::uint64_t, std::string>& etags) {
    auto s = find(dir, 0, false);
    if (!s) return std::string("The upload is unknown or expired; start it again");
    std::unique_lock lk(s->mu);
    for (std::uint64_t n = 1; n <= parts; ++n) {
        auto have = s->etags.find(n);
        if (have == s->etags.end()) return "Part " + std::to_string(n) + " was not uploaded";
        auto want = etags.find(n);
        if (want == etags.end() || want->second != have->second) return "ETag mismatch for part " + std::to_string(n);
    }
    s->idle.wait(lk, [&] { return !s->busy; });
    if (s->failed || s->next != parts + 1 || s->parts != parts) {
        lk.unlock();
        forget(dir);
        return std::string("The upload could not be joined; start it again");
    }
    s->taken = true;
    s->fd = util::unique_fd();
    joined out{s->file, s->bytes, s->sha.hex_digest()};
    lk.unlock();
    forget(dir);
    return out;
}

}  // namespace hfhub::server
