// The server's requests and responses as plain values, so routes are tested without sockets.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hfhub::server {

namespace fs = std::filesystem;

enum class listener_kind { api, storage };

struct header_list {
    std::vector<std::pair<std::string, std::string>> items;

    // Case-insensitive; the first match.
    std::optional<std::string_view> get(std::string_view name) const;
    void set(std::string name, std::string value);
    // Out of line: GCC 12, inlining the moves of short strings made from literals, warns of reads
    // past them (-Warray-bounds, -Wstringop-overread false positives).
    void add(std::string name, std::string value);
};

// A request body the session streamed to disk (storage uploads), hashed on the way.
struct streamed_body {
    fs::path file;
    std::uint64_t size = 0;
    std::string sha256;  // empty for a multipart part: its object is hashed as parts are joined
    // Non-zero: the body was written in place under this multipart claim, and `file` is empty.
    std::uint64_t in_place_claim = 0;
};

struct request {
    listener_kind listener = listener_kind::api;
    std::string method;
    std::string target;  // as received
    std::string path;    // target before '?', still percent-encoded
    std::string query;   // after '?', still encoded
    header_list headers;
    std::string body;
    std::optional<streamed_body> upload;
    bool from_loopback = false;
    std::string remote;  // the client's address; dataset downloads are counted once per client

    // Decoded query value, the first of that name.
    std::optional<std::string> query_param(std::string_view name) const;
    std::vector<std::string> query_params(std::string_view name) const;
    // A boolean query flag: "true", "True" and "1" (Python sends True, JS true) are true.
    bool query_flag(std::string_view name) const;
};

struct file_slice {
    fs::path path;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

// A body made while it is sent (a file rebuilt from xorbs, a multipart/byteranges answer), so
// a big answer never sits in memory whole.
struct body_stream {
    virtual ~body_stream() = default;
    virtual std::uint64_t size() const = 0;
    // Up to `n` bytes of what follows into `buf`; 0 only once size() bytes were given. Throws
    // on a store that can't be read: the connection is then cut, never sent a wrong byte.
    virtual std::size_t read(char* buf, std::size_t n) = 0;
};

struct response {
    unsigned status = 200;
    header_list headers;
    std::string body;
    std::optional<file_slice> file;  // sent with pread after the headers, instead of `body`
    std::shared_ptr<body_stream> stream;  // or this, instead of both
    bool head = false;               // a HEAD: headers only, Content-Length still the body's

    std::uint64_t content_length() const { return stream ? stream->size() : file ? file->length : body.size(); }
};

// Thrown by routes and the store; becomes a Hub-style error response.
struct http_error : std::runtime_error {
    http_error(unsigned status, std::string code, const std::string& message)
        : std::runtime_error(message), status(status), code(std::move(code)) {}
    unsigned status;
    std::string code;     // X-Error-Code, may be empty
    header_list headers;  // extra headers, e.g. the Location of a moved repo
};

response json_response(unsigned status, std::string body);
response error_response(unsigned status, std::string_view code, std::string_view message);

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view query);

// An ETag value: the id in double quotes.
inline std::string quote_etag(std::string_view id) { return "\"" + std::string(id) + "\""; }

}  // namespace hfhub::server
