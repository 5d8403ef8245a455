// One JSON object per request, for tests and operators. Never holds a token.
#pragma once

#include "server/message.hpp"

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string_view>

namespace hfhub::server {

class access_log {
public:
    access_log() = default;  // disabled
    explicit access_log(const std::filesystem::path& p);
    ~access_log();
    access_log(const access_log&) = delete;
    access_log& operator=(const access_log&) = delete;

    bool enabled() const { return fd_ >= 0; }
    // `body_bytes`: the answer's body bytes sent; `received`: the request's body bytes read.
    void write(listener_kind l, std::string_view method, std::string_view target, unsigned status,
               std::uint64_t body_bytes, bool authorized, double duration_ms, std::uint64_t received = 0);

private:
    int fd_ = -1;
    std::mutex mu_;
};

}  // namespace hfhub::server
