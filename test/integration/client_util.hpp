// Helpers the client tests share; test::run (deadline.hpp) runs their coroutines.
#pragma once

#include "deadline.hpp"

#include <filesystem>
#include <hfhub/client.hpp>
#include <hfhub/error.hpp>

#include <chrono>
#include <string>

namespace hfhub::test {

// A config pointing at `endpoint` with quick retries, so fault tests stay fast.
inline config quick_config(const std::string& endpoint) {
    config c;
    c.endpoint = endpoint;
    c.retry.base_delay = std::chrono::milliseconds(10);
    c.retry.max_delay = std::chrono::milliseconds(50);
    c.timeouts.read = std::chrono::seconds(10);
    return c;
}

// quick_config for one user with a cache of its own, as the usage tests' clients are made.
inline config user_config(const std::string& endpoint, const std::string& token, const std::filesystem::path& cache) {
    config c = quick_config(endpoint);
    c.token = token;
    c.hub_cache = cache;
    return c;
}

// A body sink that appends to a string.
inline body_sink string_sink(std::string& out) {
    return {[&out](std::span<const char> s) { out.append(s.data(), s.size()); }, [&out] { out.clear(); }};
}

// The hfhub::error code `f` throws (an empty code when it throws nothing), or its message.
template <class F>
std::error_code error_of(F&& f) {
    try {
        f();
    } catch (const hfhub::error& e) {
        return e.code();
    }
    return {};
}

template <class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const hfhub::error& e) {
        return e.what();
    }
    return {};
}

}  // namespace hfhub::test
