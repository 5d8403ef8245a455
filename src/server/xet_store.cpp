#include "server/xet_store.hpp"

#include "server/repo_store.hpp"
#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>

#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

namespace hfhub::server {

namespace json = boost::json;

namespace {

bool is_lower_hex64(std::string_view s) {
    return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

constexpr std::size_t idx_record = 32 + 4 + 4 + 4;

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint32_t get_u32(const char* p) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
    return v;
}

std::optional<xet_file> parse_file(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    try {
        auto& o = v.as_object();
        xet_file f;
        f.hash = json::value_to<std::string>(o.at("hash"));
        f.sha256 = json::value_to<std::string>(o.at("sha256"));
        f.size = o.at("size").to_number<std::uint64_t>();
        f.registered = o.at("time").to_number<std::int64_t>();
        for (auto& t : o.at("terms").as_array()) {
            auto& a = t.as_array();
            f.terms.push_back({json::value_to<std::string>(a.at(0)), a.at(1).to_number<std::uint32_t>(),
                               a.at(2).to_number<std::uint32_t>(), a.at(3).to_number<std::uint64_t>()});
        }
        return f;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::int64_t mtime_of(const fs::path& p) {
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0) return 0;
    return static_cast<std::int64_t>(st.st_mtime);
}

}  // namespace

xet_store::xet_store(fs::path dir, fs::path tmp_dir) : dir_(std::move(dir)), tmp_(std::move(tmp_dir)) {
    for (const char* kind : {"xorbs", "files", "sha256", "dedup"}) fs::create_directories(dir_ / kind);
    fs::create_directories(tmp_);
}

fs::path xet_store::fan(const char* kind, std::string_view name) const {
    return dir_ / kind / std::string(name.substr(0, 2)) / std::string(name);
}

void xet_store::write_durable(const fs::path& target, std::string_view content) const {
    fs::create_directories(target.parent_path());
    util::write_file_atomic(target, content, tmp_);
}

fs::path xet_store::xorb_path(std::string_view hex) const { return fan("xorbs", hex); }

std::optional<std::uint64_t> xet_store::xorb_size(std::string_view hex) const {
    if (!is_lower_hex64(hex)) return std::nullopt;
    struct stat st{};
    if (::stat(xorb_path(hex).c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.st_size);
}

bool xet_store::put_xorb(std::string_view hex, std::string_view bytes, const std::vector<xet_chunk_info>& chunks) {
    if (xorb_size(hex)) {
        // Sent again: young again, so the sweep of unreferenced xorbs leaves it to its shard.
        ::utimensat(AT_FDCWD, xorb_path(hex).c_str(), nullptr, 0);
        return false;
    }
    std::string idx;
    idx.reserve(chunks.size() * idx_record);
    for (auto& c : chunks) {
        idx.append(reinterpret_cast<const char*>(c.hash.bytes.data()), c.hash.bytes.size());
        put_u32(idx, c.offset);
        put_u32(idx, c.serialized_size);
        put_u32(idx, c.size);
    }
    fs::path target = xorb_path(hex);
    // The index first: a xorb is only ever seen with its index beside it.
    write_durable(fs::path(target).concat(".idx"), idx);
    write_durable(target, bytes);
    return true;
}

std::optional<std::vector<xet_chunk_info>> xet_store::xorb_chunks(std::string_view hex) const {
    if (!is_lower_hex64(hex)) return std::nullopt;
    auto text = util::read_file(fs::path(xorb_path(hex)).concat(".idx"));
    if (!text || text->empty() || text->size() % idx_record != 0 || !xorb_size(hex)) return std::nullopt;
    std::vector<xet_chunk_info> out(text->size() / idx_record);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const char* p = text->data() + i * idx_record;
        std::memcpy(out[i].hash.bytes.data(), p, 32);
        out[i].offset = get_u32(p + 32);
        out[i].serialized_size = get_u32(p + 36);
        out[i].size = get_u32(p + 40);
    }
    return out;
}

std::optional<xet_file> xet_store::file(std::string_view hex) const {
    if (!is_lower_hex64(hex)) return std::nullopt;
    auto text = util::read_file(fan("files", hex).concat(".json"));
    if (!text) return std::nullopt;
    return parse_file(*text);
}

bool xet_store::put_file(const xet_file& f) {
    fs::path target = fan("files", f.hash).concat(".json");
    bool fresh = !fs::exists(target);
    if (fresh) {
        json::array terms;
        for (auto& t : f.terms) terms.push_back(json::array{t.xorb, t.start, t.end, t.unpacked});
        write_durable(target, json::serialize(json::object{{"hash", f.hash},
                                                           {"sha256", f.sha256},
                                                           {"size", f.size},
                                                           {"time", f.registered},
                                                           {"terms", std::move(terms)}}));
    }
    // The sha256 entry even for a known file: its oid may have been removed and come back.
    if (!f.sha256.empty()) {
        fs::path s = fan("sha256", f.sha256);
        std::string line = f.hash + " " + std::to_string(f.size);
        if (util::read_file(s) != line) write_durable(s, line);
    }
    return fresh;
}

std::optional<std::pair<std::string, std::uint64_t>> xet_store::by_sha256(std::string_view sha) const {
    if (!is_lower_hex64(sha)) return std::nullopt;
    auto text = util::read_file(fan("sha256", sha));
    if (!text || text->size() < 66 || (*text)[64] != ' ') return std::nullopt;
    std::string num = text->substr(65);
    if (num.empty() || num.size() > 19 || num.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::make_pair(text->substr(0, 64), std::stoull(num));
}

void xet_store::index_chunk(const xet::merkle_hash& chunk, std::string_view xorb_hex,
                            std::span<const std::string> shard_xorbs) {
    std::string text(xorb_hex);
    std::size_t n = 1;
    for (auto& x : shard_xorbs) {
        if (n >= max_dedup_xorbs) break;
        if (x == xorb_hex) continue;
        text += '\n';
        text += x;
        ++n;
    }
    fs::path p = fan("dedup", chunk.hex());
    if (util::read_file(p) == text) return;
    write_durable(p, text);
}

std::vector<std::string> xet_store::dedup_xorbs(std::string_view chunk_hex) const {
    std::vector<std::string> out;
    if (!is_lower_hex64(chunk_hex)) return out;
    auto text = util::read_file(fan("dedup", chunk_hex));
    if (!text) return out;
    std::size_t at = 0;
    while (at <= text->size() && out.size() < max_dedup_xorbs) {
        auto end = text->find('\n', at);
        if (end == std::string::npos) end = text->size();
        std::string x = text->substr(at, end - at);
        // Entries are checked when read: a xorb removed since is skipped, and the chunk's own
        // xorb gone means the chunk is unknown.
        if (is_lower_hex64(x) && xorb_size(x)) out.push_back(std::move(x));
        else if (out.empty()) return out;
        at = end + 1;
    }
    return out;
}

std::unordered_set<std::string> xet_store::referenced_xorbs() const {
    std::unordered_set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir_ / "files", ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file() || it->path().extension() != ".json") continue;
        auto text = util::read_file(it->path());
        if (!text) continue;
        if (auto f = parse_file(*text))
            for (auto& t : f->terms) out.insert(t.xorb);
    }
    return out;
}

std::size_t xet_store::drop_unreferenced(const std::vector<std::string>& candidates, std::int64_t before) {
    auto used = referenced_xorbs();
    std::size_t n = 0;
    std::error_code ec;
    for (auto& x : candidates) {
        if (used.contains(x)) continue;
        fs::path p = xorb_path(x);
        if (before && mtime_of(p) >= before) continue;
        if (fs::remove(p, ec)) ++n;
        fs::remove(fs::path(p).concat(".idx"), ec);
    }
    return n;
}

std::size_t xet_store::remove_sha256(std::string_view sha) {
    std::lock_guard lk(mu_);
    auto entry = by_sha256(sha);
    if (!entry) return 0;
    std::error_code ec;
    fs::remove(fan("sha256", sha), ec);
    auto f = file(entry->first);
    fs::remove(fan("files", entry->first).concat(".json"), ec);
    if (!f) return 0;
    std::vector<std::string> xorbs;
    for (auto& t : f->terms) xorbs.push_back(t.xorb);
    return drop_unreferenced(xorbs, 0);
}

std::size_t xet_store::sweep(std::int64_t before) {
    std::lock_guard lk(mu_);
    std::size_t n = 0;
    std::error_code ec;
    // Files registered long ago that no oid names (their shard had no sha256, or the oid went).
    std::unordered_set<std::string> named;
    for (auto it = fs::recursive_directory_iterator(dir_ / "sha256", ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        auto text = util::read_file(it->path());
        if (text && text->size() >= 64) named.insert(text->substr(0, 64));
    }
    std::vector<fs::path> stale_files;
    for (auto it = fs::recursive_directory_iterator(dir_ / "files", ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file() || it->path().extension() != ".json") continue;
        if (!named.contains(it->path().stem().string()) && mtime_of(it->path()) < before) stale_files.push_back(it->path());
    }
    for (auto& p : stale_files)
        if (fs::remove(p, ec)) ++n;
    std::vector<std::string> xorbs;
    for (auto it = fs::recursive_directory_iterator(dir_ / "xorbs", ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        auto name = it->path().filename().string();
        if (it->is_regular_file() && is_lower_hex64(name)) xorbs.push_back(name);
    }
    n += drop_unreferenced(xorbs, before);
    return n;
}

std::optional<std::uint64_t> xet_lfs_storage::stat(std::string_view sha) {
    if (auto s = disk_.stat(sha)) return s;
    if (auto e = xet_.by_sha256(sha); e && xet_.file(e->first)) return e->second;
    return std::nullopt;
}

void xet_lfs_storage::remove(std::string_view sha) {
    disk_.remove(sha);
    xet_.remove_sha256(sha);
}

}  // namespace hfhub::server
