// libFuzzer: requests through the server's router, `hub::handle`, over a store in $TMPDIR that
// holds alice/demo with a file. Input: "METHOD TARGET" line, header lines, a blank line, the
// body; a target starting with "//storage" goes to the storage listener. Every request must get
// an answer with a valid status; nothing may escape or crash.
#include "server/hub.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace hfhub::server;

namespace {

constexpr std::string_view alice_token = "hf_fuzz_alice_token_0123456789";

response send(hub& h, std::string method, std::string target, std::string body, bool auth = true) {
    request r;
    r.method = std::move(method);
    r.target = target;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    if (auth) r.headers.add("Authorization", "Bearer " + std::string(alice_token));
    r.body = std::move(body);
    return h.handle(r);
}

hub& the_hub() {
    static std::unique_ptr<hub> h = [] {
        std::string tmpl = (fs::temp_directory_path() / "hfhub-fuzz-XXXXXX").string();
        if (!::mkdtemp(tmpl.data())) std::abort();
        auto auth = authenticator::from_json(R"({"users":[{"name":"alice","token":")" + std::string(alice_token) +
                                             R"(","orgs":["acme"]}]})");
        hub_config cfg{"http://127.0.0.1:1", "http://127.0.0.1:2"};
        auto p = std::make_unique<hub>(fs::path(tmpl), std::move(auth), cfg);
        if (send(*p, "POST", "/api/repos/create", R"({"name":"demo","organization":"alice"})").status != 200)
            std::abort();
        std::string commit =
            "{\"key\":\"header\",\"value\":{\"summary\":\"seed\"}}\n"
            "{\"key\":\"file\",\"value\":{\"path\":\"dir/a.txt\",\"content\":\"aGVsbG8=\",\"encoding\":\"base64\"}}\n";
        if (send(*p, "POST", "/api/models/alice/demo/commit/main", commit).status != 200) std::abort();
        return p;
    }();
    return *h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    hub& h = the_hub();
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto line = [&]() {
        auto nl = in.find('\n');
        std::string_view l = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
        if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
        return l;
    };
    std::string_view first = line();
    auto sp = first.find(' ');
    if (sp == std::string_view::npos) return 0;
    request r;
    r.method = std::string(first.substr(0, sp));
    std::string target(first.substr(sp + 1));
    if (target.starts_with("//storage")) {
        r.listener = listener_kind::storage;
        target.erase(0, 9);
    }
    r.target = target;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    while (!in.empty()) {
        std::string_view l = line();
        if (l.empty()) break;
        auto colon = l.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view v = l.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        r.headers.add(std::string(l.substr(0, colon)), std::string(v));
    }
    r.body = std::string(in);
    response resp = h.handle(r);
    if (resp.status < 100 || resp.status > 599) std::abort();
    if (r.method == "HEAD" && !resp.head) std::abort();
    if (resp.file && resp.file->length > 0 && !fs::exists(resp.file->path)) std::abort();
    return 0;
}
