#include "download/xet_plan.hpp"

#include "http/policy.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>

namespace hfhub::download {

namespace json = boost::json;

namespace {

bool is_hex64(std::string_view s) {
    return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool ieq(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// Reading JSON numbers that must be whole and fit.
std::optional<std::uint64_t> u64(const json::value* v) {
    if (!v) return std::nullopt;
    if (auto* u = v->if_uint64()) return *u;
    if (auto* i = v->if_int64(); i && *i >= 0) return static_cast<std::uint64_t>(*i);
    if (auto* d = v->if_double(); d && *d >= 0 && *d < 9.0e15 && static_cast<double>(static_cast<std::uint64_t>(*d)) == *d)
        return static_cast<std::uint64_t>(*d);
    return std::nullopt;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> pair_of(const json::value* v) {
    auto* o = v ? v->if_object() : nullptr;
    if (!o) return std::nullopt;
    auto a = u64(o->if_contains("start")), b = u64(o->if_contains("end"));
    if (!a || !b) return std::nullopt;
    return std::pair{*a, *b};
}

// Chunk indices fit the shard's u32.
std::optional<std::pair<std::uint32_t, std::uint32_t>> chunk_range(const json::value* v) {
    auto p = pair_of(v);
    if (!p || p->first >= p->second || p->second > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
    return std::pair{static_cast<std::uint32_t>(p->first), static_cast<std::uint32_t>(p->second)};
}

std::optional<xet_range> read_range(const json::value* chunks, const json::value* bytes) {
    auto c = chunk_range(chunks);
    auto b = pair_of(bytes);
    if (!c || !b || b->second < b->first) return std::nullopt;
    return xet_range{c->first, c->second, b->first, b->second};
}

}  // namespace

std::optional<std::string> link_with_rel(std::string_view h, std::string_view rel) {
    std::size_t i = 0;
    while (i < h.size()) {
        auto lt = h.find('<', i);
        if (lt == std::string_view::npos) return std::nullopt;
        auto gt = h.find('>', lt + 1);
        if (gt == std::string_view::npos) return std::nullopt;
        std::string_view target = h.substr(lt + 1, gt - lt - 1);
        // Parameters run to the next link: a ',' outside quotes.
        std::size_t j = gt + 1;
        bool quoted = false;
        while (j < h.size() && (quoted || h[j] != ',')) {
            if (h[j] == '"') quoted = !quoted;
            ++j;
        }
        std::string_view params = h.substr(gt + 1, j - gt - 1);
        std::size_t k = 0;
        while (k < params.size()) {
            auto semi = params.find(';', k);
            std::string_view p = trim(params.substr(k, semi == std::string_view::npos ? std::string_view::npos : semi - k));
            k = semi == std::string_view::npos ? params.size() : semi + 1;
            auto eq = p.find('=');
            if (eq == std::string_view::npos || !ieq(trim(p.substr(0, eq)), "rel")) continue;
            std::string_view v = trim(p.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
            while (!v.empty()) {
                auto sp = v.find(' ');
                if (ieq(v.substr(0, sp), rel)) return std::string(target);
                if (sp == std::string_view::npos) break;
                v.remove_prefix(sp + 1);
            }
        }
        i = j + 1;
    }
    return std::nullopt;
}

std::optional<xet_signal> read_xet_signal(std::optional<std::string_view> xet_hash, std::optional<std::string_view> link,
                                          std::optional<std::string_view> refresh_route) {
    if (!xet_hash || !is_hex64(trim(*xet_hash))) return std::nullopt;
    xet_signal s;
    s.file_hash = lower(trim(*xet_hash));
    if (link)
        if (auto u = link_with_rel(*link, "xet-auth")) s.refresh_url = *u;
    if (s.refresh_url.empty() && refresh_route) s.refresh_url = std::string(trim(*refresh_route));
    if (s.refresh_url.empty()) return std::nullopt;
    return s;
}

std::optional<xet_reconstruction> parse_reconstruction(std::string_view body, std::string& why) {
    auto fail = [&](std::string w) -> std::optional<xet_reconstruction> {
        why = std::move(w);
        return std::nullopt;
    };
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return fail("the reconstruction is not JSON");
    auto* o = v.if_object();
    if (!o) return fail("the reconstruction is not a JSON object");
    xet_reconstruction r;
    auto off = u64(o->if_contains("offset_into_first_range"));
    if (o->if_contains("offset_into_first_range") && !off) return fail("offset_into_first_range is not a whole number");
    r.offset_into_first_range = off.value_or(0);

    auto* xorbs = o->if_contains("xorbs");
    auto* fetch_info = o->if_contains("fetch_info");
    const json::object* fetches = xorbs ? xorbs->if_object() : fetch_info ? fetch_info->if_object() : nullptr;
    if (!fetches) return fail("the reconstruction has no xorbs (v2) or fetch_info (v1) object");
    std::map<std::string, std::vector<std::size_t>> of_xorb;
    for (auto& [key, list] : *fetches) {
        if (!is_hex64(key)) return fail("a xorb key is not 64 hex digits");
        auto* arr = list.if_array();
        if (!arr) return fail("the fetches of a xorb are not an array");
        std::string xorb = lower(key);
        for (auto& e : *arr) {
            auto* eo = e.if_object();
            if (!eo) return fail("a xorb fetch is not an object");
            xet_fetch f;
            f.xorb = xorb;
            auto* url = eo->if_contains("url");
            if (!url || !url->is_string() || url->get_string().empty()) return fail("a xorb fetch has no url");
            f.url = std::string(url->get_string());
            if (!f.url.starts_with("http://") && !f.url.starts_with("https://")) return fail("a xorb url is not http(s)");
            if (xorbs) {
                auto* ranges = eo->if_contains("ranges");
                if (!ranges || !ranges->is_array() || ranges->get_array().empty()) return fail("a xorb fetch has no ranges");
                for (auto& rv : ranges->get_array()) {
                    auto* ro = rv.if_object();
                    auto rg = ro ? read_range(ro->if_contains("chunks"), ro->if_contains("bytes")) : std::nullopt;
                    if (!rg) return fail("a xorb range is malformed");
                    if (!f.ranges.empty() && (rg->chunk_start < f.ranges.back().chunk_end || rg->byte_start <= f.ranges.back().byte_end))
                        return fail("a xorb fetch's ranges are not ascending and disjoint");
                    f.ranges.push_back(*rg);
                }
            } else {
                auto rg = read_range(eo->if_contains("range"), eo->if_contains("url_range"));
                if (!rg) return fail("a fetch_info range is malformed");
                f.ranges.push_back(*rg);
            }
            of_xorb[xorb].push_back(r.fetches.size());
            r.fetches.push_back(std::move(f));
        }
    }

    auto* terms = o->if_contains("terms");
    if (!terms || !terms->is_array()) return fail("the reconstruction has no terms array");
    std::uint64_t at = 0;
    for (auto& tv : terms->get_array()) {
        auto* to = tv.if_object();
        if (!to) return fail("a term is not an object");
        auto* h = to->if_contains("hash");
        if (!h || !h->is_string() || !is_hex64(h->get_string())) return fail("a term's hash is not 64 hex digits");
        auto cr = chunk_range(to->if_contains("range"));
        if (!cr) return fail("a term's chunk range is malformed or empty");
        auto len = u64(to->if_contains("unpacked_length"));
        if (!len || *len == 0) return fail("a term's unpacked_length is missing");
        xet_term t;
        t.xorb = lower(h->get_string());
        t.start = cr->first;
        t.end = cr->second;
        t.unpacked_length = *len;
        bool found = false;
        for (auto fi : of_xorb[t.xorb]) {
            auto& f = r.fetches[fi];
            for (std::size_t ri = 0; ri < f.ranges.size() && !found; ++ri)
                if (f.ranges[ri].chunk_start <= t.start && t.end <= f.ranges[ri].chunk_end) {
                    t.fetch = fi;
                    t.range = ri;
                    found = true;
                }
            if (found) break;
        }
        if (!found) return fail("a term's chunks are in no range the reconstruction lets us fetch");
        if (*len > std::numeric_limits<std::uint64_t>::max() / 2 - at) return fail("the terms' lengths overflow");
        t.file_offset = at;
        at += *len;
        r.terms.push_back(std::move(t));
    }
    if (!r.terms.empty() && r.offset_into_first_range >= r.terms.front().unpacked_length)
        return fail("offset_into_first_range is past the first term");
    r.total = at - (r.terms.empty() ? 0 : r.offset_into_first_range);
    return r;
}

std::vector<std::size_t> used_ranges(const xet_reconstruction& r, std::size_t fetch) {
    std::vector<std::size_t> out;
    for (auto& t : r.terms)
        if (t.fetch == fetch) out.push_back(t.range);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::string range_header(const xet_fetch& f, const std::vector<std::size_t>& ranges) {
    std::string s = "bytes=";
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        if (i) s += ",";
        auto& r = f.ranges[ranges[i]];
        s += std::to_string(r.byte_start) + "-" + std::to_string(r.byte_end);
    }
    return s;
}

}  // namespace hfhub::download
