// Reading Xet-stored files back: which chunks of which xorbs a byte range needs, and a body
// stream that decodes them, for the reconstruction API and for clients that only speak LFS.
#pragma once

#include "server/message.hpp"
#include "server/xet_store.hpp"
#include "util/fs.hpp"

#include <map>
#include <string>
#include <vector>

namespace hfhub::server {

struct recon_plan {
    // Terms cut to the chunks that hold bytes [first, last] of the file.
    std::vector<xet_term> terms;
    // Bytes of the first term's first chunk before `first`.
    std::uint64_t offset_into_first = 0;
    // The chunk lists of the xorbs the terms name.
    std::map<std::string, std::vector<xet_chunk_info>> chunks;
};

// Throws http_error 500 when a xorb the file names is missing or its chunks don't add up to the
// file's terms (a store damaged outside the server).
recon_plan plan_reconstruction(const xet_store& store, const xet_file& f, std::uint64_t first, std::uint64_t last);

// Decodes `terms` chunk by chunk from the stored xorbs, skipping `skip` bytes at the start and
// giving `length` bytes in all.
class reconstruct_stream final : public body_stream {
public:
    reconstruct_stream(const xet_store& store, std::vector<xet_term> terms, std::uint64_t skip, std::uint64_t length);
    std::uint64_t size() const override { return length_; }
    std::size_t read(char* buf, std::size_t n) override;

private:
    bool next_chunk();  // decodes the next chunk into buf_; false at the end of the terms

    const xet_store& store_;
    std::vector<xet_term> terms_;
    std::uint64_t skip_;
    std::uint64_t length_;
    std::uint64_t given_ = 0;
    std::size_t term_ = 0;
    std::uint32_t chunk_ = 0;  // the next chunk of terms_[term_]
    bool started_ = false;
    std::vector<xet_chunk_info> index_;
    std::string index_of_;  // the xorb index_ belongs to
    util::unique_fd fd_;
    std::vector<std::uint8_t> raw_;
    std::vector<std::uint8_t> buf_;
    std::size_t pos_ = 0;
};

}  // namespace hfhub::server
