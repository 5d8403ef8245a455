#include "download/chunk_cache.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <numeric>

namespace hfhub::download {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view magic = "hfhub-chunk-cache 1 ";

std::string header_for(std::string_view bytes) {
    return std::string(magic) + std::to_string(bytes.size()) + " " + util::sha256_hex(bytes) + "\n";
}

bool valid_xorb(const std::string& x) {
    return x.size() == 64 && x.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// "<xorb>.<start>-<end>" → (start, end); nullopt for other names (temp files included).
std::optional<std::pair<std::uint32_t, std::uint32_t>> range_of(std::string_view name, std::string_view xorb) {
    if (name.size() <= xorb.size() + 1 || !name.starts_with(xorb) || name[xorb.size()] != '.') return std::nullopt;
    std::string_view r = name.substr(xorb.size() + 1);
    auto dash = r.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::uint32_t a = 0, b = 0;
    auto [p1, e1] = std::from_chars(r.data(), r.data() + dash, a);
    auto [p2, e2] = std::from_chars(r.data() + dash + 1, r.data() + r.size(), b);
    if (e1 != std::errc{} || p1 != r.data() + dash || e2 != std::errc{} || p2 != r.data() + r.size() || a >= b)
        return std::nullopt;
    return std::pair{a, b};
}

// The entry's bytes when its header vouches for them; nullopt when torn or damaged.
std::optional<std::string> read_entry(const fs::path& p) {
    auto text = util::read_file(p);
    if (!text || !std::string_view(*text).starts_with(magic)) return std::nullopt;
    auto nl = text->find('\n');
    if (nl == std::string::npos) return std::nullopt;
    std::string_view h(text->data() + magic.size(), nl - magic.size());
    auto sp = h.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    std::uint64_t len = 0;
    auto [ptr, ec] = std::from_chars(h.data(), h.data() + sp, len);
    if (ec != std::errc{} || ptr != h.data() + sp || len != text->size() - nl - 1) return std::nullopt;
    std::string bytes = text->substr(nl + 1);
    if (util::sha256_hex(bytes) != h.substr(sp + 1)) return std::nullopt;
    return bytes;
}

std::int64_t mtime_ns(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

std::vector<std::size_t> choose_evictions(const std::vector<cache_entry_info>& entries, std::uint64_t capacity) {
    std::uint64_t total = 0;
    for (auto& e : entries) total += e.size;
    std::vector<std::size_t> order(entries.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return entries[a].last_use_ns < entries[b].last_use_ns; });
    std::vector<std::size_t> out;
    for (auto i : order) {
        if (total <= capacity) break;
        out.push_back(i);
        total -= entries[i].size;
    }
    return out;
}

chunk_cache::chunk_cache(fs::path dir, std::uint64_t capacity) : dir_(std::move(dir)), capacity_(capacity) {}

std::string chunk_cache::entry_name(const std::string& xorb, std::uint32_t start, std::uint32_t end) {
    return xorb + "." + std::to_string(start) + "-" + std::to_string(end);
}

std::optional<cached_range> chunk_cache::get(const std::string& xorb, std::uint32_t start, std::uint32_t end) {
    if (capacity_ == 0 || !valid_xorb(xorb) || start >= end) return std::nullopt;
    const fs::path sub = dir_ / xorb.substr(0, 2);
    // The smallest entry covering the range: an exact one first, else any wider one.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> cands;
    std::error_code ec;
    if (fs::exists(sub / entry_name(xorb, start, end), ec)) cands.emplace_back(start, end);
    else
        for (fs::directory_iterator it(sub, ec), last; !ec && it != last; it.increment(ec))
            if (auto r = range_of(it->path().filename().native(), xorb); r && r->first <= start && end <= r->second)
                cands.push_back(*r);
    std::sort(cands.begin(), cands.end(), [](auto& a, auto& b) { return a.second - a.first < b.second - b.first; });
    for (auto& [a, b] : cands) {
        fs::path p = sub / entry_name(xorb, a, b);
        auto bytes = read_entry(p);
        if (!bytes) {
            ::unlink(p.c_str());  // torn or damaged: of no use to anyone
            continue;
        }
        ::utimensat(AT_FDCWD, p.c_str(), nullptr, 0);  // recently used
        return cached_range{a, b, std::move(*bytes)};
    }
    return std::nullopt;
}

void chunk_cache::put(const std::string& xorb, std::uint32_t start, std::uint32_t end, std::string_view bytes) {
    if (capacity_ == 0 || !valid_xorb(xorb) || start >= end) return;
    std::string header = header_for(bytes);
    if (header.size() + bytes.size() > capacity_) return;
    try {
        const fs::path sub = dir_ / xorb.substr(0, 2);
        fs::create_directories(sub);
        fs::path target = sub / entry_name(xorb, start, end);
        fs::path temp = sub / (".tmp-" + util::random_hex(8));
        {
            util::unique_fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
            if (!fd) return;
            bool ok = ::write(fd.get(), header.data(), header.size()) == static_cast<ssize_t>(header.size());
            std::size_t done = 0;
            while (ok && done < bytes.size()) {
                ssize_t w = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
                if (w <= 0) ok = false;
                else done += static_cast<std::size_t>(w);
            }
            if (!ok || ::rename(temp.c_str(), target.c_str()) != 0) {
                ::unlink(temp.c_str());
                return;
            }
        }
        std::lock_guard lk(mu_);
        if (!estimate_) estimate_ = measure();
        else *estimate_ += header.size() + bytes.size();
        if (*estimate_ > capacity_) evict_over_capacity();
    } catch (const std::exception&) {
        // The cache is an optimisation: a failed put costs a fetch next time, nothing more.
    }
}

void chunk_cache::remove(const std::string& xorb) {
    if (!valid_xorb(xorb)) return;
    std::error_code ec;
    const fs::path sub = dir_ / xorb.substr(0, 2);
    std::vector<fs::path> doomed;
    for (fs::directory_iterator it(sub, ec), last; !ec && it != last; it.increment(ec))
        if (range_of(it->path().filename().native(), xorb)) doomed.push_back(it->path());
    for (auto& p : doomed) ::unlink(p.c_str());
}

std::uint64_t chunk_cache::measure() const {
    std::uint64_t total = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir_, ec), last; !ec && it != last; it.increment(ec)) {
        struct stat st{};
        if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += static_cast<std::uint64_t>(st.st_size);
    }
    return total;
}

// Measures the folder (other processes write to it too) and removes the least recently used
// entries until it fits. An entry another process removed first is simply gone.
void chunk_cache::evict_over_capacity() {
    std::vector<fs::path> paths;
    std::vector<cache_entry_info> info;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir_, ec), last; !ec && it != last; it.increment(ec)) {
        struct stat st{};
        if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        paths.push_back(it->path());
        info.push_back({static_cast<std::uint64_t>(st.st_size), mtime_ns(st)});
    }
    std::uint64_t total = 0;
    for (auto& e : info) total += e.size;
    for (auto i : choose_evictions(info, capacity_)) {
        ::unlink(paths[i].c_str());
        total -= info[i].size;
    }
    estimate_ = total;
}

}  // namespace hfhub::download
