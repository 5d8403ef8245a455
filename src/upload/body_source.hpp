// Where the bytes of an LFS object come from: a local file (streamed by the client, never loaded
// whole), bytes in memory, or a remote source read in ranges (another Hub, for a mirror). The LFS
// transfers take any of them, so uploads and mirrors share one pipeline.
#pragma once

#include <hfhub/client.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <variant>

namespace hfhub::upload {

// Reads exactly `length` bytes at `offset` of the object, or throws.
using range_reader = std::function<boost::asio::awaitable<std::string>(std::uint64_t offset, std::uint64_t length)>;

struct remote_body {
    range_reader read;
    std::uint64_t size = 0;                // of the whole object
    std::uint64_t piece_size = 8ull << 20;  // bytes per read: what a request holds in memory
    // When set, a request that sends the whole object checks its bytes against this sha256 and
    // fails before the last byte goes out, so the other side never stores wrong bytes.
    std::string sha256;
    std::string name;  // for messages
};

class body_source {
public:
    // Told of bytes the first time they go out (not again on a retry). Remote sources only:
    // the client streams files and bytes without telling.
    using sent_handler = std::function<void(std::uint64_t bytes)>;

    static body_source file(std::filesystem::path path);
    static body_source bytes(std::string data);
    // Borrows `data`, which must outlive every request this source is attached to.
    static body_source bytes_view(const std::string& data);
    static body_source remote(remote_body r);

    // Makes `r` send bytes [offset, offset + length) of the object.
    void attach(http_request& r, std::uint64_t offset, std::uint64_t length, sent_handler sent = sent_handler()) const;
    bool is_remote() const { return std::holds_alternative<std::shared_ptr<const remote_body>>(src_); }
    // The remote source, for a reader that pulls it in order itself (Xet chunks it); else null.
    const remote_body* remote() const {
        auto* r = std::get_if<std::shared_ptr<const remote_body>>(&src_);
        return r ? r->get() : nullptr;
    }

private:
    std::variant<std::filesystem::path, std::shared_ptr<const std::string>, std::shared_ptr<const remote_body>> src_;
};

}  // namespace hfhub::upload
