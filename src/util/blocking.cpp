#include "util/blocking.hpp"

#include <boost/asio/thread_pool.hpp>

#include <openssl/crypto.h>

#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace hfhub::util {

boost::asio::any_io_executor blocking_executor() {
    // OpenSSL first: its exit handler, registered on its first use, must run after the pool has
    // joined, or the per-thread state of the pool's threads (random numbers, digests) is lost.
    [[maybe_unused]] static const bool openssl = OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, nullptr);
    // Threads mostly sleep in the kernel, so a few more than the cores pay off.
    static boost::asio::thread_pool pool(4);
    return pool.get_executor();
}

bool may_block_on_sync(int fd) {
    struct statfs st{};
    if (::fstatfs(fd, &st) != 0) return true;
    return st.f_type != TMPFS_MAGIC && st.f_type != RAMFS_MAGIC;
}

void close_on_pool(int fd) {
    boost::asio::post(blocking_executor(), [fd] { ::close(fd); });
}

}  // namespace hfhub::util
