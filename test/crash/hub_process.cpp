#include "hub_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace hfhub::crash {

hub_process::hub_process(const std::string& binary, const std::filesystem::path& root,
                         const std::filesystem::path& log, std::chrono::seconds startup_timeout) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
    std::vector<std::string> args{binary, "serve", "--root", root.string(), "--port", "0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log_path = log.string();
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        // Never outlive the test, even if it aborts.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        int err = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (err >= 0) ::dup2(err, 2);
        ::dup2(p[1], 1);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(p[1]);
    out_fd_ = p[0];

    std::string buf;
    auto deadline = std::chrono::steady_clock::now() + startup_timeout;
    for (;;) {
        auto nl = buf.find('\n');
        if (nl != std::string::npos) {
            std::string line = buf.substr(0, nl);
            buf.erase(0, nl + 1);
            constexpr std::string_view tag = "listening on ";
            if (line.starts_with(tag)) {
                url_ = line.substr(tag.size());
                return;
            }
            continue;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            kill_hard();
            throw std::runtime_error("hfhub serve printed no 'listening on' line in time");
        }
        pollfd pfd{out_fd_, POLLIN, 0};
        int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) continue;
        char chunk[512];
        ssize_t got = ::read(out_fd_, chunk, sizeof chunk);
        if (got <= 0) {
            kill_hard();
            throw std::runtime_error("hfhub serve exited before listening (" + exit_description() + ")");
        }
        buf.append(chunk, static_cast<std::size_t>(got));
    }
}

hub_process::~hub_process() {
    if (!exited_ && pid_ > 0) kill_hard();
    if (out_fd_ >= 0) ::close(out_fd_);
}

void hub_process::reap(int status) {
    exited_ = true;
    status_ = status;
}

bool hub_process::alive() {
    if (exited_) return false;
    int st = 0;
    pid_t r = ::waitpid(pid_, &st, WNOHANG);
    if (r == pid_) reap(st);
    return !exited_;
}

std::string hub_process::exit_description() const {
    if (!exited_) return "running";
    if (WIFEXITED(status_)) return "exit status " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) return std::string("signal ") + ::strsignal(WTERMSIG(status_));
    return "unknown status";
}

void hub_process::kill_hard() {
    if (exited_) return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    reap(st);
}

int hub_process::stop(std::chrono::seconds grace) {
    if (!exited_) {
        ::kill(pid_, SIGTERM);
        auto deadline = std::chrono::steady_clock::now() + grace;
        while (alive() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!exited_) {
            kill_hard();
            return -1;
        }
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

}  // namespace hfhub::crash
