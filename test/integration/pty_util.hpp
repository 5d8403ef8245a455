// The real hfhub on a pseudo-terminal, and a tiny terminal to replay what it wrote.
#pragma once

#include "transport_util.hpp"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <optional>
#include <poll.h>
#include <pty.h>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace hfhub::test::pty {

using strings = std::vector<std::string>;

// hfhub with stdin, stdout and stderr on the slave side of a `cols` x `rows` pty.
class pty_child {
public:
    // `env` entries (NAME=value) replace the test's own; the Hub variables and the terminal's
    // are dropped first so the run is hermetic. `stdout_to`: stdout to that file, not the pty.
    pty_child(const strings& args, const strings& env, int cols = 100, int rows = 30,
              const std::filesystem::path& stdout_to = {}) {
        // Everything the child uses is built before fork: this process has threads.
        const strings drop{"HF_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE", "COLUMNS", "LINES", "NO_COLOR", "TERM"};
        for (char** e = environ; *e; ++e) {
            std::string kv = *e, name = kv.substr(0, kv.find('='));
            bool skip = std::find(drop.begin(), drop.end(), name) != drop.end();
            for (auto& mine : env) skip |= mine.substr(0, mine.find('=')) == name;
            if (!skip) env_.push_back(kv);
        }
        env_.insert(env_.end(), env.begin(), env.end());
        argv_.push_back(transport::hfhub_binary());
        argv_.insert(argv_.end(), args.begin(), args.end());
        std::vector<char*> argv, envp;
        for (auto& a : argv_) argv.push_back(a.data());
        argv.push_back(nullptr);
        for (auto& e : env_) envp.push_back(e.data());
        envp.push_back(nullptr);
        std::string out_path = stdout_to.string();
        winsize ws{};
        ws.ws_col = static_cast<unsigned short>(cols);
        ws.ws_row = static_cast<unsigned short>(rows);
        pid_ = ::forkpty(&fd_, nullptr, nullptr, &ws);
        if (pid_ < 0) throw std::runtime_error(std::string("forkpty: ") + std::strerror(errno));
        if (pid_ == 0) {
            if (!out_path.empty()) {
                int f = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (f < 0 || ::dup2(f, 1) < 0) ::_exit(126);
            }
            ::execve(argv[0], argv.data(), envp.data());
            ::_exit(127);
        }
    }
    ~pty_child() {
        if (pid_ > 0 && !code_) {
            ::kill(pid_, SIGKILL);
            int st;
            ::waitpid(pid_, &st, 0);
        }
        if (fd_ >= 0) ::close(fd_);
    }
    pty_child(const pty_child&) = delete;
    pty_child& operator=(const pty_child&) = delete;

    // Reads what the terminal gets until `until` holds (true), the child closes it, or `limit`.
    bool read_until(const std::function<bool(const std::string&)>& until, std::chrono::milliseconds limit) {
        auto end = std::chrono::steady_clock::now() + limit;
        while (!until(out_)) {
            if (eof_) return false;
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            ssize_t n = ::read(fd_, buf, sizeof buf);
            if (n <= 0) {
                eof_ = true;  // EIO once the slave side is closed
                continue;
            }
            out_.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }
    // What a person types (the line discipline turns "\x03" into SIGINT).
    void type(const std::string& s) { (void)!::write(fd_, s.data(), s.size()); }
    // Reads to the end and reaps the child: its exit code, 256+N when signal N killed it (so a
    // death by SIGINT is not taken for exit(130)), -1 after `limit`.
    int wait(std::chrono::milliseconds limit = std::chrono::seconds(60)) {
        auto end = std::chrono::steady_clock::now() + limit;
        read_until([](const std::string&) { return false; }, limit);
        while (!code_) {
            int st = 0;
            pid_t r = ::waitpid(pid_, &st, WNOHANG);
            if (r == pid_) code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 256 + WTERMSIG(st);
            else if (std::chrono::steady_clock::now() > end) return -1;
            else ::usleep(10000);
        }
        return *code_;
    }
    const std::string& output() const { return out_; }

private:
    strings env_, argv_;
    pid_t pid_ = -1;
    int fd_ = -1;
    bool eof_ = false;
    std::optional<int> code_;
    std::string out_;
};

// Replays \r, \n (down one line, as the tty's onlcr adds the \r), backspace, ESC[K and ESC[..m
// onto lines `width` wide; a character past the last column wraps, and is counted.
struct screen {
    explicit screen(int w) : width(static_cast<std::size_t>(w)) {}
    std::size_t width;
    std::vector<std::string> rows{std::string()};
    std::size_t row = 0, col = 0;
    int wraps = 0, unknown_escapes = 0;

    void feed(const std::string& s) {
        for (std::size_t i = 0; i < s.size(); ++i) {
            char c = s[i];
            if (c == '\r') {
                col = 0;
            } else if (c == '\n') {
                down();
            } else if (c == '\b') {
                if (col) --col;
            } else if (c == '\x1b') {
                std::size_t j = i + 1;
                if (j < s.size() && s[j] == '[') {
                    ++j;
                    while (j < s.size() && !(s[j] >= 0x40 && s[j] <= 0x7e)) ++j;
                    char fin = j < s.size() ? s[j] : 0;
                    if (fin == 'K') {
                        if (rows[row].size() > col) rows[row].resize(col);
                    } else if (fin != 'm') {
                        ++unknown_escapes;
                    }
                    i = j;
                } else {
                    ++unknown_escapes;
                }
            } else if (static_cast<unsigned char>(c) >= 0x20) {
                if (col >= width) {
                    ++wraps;
                    down();
                    col = 0;
                }
                auto& line = rows[row];
                if (line.size() < col) line.resize(col, ' ');
                if (line.size() == col) line.push_back(c);
                else line[col] = c;
                ++col;
            }
        }
    }
    // The screen's lines, trailing blanks dropped, empty lines at the end left out.
    strings text() const {
        strings out;
        for (auto r : rows) {
            while (!r.empty() && r.back() == ' ') r.pop_back();
            out.push_back(r);
        }
        while (!out.empty() && out.back().empty()) out.pop_back();
        return out;
    }

private:
    void down() {
        ++row;
        if (row == rows.size()) rows.emplace_back();
    }
};

// Every redraw, "\r" then text, must clear the rest of its line with ESC[K before the next
// "\r" or newline; returns the first that does not, or an empty string.
inline std::string redraw_without_clear(const std::string& out) {
    for (std::size_t i = out.find('\r'); i != std::string::npos; i = out.find('\r', i + 1)) {
        if (i + 1 < out.size() && out[i + 1] == '\n') continue;  // the tty's newline
        std::size_t end = out.find_first_of("\r\n", i + 1);
        std::string seg = out.substr(i + 1, end == std::string::npos ? std::string::npos : end - i - 1);
        if (seg.empty()) continue;
        if (!seg.ends_with("\x1b[K")) return seg;
    }
    return {};
}

inline bool has_line(const strings& lines, const std::string& prefix, const std::string& also = {}) {
    for (auto& l : lines)
        if (l.starts_with(prefix) && l.find(also) != std::string::npos) return true;
    return false;
}

}  // namespace hfhub::test::pty
