// A scripted HTTP/1.1 server on 127.0.0.1, port 0, that misbehaves on purpose. It parses the
// request line, headers and a Content-Length body, then hands them to the test's handler, which
// answers with raw bytes: broken heads, lying lengths, endless or dripping bodies, anything.
// Plain sockets and one thread per connection, so a handler may block and sleep as it likes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace hfhub::test {

struct hostile_request {
    std::string method;
    std::string target;  // as sent: path and query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::optional<std::string> header(std::string_view name) const;  // case-insensitive
    std::string path() const { return target.substr(0, target.find('?')); }
};

// One connection, as the handler sees it. Every send returns false once the peer has gone or
// the server is stopping, so endless loops end.
class hostile_conn {
public:
    hostile_conn(int fd, const std::atomic<bool>& stopping) : fd_(fd), stopping_(stopping) {}
    bool send(std::string_view bytes);
    // One byte every `gap` (an endless drip when `bytes` repeats in the handler's loop).
    bool drip(std::string_view bytes, std::chrono::milliseconds gap);
    // Sends `chunk` over and over until the peer goes, or `limit` bytes went.
    std::uint64_t endless(std::string_view chunk, std::uint64_t limit = ~0ull);
    // Closes after this answer instead of reading the next request.
    void close() { closed_ = true; }
    bool closed() const { return closed_; }
    bool stopping() const { return stopping_.load(); }

private:
    int fd_;
    const std::atomic<bool>& stopping_;
    bool closed_ = false;
};

using hostile_handler = std::function<void(const hostile_request&, hostile_conn&)>;

class hostile_server {
public:
    explicit hostile_server(hostile_handler h);
    ~hostile_server();
    hostile_server(const hostile_server&) = delete;
    hostile_server& operator=(const hostile_server&) = delete;

    // "http://127.0.0.1:<port>"
    const std::string& url() const { return url_; }
    // Every request seen so far, in arrival order.
    std::vector<hostile_request> requests() const;
    std::size_t count(std::string_view method, std::string_view path_prefix = "") const;

private:
    void accept_loop();
    void serve(int fd);

    hostile_handler handler_;
    int listener_ = -1;
    std::string url_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mu_;
    std::vector<hostile_request> seen_;
    std::vector<int> open_fds_;
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

// A whole response with a correct Content-Length unless `headers` brings its own.
std::string http_answer(unsigned status, const std::vector<std::pair<std::string, std::string>>& headers,
                        std::string_view body = {});

}  // namespace hfhub::test
