#include "server/xet_reconstruct.hpp"

#include "util/fs.hpp"
#include "xet/xorb.hpp"

#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace hfhub::server {

recon_plan plan_reconstruction(const xet_store& store, const xet_file& f, std::uint64_t first, std::uint64_t last) {
    recon_plan p;
    bool first_term = true;
    std::uint64_t pos = 0;
    for (auto& t : f.terms) {
        std::uint64_t tstart = pos, tend = pos + t.unpacked;
        pos = tend;
        if (tend <= first) continue;
        if (tstart > last) break;
        auto it = p.chunks.find(t.xorb);
        if (it == p.chunks.end()) {
            auto idx = store.xorb_chunks(t.xorb);
            if (!idx) throw http_error(500, "", "Xorb " + t.xorb + " of file " + f.hash + " is missing from the store");
            it = p.chunks.emplace(t.xorb, std::move(*idx)).first;
        }
        auto& idx = it->second;
        if (t.end > idx.size() || t.start >= t.end)
            throw http_error(500, "", "File " + f.hash + " names chunks xorb " + t.xorb + " does not have");
        std::uint64_t c = tstart, sum = 0, total = 0;
        std::optional<std::uint32_t> s;
        std::uint32_t e = t.start;
        std::uint64_t s_at = 0;
        for (std::uint32_t i = t.start; i < t.end; ++i) {
            std::uint64_t cend = c + idx[i].size;
            if (cend > first && c <= last) {
                if (!s) {
                    s = i;
                    s_at = c;
                }
                e = i;
                sum += idx[i].size;
            }
            total += idx[i].size;
            c = cend;
        }
        if (total != t.unpacked)
            throw http_error(500, "", "File " + f.hash + ": a term's chunks don't add up to its length");
        if (!s) continue;
        if (first_term) {
            p.offset_into_first = first - s_at;
            first_term = false;
        }
        p.terms.push_back({t.xorb, *s, e + 1, sum});
    }
    return p;
}

reconstruct_stream::reconstruct_stream(const xet_store& store, std::vector<xet_term> terms, std::uint64_t skip,
                                       std::uint64_t length)
    : store_(store), terms_(std::move(terms)), skip_(skip), length_(length) {}

bool reconstruct_stream::next_chunk() {
    while (term_ < terms_.size()) {
        auto& t = terms_[term_];
        if (!started_) {
            chunk_ = t.start;
            started_ = true;
        }
        if (chunk_ >= t.end) {
            ++term_;
            started_ = false;
            continue;
        }
        if (index_of_ != t.xorb) {
            auto idx = store_.xorb_chunks(t.xorb);
            if (!idx) throw std::runtime_error("xorb " + t.xorb + " is missing");
            index_ = std::move(*idx);
            index_of_ = t.xorb;
            fd_ = util::unique_fd(::open(store_.xorb_path(t.xorb).c_str(), O_RDONLY | O_CLOEXEC));
            if (!fd_) util::throw_errno("open", store_.xorb_path(t.xorb));
        }
        if (chunk_ >= index_.size()) throw std::runtime_error("xorb " + t.xorb + " has fewer chunks than named");
        auto& ci = index_[chunk_];
        raw_.resize(ci.serialized_size);
        std::size_t got = 0;
        while (got < raw_.size()) {
            ssize_t n = ::pread(fd_.get(), raw_.data() + got, raw_.size() - got, static_cast<off_t>(ci.offset + got));
            if (n <= 0) throw std::runtime_error("xorb " + t.xorb + " is shorter than its index");
            got += static_cast<std::size_t>(n);
        }
        auto hdr = xet::decode_chunk_header(raw_);
        if (!hdr) throw std::runtime_error("xorb " + t.xorb + ": " + hdr.error().message());
        buf_.clear();
        std::span<const std::uint8_t> payload(raw_.data() + xet::chunk_header_size, raw_.size() - xet::chunk_header_size);
        auto ok = xet::decompress_chunk(payload, hdr->scheme, hdr->uncompressed_size, buf_);
        if (!ok || buf_.size() != ci.size) throw std::runtime_error("xorb " + t.xorb + ": a chunk does not decode");
        pos_ = 0;
        ++chunk_;
        return true;
    }
    return false;
}

std::size_t reconstruct_stream::read(char* out, std::size_t n) {
    while (given_ < length_) {
        if (pos_ < buf_.size()) {
            if (skip_) {
                auto k = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, buf_.size() - pos_));
                pos_ += k;
                skip_ -= k;
                continue;
            }
            auto k = static_cast<std::size_t>(std::min<std::uint64_t>({n, buf_.size() - pos_, length_ - given_}));
            std::memcpy(out, buf_.data() + pos_, k);
            pos_ += k;
            given_ += k;
            return k;
        }
        if (!next_chunk()) throw std::runtime_error("a Xet file is shorter than its reconstruction says");
    }
    return 0;
}

}  // namespace hfhub::server
