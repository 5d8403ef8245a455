#include "upload/xet_plan.hpp"

#include <stdexcept>

namespace hfhub::upload::xet_up {

bool dedup_eligible_hash(const digest& h) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | h.bytes[24 + static_cast<std::size_t>(i)];
    return v % 1024 == 0;
}

bool dedup_sampler::should_query(std::size_t index, const digest& h) {
    if (index == 0) next_ = 0;  // a new file
    if (index != 0 && !dedup_eligible_hash(h)) return false;
    if (index < next_) return false;
    next_ = index + spacing_;
    return true;
}

bool xorb_fill::fits(std::uint32_t size) const {
    if (chunks_ == 0) return true;
    return chunks_ + 1 <= lim_.max_chunks && bytes_ + xorb_chunk_bound(size) <= lim_.max_bytes;
}

void xorb_fill::add(std::uint32_t size) {
    ++chunks_;
    bytes_ += xorb_chunk_bound(size);
}

void chunk_index::add_local(const digest& h, chunk_place where) { local_.emplace(h, std::move(where)); }

void chunk_index::add_remote(const std::optional<xet::hash_key>& key, const digest& xorb, std::span<const digest> chunk_hashes) {
    keyed_group* g = nullptr;
    for (auto& x : remote_)
        if (x.key == key) g = &x;
    if (!g) {
        remote_.push_back({key, {}});
        g = &remote_.back();
    }
    ++remote_xorbs_;
    for (std::size_t i = 0; i < chunk_hashes.size(); ++i)
        g->chunks.emplace(chunk_hashes[i], chunk_place{xorb, static_cast<std::uint32_t>(i)});
}

std::optional<chunk_place> chunk_index::find(const digest& h) const {
    if (auto it = local_.find(h); it != local_.end()) return it->second;
    for (auto& g : remote_) {
        digest k = g.key ? xet::keyed_chunk_hash(h, *g.key) : h;
        if (auto it = g.chunks.find(k); it != g.chunks.end()) return it->second;
    }
    return std::nullopt;
}

std::vector<term> form_terms(std::span<const placed_chunk> chunks) {
    std::vector<term> out;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        const placed_chunk& c = chunks[i];
        if (!out.empty()) {
            term& t = out.back();
            if (t.xorb == c.where.xorb && t.end == c.where.index &&
                static_cast<std::uint64_t>(t.bytes) + c.size <= 0xffffffffull) {
                ++t.end;
                t.bytes += c.size;
                continue;
            }
        }
        term t;
        t.xorb = c.where.xorb;
        t.start = c.where.index;
        t.end = c.where.index + 1;
        t.bytes = c.size;
        t.first_chunk = i;
        out.push_back(std::move(t));
    }
    return out;
}

std::span<const placed_chunk> term_chunks(std::span<const placed_chunk> chunks, const term& t) {
    return chunks.subspan(t.first_chunk, t.end - t.start);
}

namespace {

// The sha256 as xet-core and the JS client put it in the metadata extension: parsed like a Xet
// hash string, so hex() of it gives the usual digest back.
digest sha256_ext(const std::string& hex) {
    auto h = hex.size() == 64 ? xet::merkle_hash::from_hex(hex) : xet::result<xet::merkle_hash>(xet::errc::invalid_hash);
    if (!h) throw std::invalid_argument("a sha256 is 64 hex digits: '" + hex + "'");
    return *h;
}

}  // namespace

xet::shard form_shard(std::span<const file_plan> files, std::span<const made_xorb> xorbs) {
    auto hash_of = [&](const xorb_id& id) -> const digest& {
        if (auto* h = std::get_if<digest>(&id)) return *h;
        std::size_t slot = std::get<new_xorb_slot>(id).slot;
        if (slot >= xorbs.size()) throw std::invalid_argument("a chunk placed in a xorb that was never made");
        return xorbs[slot].hash;
    };
    xet::shard s;
    for (auto& f : files) {
        xet::file_info fi;
        std::vector<xet::hash_and_size> leaves;
        leaves.reserve(f.chunks.size());
        for (auto& c : f.chunks) leaves.push_back({c.hash, c.size});
        fi.file_hash = xet::file_hash(leaves);
        std::vector<digest> hashes;
        for (auto& t : form_terms(f.chunks)) {
            fi.entries.push_back({hash_of(t.xorb), 0, t.bytes, t.start, t.end});
            hashes.clear();
            for (auto& c : term_chunks(f.chunks, t)) hashes.push_back(c.hash);
            fi.verification.push_back(xet::verification_hash(hashes));
        }
        fi.sha256 = sha256_ext(f.sha256);
        s.files.push_back(std::move(fi));
    }
    for (auto& x : xorbs) s.xorbs.push_back(xet::make_cas_info(x.hash, x.chunks, x.serialized_size));
    return s;
}

}  // namespace hfhub::upload::xet_up
