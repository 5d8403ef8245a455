// Reading a big file on a helper thread while the caller works on what was read: the kernel's
// copy into our buffers overlaps the caller's hashing of the previous buffer.
#pragma once

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
read_result read_ahead(int fd, std::size_t chunk, std::uint64_t stop_after,
                       const std::function<void(const char*, std::size_t)>& consume);

// The same over any source: `read(buf, n)` runs on the helper thread and returns how many bytes
// it put in `buf` (at most n), 0 at the end, or -1 with errno set.
read_result read_ahead(const std::function<ssize_t(char*, std::size_t)>& read, std::size_t chunk,
                       std::uint64_t stop_after, const std::function<void(const char*, std::size_t)>& consume);

}  // namespace hfhub::util
