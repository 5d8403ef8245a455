#include "util/blocking.hpp"

#include <boost/asio/thread_pool.hpp>

#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace hfhub::util {

boost::asio::any_io_executor blocking_executor() {
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
