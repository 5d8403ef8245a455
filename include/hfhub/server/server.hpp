// hfhub::server — a local, Hub-compatible server: the API origin plus a separate storage origin
// for LFS bytes, on one io_context. See `hfhub serve --help`.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace boost::asio {
class io_context;
}

namespace hfhub::server {

struct options {
    std::filesystem::path root;  // storage; created if absent
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;          // 0: any free port
    std::uint16_t storage_port = 0;  // the LFS storage origin; 0: any free port
    std::optional<std::filesystem::path> tokens_file;  // absent: open single-user mode
    std::optional<std::filesystem::path> tls_cert;     // with tls_key: HTTPS on both origins
    std::optional<std::filesystem::path> tls_key;
    std::optional<std::filesystem::path> access_log;
    std::optional<std::filesystem::path> faults_file;

    std::size_t max_header_bytes = 64 * 1024;
    std::uint64_t max_body_bytes = 1ull << 30;     // API requests, buffered
    std::uint64_t max_upload_bytes = 1ull << 40;   // storage uploads, streamed to disk
    std::chrono::milliseconds read_timeout{30000}; // per read, and idle keep-alive
    std::chrono::milliseconds write_timeout{60000};
    std::uint64_t multipart_threshold = 20ull << 20;
    std::uint64_t multipart_chunk = 8ull << 20;
    // Threads for storage uploads and commits (hashing, joining parts, writing the store), so
    // that work never holds up the I/O threads. 0: run it on the I/O thread.
    unsigned store_threads = 2;
    // How long an uploaded LFS object that no commit references is kept, counted from its
    // upload (its grant to a repo): long enough for a job's ranks to upload and their
    // coordinator to commit. Then it goes, and a commit citing it fails 422. 0: kept forever.
    std::chrono::milliseconds keep_unreferenced = std::chrono::hours(24);
    // New repos store large files with Xet (a repo's settings turn it on or off later): the LFS
    // batch answers "xet" to clients that offer it. Off: the Hub's behaviour before Xet.
    bool xet_by_default = false;
    // How long a Xet access token (xet-read-token, xet-write-token) stays valid.
    std::chrono::seconds xet_token_ttl{3600};
    // "Now" for download counts (per UTC day; `downloads` covers the last 30); empty: the
    // system clock. A test hook, to move through the window without waiting.
    std::function<std::chrono::system_clock::time_point()> clock;
};

class server {
public:
    // Opens the store and binds both listeners; throws std::system_error on a bind failure and
    // std::runtime_error on bad options.
    server(boost::asio::io_context& ioc, options opts);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    void start();  // begins accepting
    // Stops accepting; requests in flight finish (a commit applies whole or not at all).
    // `on_drained` runs once no request is in flight.
    void stop(std::function<void()> on_drained = {});

    std::string base_url() const;     // e.g. http://127.0.0.1:38211
    std::string storage_url() const;  // the LFS origin
    bool open_mode() const;           // no tokens file: everyone is user `local`
    std::size_t in_flight() const;

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace hfhub::server
