// Helpers for the transport tests: a raw-socket HTTP client (to see exactly what went over the
// wire), a TLS client, a child-process runner for `hfhub serve`, and test certificates.
#pragma once

#include "deadline.hpp"
#include "test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <spawn.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

extern char** environ;

namespace hfhub::test::transport {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

inline long long ms_since(clock_type::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t0).count();
}

struct url_parts {
    std::string scheme, host;
    std::uint16_t port = 0;
    std::string target;  // path and query, at least "/"
};

// Enough for the URLs this server hands out: scheme://host:port/path?query, host maybe [v6].
inline url_parts parse_url(const std::string& url) {
    url_parts u;
    auto sep = url.find("://");
    if (sep == std::string::npos) throw std::invalid_argument("bad url " + url);
    u.scheme = url.substr(0, sep);
    auto rest = url.substr(sep + 3);
    auto slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    auto colon = hostport.rfind(':');
    if (colon == std::string::npos || hostport.back() == ']') throw std::invalid_argument("no port in " + url);
    u.host = hostport.substr(0, colon);
    if (u.host.starts_with('[')) u.host = u.host.substr(1, u.host.size() - 2);
    u.port = static_cast<std::uint16_t>(std::stoi(hostport.substr(colon + 1)));
    return u;
}

struct raw_response {
    unsigned status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;

    std::optional<std::string> header(std::string_view name) const {
        for (auto& [k, v] : headers)
            if (boost::beast::iequals(k, name)) return v;
        return std::nullopt;
    }
    std::uint64_t content_length() const { return std::stoull(header("Content-Length").value_or("0")); }
};

// A blocking IPv4 client socket with poll-based deadlines, so a misbehaving server fails the
// test instead of hanging it.
class raw_conn {
public:
    explicit raw_conn(const std::string& url, int rcvbuf = 0) {
        auto u = parse_url(url);
        host_header_ = u.host + ":" + std::to_string(u.port);
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(u.port);
        std::string v4 = u.host == "localhost" ? "127.0.0.1" : u.host;
        if (v4.starts_with("::ffff:")) v4 = v4.substr(7);
        if (::inet_pton(AF_INET, v4.c_str(), &sa.sin_addr) != 1) throw std::runtime_error("not IPv4: " + u.host);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
            throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    }
    ~raw_conn() {
        if (fd_ >= 0) ::close(fd_);
    }
    raw_conn(const raw_conn&) = delete;
    raw_conn& operator=(const raw_conn&) = delete;

    const std::string& host() const { return host_header_; }

    void send(std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
            data.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    enum class status { data, eof, timeout };
    // Appends what arrives within `timeout` to the buffer. A reset counts as end of stream.
    status read_some(std::chrono::milliseconds timeout) {
        pollfd p{fd_, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (r == 0) return status::timeout;
        char tmp[65536];
        ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return status::eof;
        buf.append(tmp, static_cast<std::size_t>(n));
        return status::data;
    }

    // Reads until the peer closes; throws if it doesn't within `timeout`.
    void read_to_eof(std::chrono::milliseconds timeout = 5000ms) {
        auto deadline = clock_type::now() + timeout;
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) throw std::runtime_error("timed out waiting for the server to close");
            auto s = read_some(left);
            if (s == status::eof) return;
            if (s == status::timeout) throw std::runtime_error("timed out waiting for the server to close");
        }
    }

