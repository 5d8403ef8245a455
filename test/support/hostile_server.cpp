#include "hostile_server.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace hfhub::test {

std::optional<std::string> hostile_request::header(std::string_view name) const {
    for (auto& [k, v] : headers)
        if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
    return std::nullopt;
}

namespace {

// Waits for `events` on fd in short slices so a stopping server is noticed; false when stopping.
bool wait_for(int fd, short events, const std::atomic<bool>& stopping) {
    while (!stopping.load()) {
        pollfd p{fd, events, 0};
        int r = ::poll(&p, 1, 50);
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
    return false;
}

// Reads one request; nullopt when the peer closed or sent something unparseable.
std::optional<hostile_request> read_request(int fd, std::string& buf, const std::atomic<bool>& stopping) {
    std::size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        if (buf.size() > (1 << 20) || !wait_for(fd, POLLIN, stopping)) return std::nullopt;
        char tmp[16384];
        ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return std::nullopt;
        buf.append(tmp, static_cast<std::size_t>(n));
    }
    hostile_request r;
    std::string_view head(buf.data(), end);
    auto line_end = head.find("\r\n");
    std::string_view line = head.substr(0, line_end);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return std::nullopt;
    r.method = std::string(line.substr(0, sp1));
    r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        auto e = head.find("\r\n", pos);
        if (e == std::string_view::npos) e = head.size();
        std::string_view h = head.substr(pos, e - pos);
        auto colon = h.find(':');
        if (colon != std::string_view::npos) {
            std::string_view v = h.substr(colon + 1);
            while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
            r.headers.emplace_back(std::string(h.substr(0, colon)), std::string(v));
        }
        pos = e + 2;
    }
    buf.erase(0, end + 4);
    std::size_t length = 0;
    if (auto cl = r.header("Content-Length")) {
        try {
            length = std::stoull(*cl);
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    while (buf.size() < length) {
        if (!wait_for(fd, POLLIN, stopping)) return std::nullopt;
        char tmp[65536];
        ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return std::nullopt;
        buf.append(tmp, static_cast<std::size_t>(n));
    }
    r.body = buf.substr(0, length);
    buf.erase(0, length);
    return r;
}

}  // namespace

bool hostile_conn::send(std::string_view bytes) {
    while (!bytes.empty()) {
        if (!wait_for(fd_, POLLOUT, stopping_)) return false;
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool hostile_conn::drip(std::string_view bytes, std::chrono::milliseconds gap) {
    for (char c : bytes) {
        if (!send(std::string_view(&c, 1))) return false;
        for (auto slept = std::chrono::milliseconds(0); slept < gap; slept += std::chrono::milliseconds(10)) {
            if (stopping()) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    return true;
}

std::uint64_t hostile_conn::endless(std::string_view chunk, std::uint64_t limit) {
    std::uint64_t sent = 0;
    while (sent < limit) {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), limit - sent));
        if (!send(chunk.substr(0, n))) break;
        sent += n;
    }
    return sent;
}

hostile_server::hostile_server(hostile_handler h) : handler_(std::move(h)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener_ < 0) throw std::runtime_error("hostile_server: socket");
    int one = 1;
    ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 64) != 0)
        throw std::runtime_error("hostile_server: bind/listen");
    socklen_t len = sizeof a;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    url_ = "http://127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    acceptor_ = std::thread([this] { accept_loop(); });
}

hostile_server::~hostile_server() {
    stopping_ = true;
    acceptor_.join();
    std::vector<std::thread> threads;
    {
        std::lock_guard lk(mu_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
        threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
    ::close(listener_);
}

void hostile_server::accept_loop() {
    while (wait_for(listener_, POLLIN, stopping_)) {
        int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        std::lock_guard lk(mu_);
        open_fds_.push_back(fd);
        threads_.emplace_back([this, fd] { serve(fd); });
    }
}

void hostile_server::serve(int fd) {
    std::string buf;
    hostile_conn conn(fd, stopping_);
    while (!conn.closed() && !stopping_) {
        auto req = read_request(fd, buf, stopping_);
        if (!req) break;
        {
            std::lock_guard lk(mu_);
            seen_.push_back(*req);
        }
        try {
            handler_(*req, conn);
        } catch (...) {
            break;  // a handler's own failure shows up in the test as a client error
        }
    }
    std::lock_guard lk(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    ::close(fd);
}

std::vector<hostile_request> hostile_server::requests() const {
    std::lock_guard lk(mu_);
    return seen_;
}

std::size_t hostile_server::count(std::string_view method, std::string_view path_prefix) const {
    std::lock_guard lk(mu_);
    return static_cast<std::size_t>(std::count_if(seen_.begin(), seen_.end(), [&](const hostile_request& r) {
        return r.method == method && r.target.starts_with(path_prefix);
    }));
}

std::string http_answer(unsigned status, const std::vector<std::pair<std::string, std::string>>& headers,
                        std::string_view body) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " Hostile\r\n";
    bool has_length = false;
    for (auto& [k, v] : headers) {
        if (::strcasecmp(k.c_str(), "Content-Length") == 0 || ::strcasecmp(k.c_str(), "Transfer-Encoding") == 0)
            has_length = true;
        out += k + ": " + v + "\r\n";
    }
    if (!has_length) out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += "\r\n";
    out += body;
    return out;
}

}  // namespace hfhub::test
