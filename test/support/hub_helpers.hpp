// JSON and Hub shortcuts shared by the integration tests. Helpers that must succeed throw
// std::runtime_error (with the server's answer) so a broken precondition fails the test loudly.
#pragma once

#include "test_server.hpp"

#include "util/hash.hpp"
#include "util/paths.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace hfhub::test {

namespace json = boost::json;

inline json::value parse_json(const http_response& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec) throw std::runtime_error("not JSON (status " + std::to_string(r.status) + "): " + r.body.substr(0, 300));
    return v;
}

inline std::string jstr(const json::value& v) { return json::value_to<std::string>(v); }
inline std::string jstr(const json::value& v, std::string_view key) { return json::value_to<std::string>(v.at(key)); }

// q(x) from the protocol: percent-encoding with no safe characters.
inline std::string q(const std::string& s) { return util::percent_encode(s, false); }

// git's blob id, computed here from the format rather than with the server's helper.
inline std::string git_blob_id(const std::string& content) {
    std::string obj = "blob " + std::to_string(content.size());
    obj.push_back('\0');
    return util::sha1_hex(obj + content);
}

inline std::string lfs_pointer_text(const std::string& sha256, std::size_t size) {
    return "version https://git-lfs.github.com/spec/v1\noid sha256:" + sha256 + "\nsize " + std::to_string(size) +
           "\n";
}

// The sha of `rev` through repo info; `api_repo` is e.g. "models/alice/r".
inline std::string head_of(test_server& s, const std::string& api_repo, const std::string& rev = "main",
                           const std::string& token = alice_token) {
    auto r = s.get("/api/" + api_repo + "/revision/" + q(rev), token);
    if (r.status != 200) throw std::runtime_error("head_of " + rev + ": " + std::to_string(r.status) + " " + r.body);
    return jstr(parse_json(r), "sha");
}

// A commit that must succeed; returns its commitOid.
inline std::string must_commit(test_server& s, const std::string& api_repo, const std::string& rev,
                               const std::vector<std::string>& ops, const std::string& summary = "test commit",
                               const std::string& token = alice_token) {
    auto r = s.commit(api_repo, q(rev), ops, token, summary);
    if (r.status != 200) throw std::runtime_error("commit: " + std::to_string(r.status) + " " + r.body);
    return jstr(parse_json(r), "commitOid");
}

// Sorted file paths at `rev` (recursive tree, files only).
inline std::vector<std::string> file_list(test_server& s, const std::string& api_repo, const std::string& rev = "main",
                                          const std::string& token = alice_token) {
    auto r = s.get("/api/" + api_repo + "/tree/" + q(rev) + "?recursive=true", token);
    if (r.status != 200) throw std::runtime_error("tree: " + std::to_string(r.status) + " " + r.body);
    std::vector<std::string> out;
    json::value v = parse_json(r);
    for (auto& e : v.as_array())
        if (jstr(e, "type") == "file") out.push_back(jstr(e, "path"));
    std::sort(out.begin(), out.end());
    return out;
}

// The URL in a `Link: <url>; rel="next"` header, if any.
inline std::optional<std::string> next_link(const http_response& r) {
    static const std::regex re(R"re(<(https?://[^>]+)>;\s+rel="next")re");
    std::smatch m;
    std::string link = r.header("link");
    if (!std::regex_search(link, m, re)) return std::nullopt;
    return m[1].str();
}

// Deterministic bytes of a given size (not all equal, so offsets matter).
inline std::string pattern_bytes(std::size_t n, unsigned seed = 1) {
    std::string out(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : out) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return out;
}

// The body length after the header block of a raw response, and the header block itself.
struct raw_split {
    std::string head;
    std::size_t body_bytes = 0;
};
inline raw_split split_raw(const std::string& bytes) {
    auto end = bytes.find("\r\n\r\n");
    if (end == std::string::npos) throw std::runtime_error("no header block in: " + bytes.substr(0, 200));
    return {bytes.substr(0, end + 2), bytes.size() - end - 4};
}

// Access-log lines of the API listener with this method (any when empty) whose target
// contains `needle`; waits up to 3 s for `at_least` of them (the server logs after it sent the
// body, so a line may trail the response).
inline std::vector<json::object> api_lines(const test_server& s, const std::string& method, const std::string& needle,
                                           std::size_t at_least = 0) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (true) {
        std::vector<json::object> out;
        for (auto& l : s.log_lines()) {
            auto o = json::parse(l).as_object();
            if (json::value_to<std::string>(o.at("listener")) != "api") continue;
            if (!method.empty() && json::value_to<std::string>(o.at("method")) != method) continue;
            if (json::value_to<std::string>(o.at("target")).find(needle) == std::string::npos) continue;
            out.push_back(std::move(o));
        }
        if (out.size() >= at_least || std::chrono::steady_clock::now() > deadline) return out;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

// The access log once it has stopped growing for 100 ms (at most 3 s): the server writes a
// line after it sent the answer, so the last line may trail the response the test just read.
inline std::vector<std::string> settled_log(const test_server& s) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    auto lines = s.log_lines();
    while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        auto again = s.log_lines();
        if (again.size() == lines.size()) break;
        lines = std::move(again);
    }
    return lines;
}

}  // namespace hfhub::test