    // Reads until `n` bytes are buffered; false if the stream ends first.
    bool fill(std::size_t n, std::chrono::milliseconds timeout = 5000ms) {
        auto deadline = clock_type::now() + timeout;
        while (buf.size() < n) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) throw std::runtime_error("timed out reading");
            auto s = read_some(left);
            if (s == status::eof) return false;
            if (s == status::timeout) throw std::runtime_error("timed out reading");
        }
        return true;
    }

    // Parses one response head from the stream, leaving body bytes buffered.
    raw_response read_head(std::chrono::milliseconds timeout = 5000ms) {
        auto deadline = clock_type::now() + timeout;
        std::size_t end;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) throw std::runtime_error("timed out reading a response head");
            auto s = read_some(left);
            if (s == status::eof) throw std::runtime_error("connection closed before a response head: '" + buf + "'");
            if (s == status::timeout) throw std::runtime_error("timed out reading a response head");
        }
        std::string head = buf.substr(0, end);
        buf.erase(0, end + 4);
        raw_response r;
        auto line_end = head.find("\r\n");
        std::string status_line = head.substr(0, line_end);
        if (!status_line.starts_with("HTTP/1.1 ")) throw std::runtime_error("bad status line: " + status_line);
        r.status = static_cast<unsigned>(std::stoi(status_line.substr(9, 3)));
        std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
            auto e = head.find("\r\n", pos);
            if (e == std::string::npos) e = head.size();
            std::string line = head.substr(pos, e - pos);
            auto colon = line.find(':');
            if (colon != std::string::npos) {
                std::string v = line.substr(colon + 1);
                while (!v.empty() && v.front() == ' ') v.erase(0, 1);
                r.headers.emplace_back(line.substr(0, colon), v);
            }
            pos = e + 2;
        }
        return r;
    }

    // One whole response (Content-Length framed); HEAD answers have no body.
    raw_response read_response(bool head_request = false, std::chrono::milliseconds timeout = 5000ms) {
        raw_response r = read_head(timeout);
        if (head_request || r.status < 200 || r.status == 204 || r.status == 304) return r;
        std::size_t n = static_cast<std::size_t>(r.content_length());
        if (!fill(n, timeout)) throw std::runtime_error("connection closed mid-body");
        r.body = buf.substr(0, n);
        buf.erase(0, n);
        return r;
    }

    std::string request(const std::string& method, const std::string& target,
                        const std::vector<std::pair<std::string, std::string>>& headers = {},
                        const std::string& body = {}, bool content_length = true) const {
        std::string s = method + " " + target + " HTTP/1.1\r\nHost: " + host_header_ + "\r\n";
        for (auto& [k, v] : headers) s += k + ": " + v + "\r\n";
        if (content_length && (!body.empty() || method == "POST" || method == "PUT"))
            s += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        s += "\r\n" + body;
        return s;
    }

    std::string buf;  // received, not yet consumed

private:
    int fd_ = -1;
    std::string host_header_;
};

// One request on a fresh connection with `Connection: close`, read to the server's close: when
// this returns, the server has finished with the request (its access-log line is written).
inline raw_response exchange(const std::string& url, const std::string& method = "GET",
                             std::vector<std::pair<std::string, std::string>> headers = {},
                             const std::string& body = {}) {
    auto u = parse_url(url);
    raw_conn c(url);
    headers.emplace_back("Connection", "close");
    c.send(c.request(method, u.target, headers, body));
    raw_response r = c.read_head();
    c.read_to_eof();
    if (method != "HEAD") r.body = std::move(c.buf);
    return r;
}

// ---------------------------------------------------------------- TLS client

struct tls_result {
    boost::system::error_code ec;  // set if any step failed
    std::string stage;              // "connect", "handshake", "write", "read"
    http_response res;
};

