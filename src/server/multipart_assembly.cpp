#include "server/multipart_assembly.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <condition_variable>
#include <set>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace hfhub::server {

namespace fs = std::filesystem;

struct multipart_assembly::state {
    std::mutex mu;
    std::condition_variable idle;
    std::set<std::uint64_t> stored;  // stored and not yet consumed
    std::uint64_t next = 1;          // the part to consume next
    bool busy = false;               // a caller is consuming; only it touches what follows
    bool broken = false;             // a consumed part changed, or reading or writing failed
    // Unique per state: a late part starting a new state never writes into a file being taken.
    fs::path file;
    util::unique_fd out;
    util::hasher sha{util::hash_algo::sha256};
    std::uint64_t bytes = 0;
};

std::shared_ptr<multipart_assembly::state> multipart_assembly::find(const fs::path& dir, bool create) {
    std::lock_guard lk(mu_);
    auto key = dir.string();
    if (auto it = states_.find(key); it != states_.end()) return it->second;
    if (!create) return nullptr;
    // Uploads abandoned half way would otherwise pile up; an evicted one completes the slow way.
    while (states_.size() >= max_uploads_ && !order_.empty()) {
        states_.erase(order_.front());
        order_.pop_front();
    }
    auto s = std::make_shared<state>();
    s->file = dir / ("joined." + util::unique_suffix());
    states_.emplace(key, s);
    order_.push_back(key);
    return s;
}

void multipart_assembly::forget(const fs::path& dir) {
    std::lock_guard lk(mu_);
    auto key = dir.string();
    if (states_.erase(key)) order_.remove(key);
}

void multipart_assembly::part_stored(const fs::path& dir, std::uint64_t n) {
    auto s = find(dir, true);
    std::unique_lock lk(s->mu);
    if (s->broken) return;
    // Re-sent after (or while) it was consumed: the joined bytes may not be the kept ones.
    if (n < s->next || (n == s->next && s->busy)) {
        s->broken = true;
        return;
    }
    s->stored.insert(n);
    if (s->busy) return;  // the consumer at work picks it up
    s->busy = true;
    consume(*s, dir, lk);
}

void multipart_assembly::consume(state& s, const fs::path& dir, std::unique_lock<std::mutex>& lk) {
    std::vector<char> buf;
    while (!s.broken) {
        auto it = s.stored.find(s.next);
        if (it == s.stored.end()) break;
        s.stored.erase(it);
        std::uint64_t k = s.next;
        lk.unlock();
        bool ok = true;
        try {
            if (!s.out) {
                s.out = util::unique_fd(::open(s.file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
                if (!s.out) util::throw_errno("create", s.file);
            }
            fs::path part = dir / std::to_string(k);
            util::unique_fd in(::open(part.c_str(), O_RDONLY | O_CLOEXEC));
            if (!in) util::throw_errno("open", part);
            if (buf.empty()) buf.resize(4 << 20);
            for (;;) {
                ssize_t got = ::read(in.get(), buf.data(), buf.size());
                if (got < 0) util::throw_errno("read", part);
                if (got == 0) break;
                s.sha.update(buf.data(), static_cast<std::size_t>(got));
                util::write_all(s.out.get(), buf.data(), static_cast<std::size_t>(got), s.file);
                s.bytes += static_cast<std::uint64_t>(got);
            }
        } catch (const std::exception&) {
            ok = false;
        }
        lk.lock();
        if (!ok) s.broken = true;
        s.next = k + 1;
    }
    s.busy = false;
    s.idle.notify_all();
}

std::optional<multipart_assembly::joined> multipart_assembly::take(const fs::path& dir, std::uint64_t parts) {
    auto s = find(dir, false);
    if (!s) return std::nullopt;
    forget(dir);
    std::unique_lock lk(s->mu);
    s->idle.wait(lk, [&] { return !s->busy; });
    if (s->broken || s->next != parts + 1) {
        std::error_code ec;
        fs::remove(s->file, ec);
        return std::nullopt;
    }
    s->out = util::unique_fd();
    return joined{s->file, s->bytes, s->sha.hex_digest()};
}

}  // namespace hfhub::server
