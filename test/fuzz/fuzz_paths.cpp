// libFuzzer: the path and name checks shared by the server and the client. A normalized path
// must be a fixed point and hold no unsafe segment; percent-encoding must round-trip.
#include "util/paths.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string why;
    if (auto p = hfhub::util::normalize_repo_path(in, why)) {
        std::string why2;
        auto again = hfhub::util::normalize_repo_path(*p, why2);
        if (!again || *again != *p) std::abort();
        if (p->empty() || p->front() == '/' || p->find('\\') != std::string::npos) std::abort();
        std::string_view rest = *p;
        while (!rest.empty()) {
            auto slash = rest.find('/');
            auto seg = rest.substr(0, slash);
            if (seg.empty() || seg == "." || seg == ".." || seg == ".git") std::abort();
            rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
        }
        for (unsigned char c : *p)
            if (c < 0x20 || c == 0x7f) std::abort();
    } else if (why.empty()) {
        std::abort();  // a refusal says why
    }
    if (hfhub::util::valid_repo_name_part(in)) {
        if (in.empty() || in.size() > 96 || in.find("..") != std::string_view::npos) std::abort();
    }
    (void)hfhub::util::valid_ref_name(in);
    // Pattern and name: split at the first NUL.
    auto nul = in.find('\0');
    if (nul != std::string_view::npos) (void)hfhub::util::fnmatch(in.substr(0, nul), in.substr(nul + 1));
    else if (!hfhub::util::fnmatch(in, in) && in.find_first_of("*?[") == std::string_view::npos) std::abort();
    for (bool keep_slash : {false, true}) {
        auto back = hfhub::util::percent_decode(hfhub::util::percent_encode(in, keep_slash));
        if (!back || *back != in) std::abort();
    }
    (void)hfhub::util::percent_decode(in, true);
    return 0;
}
