// A real `hfhub serve` child process, so that tests can SIGKILL it mid-write.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/types.h>

namespace hfhub::crash {

class hub_process {
public:
    // Starts `binary serve --root root --port 0`, stderr appended to `log`, and waits for
    // the "listening on" line. Throws std::runtime_error if it doesn't come.
    hub_process(const std::string& binary, const std::filesystem::path& root, const std::filesystem::path& log,
                std::chrono::seconds startup_timeout = std::chrono::seconds(30));
    ~hub_process();
    hub_process(const hub_process&) = delete;
    hub_process& operator=(const hub_process&) = delete;

    const std::string& url() const { return url_; }
    pid_t pid() const { return pid_; }

    // False once the process has exited on its own (then `exit_description` says how).
    bool alive();
    std::string exit_description() const;

    void kill_hard();  // SIGKILL and reap
    // SIGTERM and reap; returns the exit status, or -1 if it had to be SIGKILLed or died by a signal.
    int stop(std::chrono::seconds grace = std::chrono::seconds(20));

private:
    void reap(int status);

    pid_t pid_ = -1;
    int out_fd_ = -1;
    int status_ = 0;
    bool exited_ = false;
    std::string url_;
};

}  // namespace hfhub::crash