// One HTTPS request. `ca_file` is the only trust anchor; `verify_host` is the name checked
// against the certificate (default: the URL's host).
inline tls_result tls_request(const std::filesystem::path& ca_file, const std::string& method, const std::string& url,
                              const std::string& body = {}, const header_pairs& headers = {},
                              std::optional<std::string> verify_host = {}) {
    namespace asio = boost::asio;
    namespace beast = boost::beast;
    namespace http = beast::http;
    auto u = parse_url(url);
    std::string name = verify_host.value_or(u.host);
    asio::io_context ioc;
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    ctx.load_verify_file(ca_file.string());
    tls_result out;
    bool done = false;
    auto run = [&]() -> asio::awaitable<void> {
        constexpr auto tok = asio::as_tuple(asio::use_awaitable);
        beast::ssl_stream<beast::tcp_stream> s(co_await asio::this_coro::executor, ctx);
        boost::system::error_code addr_ec;
        asio::ip::make_address(name, addr_ec);
        if (addr_ec) {  // SNI only for names
            SSL_set_tlsext_host_name(s.native_handle(), name.c_str());
            s.set_verify_callback(asio::ssl::host_name_verification(name));
        } else {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s.native_handle()), name.c_str());
        }
        asio::ip::tcp::endpoint ep(asio::ip::make_address(u.host), u.port);
        auto [cec] = co_await beast::get_lowest_layer(s).async_connect(ep, tok);
        if (cec) {
            out = {cec, "connect", {}};
            co_return;
        }
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, tok);
        if (hec) {
            out = {hec, "handshake", {}};
            co_return;
        }
        http::request<http::string_body> req{http::string_to_verb(method), u.target, 11};
        req.set(http::field::host, u.host + ":" + std::to_string(u.port));
        for (auto& [k, v] : headers) req.set(k, v);
        if (!body.empty() || method == "POST" || method == "PUT") {
            req.body() = body;
            req.prepare_payload();
        }
        auto [wec, wn] = co_await http::async_write(s, req, tok);
        if (wec) {
            out = {wec, "write", {}};
            co_return;
        }
        beast::flat_buffer b;
        http::response_parser<http::string_body> p;
        p.body_limit(1ull << 32);
        p.skip(method == "HEAD");
        auto [rec, rn] = co_await http::async_read(s, b, p, tok);
        if (rec) {
            out = {rec, "read", {}};
            co_return;
        }
        auto& res = p.get();
        out.res.status = res.result_int();
        for (auto& f : res) {
            std::string k(f.name_string());
            for (auto& ch : k) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            out.res.headers[k] = std::string(f.value());
        }
        out.res.body = std::move(res.body());
        done = true;
    };
    try {
        hfhub::test::run(ioc, run(), 10s);
    } catch (const hfhub::test::deadline_passed&) {
        out = tls_result();  // what the cancelled request left is not its answer
    } catch (const std::exception&) {
        out.stage = "exception";
    }
    if (!done && !out.ec && out.stage.empty()) out.stage = "timeout";
    return out;
}

// ---------------------------------------------------------------- child processes

class child_process {
public:
    explicit child_process(const std::vector<std::string>& argv) {
        int out[2], err[2];
        if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        int rc = ::posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(out[1]);
        ::close(err[1]);
        out_ = out[0];
        err_ = err[0];
        if (rc != 0) {
            pid_ = -1;
            throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
        }
    }
    ~child_process() {
        if (pid_ > 0 && !exit_code_) {
            ::kill(pid_, SIGKILL);
            int st;
            ::waitpid(pid_, &st, 0);
        }
        ::close(out_);
        ::close(err_);
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int sig) { ::kill(pid_, sig); }

    // The next stdout line, or nullopt at EOF or after `timeout`.
    std::optional<std::string> read_line(std::chrono::milliseconds timeout = 5000ms) {
        return line_from(out_, out_buf_, timeout);
    }
    std::optional<std::string> read_err_line(std::chrono::milliseconds timeout = 5000ms) {
        return line_from(err_, err_buf_, timeout);
    }
    // Everything left on a stream up to EOF (call after exit).
    std::string rest_of_stdout() { return drain(out_, out_buf_); }
    std::string rest_of_stderr() { return drain(err_, err_buf_); }

    // The exit status (128+N for signal N), or nullopt if still running after `timeout`.
    std::optional<int> wait(std::chrono::milliseconds timeout = 5000ms) {
        if (exit_code_) return exit_code_;
        int pfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
        if (pfd >= 0) {
            pollfd p{pfd, POLLIN, 0};
            int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
            ::close(pfd);
            if (r <= 0) return std::nullopt;
        }
        int st = 0;
        pid_t got = ::waitpid(pid_, &st, pfd >= 0 ? 0 : WNOHANG);
        if (got != pid_) return std::nullopt;
        exit_code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return exit_code_;
    }

private:
    static std::optional<std::string> line_from(int fd, std::string& b, std::chrono::milliseconds timeout) {
        auto deadline = clock_type::now() + timeout;
        for (;;) {
            if (auto nl = b.find('\n'); nl != std::string::npos) {
                std::string line = b.substr(0, nl);
                b.erase(0, nl + 1);
                return line;
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
            char tmp[4096];
            ssize_t n = ::read(fd, tmp, sizeof tmp);
            if (n <= 0) return std::nullopt;
            b.append(tmp, static_cast<std::size_t>(n));
        }
    }
    static std::string drain(int fd, std::string& b) {
        char tmp[4096];
        for (;;) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 5000) <= 0) break;
            ssize_t n = ::read(fd, tmp, sizeof tmp);
            if (n <= 0) break;
            b.append(tmp, static_cast<std::size_t>(n));
        }
        return std::exchange(b, {});
    }

    pid_t pid_ = -1;
    int out_ = -1, err_ = -1;
    std::string out_buf_, err_buf_;
    std::optional<int> exit_code_;
};

