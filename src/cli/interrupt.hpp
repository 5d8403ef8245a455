// Ctrl-C during a transfer: one line saying what was kept, then exit 130 (128 + SIGINT), as
// shells expect. The handler only writes and exits, so it is async-signal-safe; the message is
// chosen ahead of time by whoever knows the phase.
#pragma once

#include <atomic>
#include <csignal>
#include <cstring>

#include <unistd.h>

namespace hfhub::cli::interrupt {

inline std::atomic<const char*> message{nullptr};
// A progress line is drawn without its newline: end it before the message.
inline std::atomic<bool> mid_line{false};

inline void on_sigint(int) {
    const char* m = message.load();
    if (!m) m = "interrupted";
    if (mid_line.load()) (void)!::write(STDERR_FILENO, "\n", 1);
    (void)!::write(STDERR_FILENO, m, std::strlen(m));
    (void)!::write(STDERR_FILENO, "\n", 1);
    ::_exit(130);
}

// Installs the handler with `what` as the line to print until told otherwise.
inline void arm(const char* what) {
    message = what;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
}

}  // namespace hfhub::cli::interrupt
