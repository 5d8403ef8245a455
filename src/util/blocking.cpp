#include "util/blocking.hpp"

#include <openssl/crypto.h>

#include <algorithm>

#include <linux/magic.h>
#include <pthread.h>
#include <sched.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace hfhub::util {

blocking_pool::blocking_pool(std::size_t threads)
    : ctx_(static_cast<int>(std::clamp<std::size_t>(threads, 1, 256))), guard_(ctx_.get_executor()) {
    // OpenSSL before the threads: its exit handler (registered on its first use) must not run
    // before they are joined, or their per-thread state is lost. An owner that may live to the
    // process's end (a client) initialises it before it makes the pool.
    OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    std::size_t n = std::clamp<std::size_t>(threads, 1, 256);
    threads_.reserve(n);
    try {
        for (std::size_t i = 0; i < n; ++i)
            threads_.emplace_back([this] {
                // Throughput work: it must not preempt the I/O threads when they wake up.
                sched_param none{};
                ::pthread_setschedparam(::pthread_self(), SCHED_BATCH, &none);
                ctx_.run();
                OPENSSL_thread_stop();  // the digests' per-thread state, freed now, not at exit
            });
    } catch (...) {
        guard_.reset();
        for (auto& t : threads_) t.join();
        throw;
    }
}

blocking_pool::~blocking_pool() {
    guard_.reset();  // what is queued still runs: a disk job a cancelled call left behind
    for (auto& t : threads_) t.join();
}

bool may_block_on_sync(int fd) {
    struct statfs st{};
    if (::fstatfs(fd, &st) != 0) return true;
    return st.f_type != TMPFS_MAGIC && st.f_type != RAMFS_MAGIC;
}

void close_on_pool(const boost::asio::any_io_executor& pool, int fd) {
    boost::asio::post(pool, [fd] { ::close(fd); });
}

}  // namespace hfhub::util