// Runs a command to completion; returns its exit status (stdout/stderr discarded into `log`).
inline int run_command(const std::vector<std::string>& argv, std::string* log = nullptr) {
    child_process p(argv);
    auto code = p.wait(5000ms);
    std::string text = p.rest_of_stdout() + p.rest_of_stderr();
    if (log) *log = text;
    return code.value_or(-1);
}

// The `hfhub` executable: $HFHUB_BINARY (set by ctest), else next to this test binary.
inline std::string hfhub_binary() {
    if (const char* e = std::getenv("HFHUB_BINARY"); e && *e) return e;
    return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "hfhub").string();
}

// ---------------------------------------------------------------- certificates

struct test_pki {
    std::filesystem::path ca, server_cert, server_key, other_ca;
};

// A CA, a server certificate for 127.0.0.1 and localhost signed by it, and an unrelated CA,
// made with the openssl CLI into `dir`.
inline test_pki make_test_pki(const std::filesystem::path& dir) {
    test_pki k{dir / "ca.pem", dir / "server.pem", dir / "server.key", dir / "other-ca.pem"};
    auto must = [](const std::vector<std::string>& argv) {
        std::string log;
        if (run_command(argv, &log) != 0) throw std::runtime_error("openssl failed: " + log);
    };
    auto ca = [&](const std::filesystem::path& cert, const std::filesystem::path& key, const std::string& cn) {
        must({"/usr/bin/env", "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
              "-nodes", "-keyout", key.string(), "-out", cert.string(), "-days", "2", "-subj", "/CN=" + cn,
              "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
    };
    ca(k.ca, dir / "ca.key", "hfhub test CA");
    ca(k.other_ca, dir / "other-ca.key", "some other CA");
    must({"/usr/bin/env", "openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-keyout", k.server_key.string(), "-out", (dir / "server.csr").string(), "-subj", "/CN=localhost"});
    std::ofstream(dir / "ext.cnf") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                      "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    must({"/usr/bin/env", "openssl", "x509", "-req", "-in", (dir / "server.csr").string(), "-CA", k.ca.string(),
          "-CAkey", (dir / "ca.key").string(), "-CAcreateserial", "-out", k.server_cert.string(), "-days", "2",
          "-extfile", (dir / "ext.cnf").string()});
    return k;
}

// ---------------------------------------------------------------- small things

inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Deterministic, non-repeating-ish bytes, so an off-by-one in a slice shows.
inline std::string pattern_bytes(std::size_t n, unsigned seed = 1) {
    std::string s(n, '\0');
    std::uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

inline std::string admin_set_faults(test_server& s, const std::string& rules_json) {
    auto r = s.post("/admin/faults", rules_json);
    if (r.status != 200) throw std::runtime_error("admin faults: " + std::to_string(r.status) + " " + r.body);
    return r.body;
}

// A public model alice/<name> with one regular file `path` holding `content`.
inline void make_repo_with_file(test_server& s, const std::string& name, const std::string& path,
                                const std::string& content) {
    s.create_repo("alice/" + name, alice_token);
    auto c = s.commit("models/alice/" + name, "main", {test_server::add_file(path, content)}, alice_token);
    if (c.status != 200) throw std::runtime_error("commit: " + c.body);
}

// A public model alice/<name> whose `path` is an LFS file; returns the storage URL of the bytes.
inline std::string make_repo_with_lfs(test_server& s, const std::string& name, const std::string& path,
                                      const std::string& content) {
    s.create_repo("alice/" + name, alice_token);
    std::string sha = s.upload_lfs("alice/" + name, content, alice_token);
    auto c = s.commit("models/alice/" + name, "main", {test_server::add_lfs(path, sha, content.size())}, alice_token);
    if (c.status != 200) throw std::runtime_error("commit: " + c.body);
    auto r = s.get("/alice/" + name + "/resolve/main/" + path);
    if (r.status != 302) throw std::runtime_error("resolve: expected 302, got " + std::to_string(r.status));
    return r.header("location");
}

}  // namespace hfhub::test::transport
