#include "xet/error.hpp"

#include <string>

namespace hfhub::xet {
namespace {

class xet_category : public std::error_category {
public:
    const char* name() const noexcept override { return "hfhub.xet"; }
    std::string message(int v) const override {
        switch (static_cast<errc>(v)) {
            case errc::invalid_hash: return "not a 64-digit hex Xet hash";
            case errc::truncated: return "Xet data ends early";
            case errc::bad_chunk_header: return "bad xorb chunk header";
            case errc::unknown_compression: return "unknown xorb chunk compression scheme";
            case errc::decompression_failed: return "xorb chunk does not decompress to its stated size";
            case errc::chunk_too_large: return "xorb chunk larger than 128 KiB";
            case errc::xorb_too_large: return "xorb larger than 64 MiB or too many chunks";
            case errc::hash_mismatch: return "Xet hash does not match the content";
            case errc::chunk_count_mismatch: return "not the number of chunks expected";
            case errc::trailing_data: return "unexpected bytes after the last chunk or section";
            case errc::bad_magic: return "not an MDB shard (bad header tag)";
            case errc::unsupported_version: return "unsupported shard header or footer version";
            case errc::bad_footer: return "shard footer size or offsets out of bounds";
            case errc::missing_bookend: return "shard section without its bookend";
            case errc::too_many_entries: return "shard has more entries than allowed";
            case errc::inconsistent_shard: return "shard verification entries are inconsistent";
            case errc::invalid_range: return "invalid chunk range";
            case errc::invalid_subtree: return "malformed Merkle subtree, or subtrees merged out of order";
        }
        return "unknown Xet error " + std::to_string(v);
    }
};

}  // namespace

const std::error_category& category() noexcept {
    static const xet_category c;
    return c;
}

std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

}  // namespace hfhub::xet
