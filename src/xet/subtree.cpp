#include "xet/subtree.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <string>

namespace hfhub::xet {

namespace json = boost::json;

namespace {

using nodes = std::vector<hash_and_size>;

// Two natural cuts this far apart leave no group a choice but to end at the second
// (groups are 2..9 nodes and end at the first natural cut from their third node on).
bool fixing_gap(std::size_t g) noexcept { return g > 2 && g < 8; }

// The first boundary of `n` that no nodes before it can move: one past the middle of three
// natural cuts at fixing gaps.
std::optional<std::size_t> fixed_start(std::span<const hash_and_size> n) {
    std::optional<std::size_t> before, last;
    for (std::size_t i = 0; i < n.size(); ++i) {
        if (!is_natural_cut(n[i].hash)) continue;
        if (last && before && fixing_gap(i - *last) && fixing_gap(*last - *before)) return *last + 1;
        before = last;
        last = i;
    }
    return std::nullopt;
}

// The last boundary of `n` that no nodes after it can move, found the same way from the end.
std::optional<std::size_t> fixed_end(std::span<const hash_and_size> n) {
    std::optional<std::size_t> after, next;
    for (std::size_t i = n.size(); i-- > 0;) {
        if (!is_natural_cut(n[i].hash)) continue;
        if (next && after && fixing_gap(*next - i) && fixing_gap(*after - *next)) return *next + 1;
        after = next;
        next = i;
    }
    return std::nullopt;
}

// One level: how many nodes stay open on the left and on the right; the parents of the groups
// between go to `up`.
std::pair<std::size_t, std::size_t> split(std::span<const hash_and_size> n, bool at_start, bool at_end, nodes& up) {
    const std::pair<std::size_t, std::size_t> none{n.size(), 0};
    if (n.size() <= 1) return none;
    std::size_t s = 0, e = n.size();
    if (!at_start) {
        auto f = fixed_start(n);
        if (!f) return none;
        s = *f;
    }
    if (!at_end) {
        auto f = fixed_end(n.subspan(s));
        if (!f) return none;
        e = s + *f;
    }
    if (s >= e) return none;
    for (std::size_t i = s; i < e;) {
        std::size_t k = next_merge_cut(n.subspan(i, e - i));
        up.push_back(merge_nodes(n.subspan(i, k)));
        i += k;
    }
    return {s, n.size() - e};
}

std::optional<std::uint64_t> as_u64(const json::value* v) {
    if (!v) return std::nullopt;
    if (v->is_uint64()) return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    return std::nullopt;
}

}  // namespace

// Levels are rebuilt bottom-up: level l's nodes are what `parts(l, carry)` lays out around the
// parents promoted from below, and the tree is as fixed as the run's open sides allow.
template <class Parts>
static std::vector<std::pair<nodes, nodes>> rebuild(std::size_t known_levels, Parts parts, bool at_start, bool at_end) {
    std::vector<std::pair<nodes, nodes>> out;
    nodes carry, up;
    bool lefts_empty = true, rights_empty = true;
    for (std::size_t l = 0; l < known_levels || !carry.empty(); ++l) {
        nodes full = parts(l, carry);
        up.clear();
        auto [nl, nr] = split(full, at_start && lefts_empty, at_end && rights_empty, up);
        out.emplace_back(nodes(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(nl)),
                         nodes(full.end() - static_cast<std::ptrdiff_t>(nr), full.end()));
        lefts_empty = lefts_empty && nl == 0;
        rights_empty = rights_empty && nr == 0;
        carry.swap(up);
    }
    while (out.size() > 1 && out.back().first.empty() && out.back().second.empty()) out.pop_back();
    return out;
}

merkle_subtree merkle_subtree::from_chunks(bool at_start, std::span<const hash_and_size> chunks, bool at_end) {
    merkle_subtree t;
    t.at_start_ = at_start;
    t.at_end_ = at_end;
    auto parts = [&](std::size_t l, const nodes& carry) { return l == 0 ? nodes(chunks.begin(), chunks.end()) : carry; };
    for (auto& [left, right] : rebuild(1, parts, at_start, at_end)) t.levels_.push_back({std::move(left), std::move(right)});
    return t;
}

std::error_code merkle_subtree::merge(const merkle_subtree& right) {
    if (at_end_ || right.at_start_) return errc::invalid_subtree;
    auto parts = [&](std::size_t l, const nodes& carry) {
        nodes full;
        auto add = [&](const nodes& n) { full.insert(full.end(), n.begin(), n.end()); };
        if (l < levels_.size()) {
            add(levels_[l].left);
            add(levels_[l].right);
        }
        add(carry);
        if (l < right.levels_.size()) {
            add(right.levels_[l].left);
            add(right.levels_[l].right);
        }
        return full;
    };
    auto built = rebuild(std::max(levels_.size(), right.levels_.size()), parts, at_start_, right.at_end_);
    levels_.clear();
    for (auto& [left, rt] : built) levels_.push_back({std::move(left), std::move(rt)});
    at_end_ = right.at_end_;
    return {};
}

std::optional<merkle_hash> merkle_subtree::root() const {
    if (!at_start_ || !at_end_) return std::nullopt;
    if (empty()) return merkle_hash{};
    // Closed on both sides, every level below the top grouped all it had.
    const auto& top = levels_.back();
    if (top.left.size() != 1 || !top.right.empty()) return std::nullopt;
    return top.left[0].hash;
}

bool merkle_subtree::empty() const noexcept {
    for (auto& l : levels_)
        if (!l.left.empty() || !l.right.empty()) return false;
    return true;
}

json::value merkle_subtree::to_json() const {
    json::array ns, ls;
    auto add = [&](const nodes& n) {
        for (auto& x : n) ns.push_back(json::object{{"hash", x.hash.hex()}, {"size", x.size}});
    };
    for (auto& l : levels_) {
        add(l.left);
        ls.push_back(json::array{l.left.size(), l.right.size()});
    }
    for (auto it = levels_.rbegin(); it != levels_.rend(); ++it) add(it->right);
    return json::object{{"nodes", std::move(ns)}, {"levels", std::move(ls)}, {"at_start", at_start_}, {"at_end", at_end_}};
}

result<merkle_subtree> merkle_subtree::from_json(const json::value& v) {
    const auto* o = v.if_object();
    if (!o) return errc::invalid_subtree;
    const auto* ns = o->if_contains("nodes");
    const auto* ls = o->if_contains("levels");
    const auto* s = o->if_contains("at_start");
    const auto* e = o->if_contains("at_end");
    if (!ns || !ns->is_array() || !ls || !ls->is_array() || !s || !s->is_bool() || !e || !e->is_bool())
        return errc::invalid_subtree;
    nodes all;
    for (auto& n : ns->get_array()) {
        const auto* no = n.if_object();
        const auto* h = no ? no->if_contains("hash") : nullptr;
        auto size = no ? as_u64(no->if_contains("size")) : std::nullopt;
        if (!h || !h->is_string() || !size) return errc::invalid_subtree;
        auto hash = merkle_hash::from_hex(h->get_string());
        if (!hash) return hash.error();
        all.push_back({*hash, *size});
    }
    merkle_subtree t;
    t.at_start_ = s->get_bool();
    t.at_end_ = e->get_bool();
    std::size_t at = 0;
    std::vector<std::size_t> rights;
    for (auto& l : ls->get_array()) {
        const auto* pair = l.if_array();
        auto nl = pair && pair->size() == 2 ? as_u64(&(*pair)[0]) : std::nullopt;
        auto nr = pair && pair->size() == 2 ? as_u64(&(*pair)[1]) : std::nullopt;
        if (!nl || !nr || *nl > all.size() - at) return errc::invalid_subtree;
        t.levels_.push_back({nodes(all.begin() + static_cast<std::ptrdiff_t>(at),
                                   all.begin() + static_cast<std::ptrdiff_t>(at + *nl)), {}});
        at += *nl;
        rights.push_back(static_cast<std::size_t>(*nr));
    }
    for (std::size_t i = t.levels_.size(); i-- > 0;) {
        if (rights[i] > all.size() - at) return errc::invalid_subtree;
        t.levels_[i].right.assign(all.begin() + static_cast<std::ptrdiff_t>(at),
                                  all.begin() + static_cast<std::ptrdiff_t>(at + rights[i]));
        at += rights[i];
    }
    if (at != all.size() || t.levels_.empty()) return errc::invalid_subtree;
    return t;
}

}  // namespace hfhub::xet
