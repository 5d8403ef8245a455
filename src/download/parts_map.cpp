#include "download/parts_map.hpp"

#include "util/hash.hpp"

#include <charconv>

#include <fcntl.h>
#include <sys/stat.h>

namespace hfhub::download {

namespace {

// More parts than this is no map we wrote (16 MiB parts of a 16 TiB file).
constexpr std::uint64_t max_parts = 1u << 20;

std::string check(std::string_view nonce, std::string_view line) {
    std::string s;
    s.reserve(nonce.size() + 1 + line.size());
    s.append(nonce).append("\n").append(line);
    return util::sha256_hex(s).substr(0, 16);
}

std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    while (!line.empty()) {
        auto sp = line.find(' ');
        out.push_back(line.substr(0, sp));
        if (sp == std::string_view::npos) break;
        line.remove_prefix(sp + 1);
    }
    return out;
}

std::optional<std::uint64_t> number(std::string_view s) {
    std::uint64_t v = 0;
    if (s.empty() || s.size() > 20) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// The line without its check, when the check is right.
std::optional<std::string_view> checked(std::string_view line, std::string_view nonce) {
    auto sp = line.rfind(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    std::string_view body = line.substr(0, sp);
    if (line.substr(sp + 1) != check(nonce, body)) return std::nullopt;
    return body;
}

std::string with_check(std::string_view nonce, std::string body) {
    std::string c = check(nonce, body);
    return body + " " + c + "\n";
}

}  // namespace

std::string format_header(const parts_header& h) {
    return with_check(h.nonce, "hfhub-parts 1 " + h.etag + " " + std::to_string(h.size) + " " + std::to_string(h.chunk) +
                                   " " + std::to_string(h.file.dev) + " " + std::to_string(h.file.ino) + " " +
                                   std::to_string(h.file.btime_ns) + " " + h.nonce);
}

std::string format_record(const parts_header& h, std::uint64_t part) {
    std::uint64_t first = part * h.chunk;
    std::uint64_t last = std::min(h.size, first + h.chunk) - 1;
    return with_check(h.nonce, "part " + std::to_string(first) + " " + std::to_string(last));
}

std::optional<parts_map> parse_parts_map(std::string_view text, std::string_view etag, std::uint64_t size) {
    auto nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;
    std::string_view head = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    // The nonce is needed to check the header's own line: it is the field before the check.
    auto f = fields(head);
    if (f.size() != 10 || f[0] != "hfhub-parts" || f[1] != "1") return std::nullopt;
    std::string_view nonce = f[8];
    if (nonce.empty() || !checked(head, nonce)) return std::nullopt;
    parts_map m;
    auto n_size = number(f[3]), n_chunk = number(f[4]), dev = number(f[5]), ino = number(f[6]), bt = number(f[7]);
    if (!n_size || !n_chunk || !dev || !ino || !bt) return std::nullopt;
    if (f[2] != etag || *n_size != size || *n_chunk == 0 || size == 0) return std::nullopt;
    m.header = {std::string(etag), size, *n_chunk, {*dev, *ino, *bt, size}, std::string(nonce)};
    std::uint64_t parts = part_count(size, *n_chunk);
    if (parts > max_parts) return std::nullopt;
    m.done.assign(static_cast<std::size_t>(parts), false);
    // Only whole lines count: a last line without its newline is a torn append.
    while ((nl = text.find('\n')) != std::string_view::npos) {
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl + 1);
        auto body = checked(line, nonce);
        if (!body) break;
        auto r = fields(*body);
        if (r.size() != 3 || r[0] != "part") break;
        auto first = number(r[1]), last = number(r[2]);
        if (!first || !last || *first % *n_chunk != 0 || *first >= size) break;
        if (*last != std::min(size, *first + *n_chunk) - 1) break;
        m.done[static_cast<std::size_t>(*first / *n_chunk)] = true;
    }
    return m;
}

std::optional<file_identity> identify(int fd) {
    struct statx sx{};
    if (::statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_SIZE | STATX_BTIME, &sx) != 0) return std::nullopt;
    file_identity id;
    id.dev = (std::uint64_t(sx.stx_dev_major) << 32) | sx.stx_dev_minor;
    id.ino = sx.stx_ino;
    id.size = sx.stx_size;
    if (sx.stx_mask & STATX_BTIME)
        id.btime_ns = std::uint64_t(sx.stx_btime.tv_sec) * 1000000000u + sx.stx_btime.tv_nsec;
    return id;
}

}  // namespace hfhub::download
