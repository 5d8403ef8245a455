// libFuzzer: the server's NDJSON commit payload. It must parse or throw the 400 http_error that
// names the line; anything else (a 500, a crash) is a finding. The parser checks shape only: an
// oid that is not 64 hex digits passes here and the store refuses it with 422.
#include "server/hub.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    hfhub::server::commit_request req;
    try {
        hfhub::server::parse_commit_payload(std::string_view(reinterpret_cast<const char*>(data), size), req);
    } catch (const hfhub::server::http_error& e) {
        if (e.status != 400) std::abort();
        return 0;
    }
    // Every accepted op came from a line, and there is a header line besides.
    std::size_t lines = 0;
    for (std::size_t i = 0; i < size; ++i) lines += data[i] == '\n';
    if (req.ops.size() > lines) std::abort();
    return 0;
}
