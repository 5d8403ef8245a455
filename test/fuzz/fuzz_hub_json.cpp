// libFuzzer: the Hub's JSON answers as the client reads them. The first byte picks the answer:
// repo info, a tree page, refs, or an LFS batch answer for two known objects. Every reader must
// return or throw hfhub::error (a protocol_error, or the server's error for a refused object).
#include "hub/hub_json.hpp"
#include "upload/pipeline.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

void read(unsigned kind, std::string_view text) {
    hfhub::http_request req;
    req.method = "GET";
    req.url = "http://127.0.0.1:1/api/models/alice/demo";
    hfhub::http_response resp;
    resp.status = 200;
    resp.body = std::string(text);
    switch (kind % 4) {
    case 0: {
        hfhub::hub::json_reader r(req, resp);
        auto m = hfhub::hub::read_repo_info(r, r.parse(resp.body));
        if (m.id.empty() && m.sha.empty() && !m.siblings.empty() && m.siblings.front().path.empty()) (void)m;
        break;
    }
    case 1: {
        hfhub::hub::json_reader r(req, resp);
        auto v = r.parse(resp.body);
        const auto& page = r.array(v, "response");
        for (std::size_t i = 0; i < page.size(); ++i) (void)hfhub::hub::read_entry(r, page[i], hfhub::hub::indexed("tree", i));
        break;
    }
    case 2: {
        hfhub::hub::json_reader r(req, resp);
        auto v = r.parse(resp.body);
        const auto& o = r.object(v, "response");
        (void)hfhub::hub::read_refs(r, o, "branches", true);
        (void)hfhub::hub::read_refs(r, o, "pullRequests", false);
        break;
    }
    default: {
        // The seeds name these two objects; sizes make the multipart arithmetic bite.
        static const std::vector<hfhub::upload::lfs_object> objs{
            {"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", 5, "a.bin"},
            {"486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7", 50ull << 20, "b.bin"}};
        std::vector<std::unique_ptr<hfhub::upload::lfs_transfer>> out;
        req.method = "POST";
        hfhub::upload::parse_lfs_batch("http://127.0.0.1:1", req, resp, objs, 0, objs.size(), out);
        for (auto& t : out) {
            if (!t->obj) std::abort();
            if (t->chunk && t->parts.size() != (t->obj->size + t->chunk - 1) / t->chunk) std::abort();
            for (std::size_t p = 0; p < t->parts.size(); ++p)
                if (t->parts[p].number != p + 1) std::abort();
        }
    }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    try {
        read(data[0], std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    } catch (const hfhub::error&) {
    }
    return 0;
}
