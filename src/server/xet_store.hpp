// The server's Xet storage (docs/serve.md "Xet storage"): xorbs by hash, stored once for every
// repo; file reconstructions by file hash, found by the sha256 their shard named; and the chunk
// index global deduplication answers from. Layout under root/xet/:
//   xorbs/<2 hex>/<xorb hex>       the xorb as uploaded (no footer)
//   xorbs/<2 hex>/<xorb hex>.idx   its chunks: hash, offset, serialized and unpacked size
//   files/<2 hex>/<file hex>.json  a file's reconstruction: terms, size, sha256, time
//   sha256/<2 hex>/<sha256>        "<file hex> <size>": the LFS oid a commit's pointer names
//   dedup/<2 hex>/<chunk hex>      the xorb that holds the chunk, then its shard's other xorbs,
//                                  one per line (eligible chunks only)
// Everything is written temp -> fsync -> rename, so a crash leaves an entry whole or absent.
#pragma once

#include "server/object_store.hpp"
#include "xet/hash.hpp"

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace hfhub::server {

// One chunk of a stored xorb.
struct xet_chunk_info {
    xet::merkle_hash hash;
    std::uint32_t offset = 0;           // of its header in the xorb
    std::uint32_t serialized_size = 0;  // header + payload
    std::uint32_t size = 0;             // unpacked bytes
};

// Chunks [start, end) of a xorb, `unpacked` bytes once decoded.
struct xet_term {
    std::string xorb;  // hex, as the API spells hashes
    std::uint32_t start = 0;
    std::uint32_t end = 0;
    std::uint64_t unpacked = 0;
};

struct xet_file {
    std::string hash;    // hex
    std::string sha256;  // from the shard's metadata extension; empty when it had none
    std::uint64_t size = 0;
    std::int64_t registered = 0;  // unix seconds
    std::vector<xet_term> terms;
};

class xet_store {
public:
    xet_store(fs::path dir, fs::path tmp_dir);

    // Held across "are the xorbs there" and "register the file", and across a removal's "is
    // the xorb still referenced" and "delete it", so no file is left naming a missing xorb.
    std::mutex& mutex() { return mu_; }

    fs::path xorb_path(std::string_view hex) const;
    std::optional<std::uint64_t> xorb_size(std::string_view hex) const;
    // Stores a verified xorb and its chunk list; false (nothing written) when it is stored.
    bool put_xorb(std::string_view hex, std::string_view bytes, const std::vector<xet_chunk_info>& chunks);
    // The chunk list of a stored xorb; nullopt when the xorb is absent or its index unreadable.
    std::optional<std::vector<xet_chunk_info>> xorb_chunks(std::string_view hex) const;

    std::optional<xet_file> file(std::string_view hex) const;
    // Registers a file (caller holds mutex()); an existing record is kept. True when written.
    bool put_file(const xet_file& f);
    // The file hash and size an LFS oid stands for.
    std::optional<std::pair<std::string, std::uint64_t>> by_sha256(std::string_view sha) const;

    // Global deduplication: the xorb that holds a chunk, then the other xorbs of the shard that
    // registered it (at most max_dedup_xorbs in all). A hit answers with all of them, as the Hub
    // answers with a shard: a file's sampled chunks are sparse, and one xorb per hit would leave
    // the unchanged chunks of unsampled xorbs to be sent again.
    static constexpr std::size_t max_dedup_xorbs = 64;
    void index_chunk(const xet::merkle_hash& chunk, std::string_view xorb_hex, std::span<const std::string> shard_xorbs);
    // The indexed xorbs that are still stored, the chunk's own first; empty when unknown.
    std::vector<std::string> dedup_xorbs(std::string_view chunk_hex) const;

    // Forgets the file the oid stands for (its sha256 entry and its reconstruction), then drops
    // xorbs no remaining file references. Returns how many xorbs went.
    std::size_t remove_sha256(std::string_view sha);
    // Removes what nothing can reach once older than `before` (unix seconds): xorbs no file
    // references, and files no sha256 entry names. Returns how many entries went.
    std::size_t sweep(std::int64_t before);

private:
    fs::path fan(const char* kind, std::string_view name) const;
    std::unordered_set<std::string> referenced_xorbs() const;
    std::size_t drop_unreferenced(const std::vector<std::string>& candidates, std::int64_t before);
    void write_durable(const fs::path& target, std::string_view content) const;

    fs::path dir_;
    fs::path tmp_;
    std::mutex mu_;
};

// The LFS object store seen through Xet too: an oid is stored when its bytes are on disk
// (LFS uploads) or a shard registered a file with that sha256 (Xet uploads). Commits, grants,
// lfs-files and the unreferenced sweep see both the same way.
class xet_lfs_storage final : public lfs_storage {
public:
    xet_lfs_storage(fs::path dir, xet_store& xet) : disk_(std::move(dir)), xet_(xet) {}
    std::optional<std::uint64_t> stat(std::string_view sha256) override;
    void put_verified(std::string_view sha256, const fs::path& file) override { disk_.put_verified(sha256, file); }
    std::optional<fs::path> local_path(std::string_view sha256) override { return disk_.local_path(sha256); }
    void remove(std::string_view sha256) override;

private:
    disk_lfs_storage disk_;
    xet_store& xet_;
};

}  // namespace hfhub::server
