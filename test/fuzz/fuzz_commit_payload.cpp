// libFuzzer: the server's NDJSON commit payload. It must parse or throw the 400 http_error that
// names the line; anything else (a 500, a crash) is a finding.
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
    for (auto& op : req.ops)
        if (op.what == hfhub::server::commit_op::kind::add_lfs && op.sha256.empty()) std::abort();
    return 0;
}
