// A small blocking HTTP/1.1 client for tests: one connection per request, plain TCP, each
// exchange bounded by test::run's deadline (deadline.hpp).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace hfhub::test {

struct http_response {
    unsigned status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;

    std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
    bool has_header(const std::string& lower_name) const { return headers.count(lower_name) != 0; }
};

using header_pairs = std::vector<std::pair<std::string, std::string>>;

// `url` is absolute (http://host:port/path?query). Redirects are not followed.
http_response http_request(const std::string& method, const std::string& url, const std::string& body = {},
                           const header_pairs& headers = {});

std::string bearer(const std::string& token);

// Writes `raw` (a whole HTTP request) to a fresh connection to `base_url` and returns every byte
// the server sends until it closes; lets tests see bytes a parser would hide (e.g. a HEAD body).
std::string raw_exchange(const std::string& base_url, const std::string& raw);

}  // namespace hfhub::test
