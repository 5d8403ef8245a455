// Reading a big file on a helper while the caller works on what was read: the kernel's copy into
// our buffers overlaps the caller's hashing of the previous buffer.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>

#include <sys/types.h>

namespace hfhub::util {

struct read_result {
    std::uint64_t bytes = 0;
    int error = 0;  // errno of a failed read, after `bytes` were consumed
};

// Reads `fd` from its current offset to its end, or until more than `stop_after` bytes were
// read, in reads of up to `chunk` bytes, and hands each one to `consume` in order on the
// calling thread. An exception from `consume` stops the reading and is rethrown.
//
// The helper is a job on `helper` (the client's blocking pool). The caller never waits for it to
// start: whenever it has nothing to consume and no read is under way, it makes the next read
// itself. So a caller that is itself a job of a busy pool (of one thread, say) goes on alone,
// and a helper that starts late finds the work done. It returns once no read is under way.
read_result read_ahead(const boost::asio::any_io_executor& helper, int fd, std::size_t chunk, std::uint64_t stop_after,
                       const std::function<void(const char*, std::size_t)>& consume);

// The same over any source: `read(buf, n)` returns how many bytes it put in `buf` (at most n),
// 0 at the end, or -1 with errno set. Reads never overlap, and come in order, on either thread.
read_result read_ahead(const boost::asio::any_io_executor& helper, const std::function<ssize_t(char*, std::size_t)>& read,
                       std::size_t chunk, std::uint64_t stop_after,
                       const std::function<void(const char*, std::size_t)>& consume);

}  // namespace hfhub::util
