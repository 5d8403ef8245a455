// Running client coroutines from tests, and helpers the client tests share.
#pragma once

#include <filesystem>
#include <hfhub/client.hpp>
#include <hfhub/error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

namespace hfhub::test {

// How long test::run lets a coroutine run before calling it hung: far beyond any test's
// transfer, well inside ctest's timeout, so a hang fails its own test case by name.
#ifdef HFHUB_SANITIZER
inline constexpr std::chrono::seconds run_limit{360};
#else
inline constexpr std::chrono::seconds run_limit{120};
#endif

// Runs `aw` on `ioc` (in this thread) and returns its result or rethrows; throws if it is still
// running after `limit`.
template <class T>
T run(boost::asio::io_context& ioc, boost::asio::awaitable<T> aw, std::chrono::steady_clock::duration limit = run_limit) {
    auto fut = boost::asio::co_spawn(ioc, std::move(aw), boost::asio::use_future);
    ioc.restart();
    ioc.run_for(limit);
    if (fut.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
        ioc.stop();
        throw std::runtime_error("test::run: the coroutine still runs after " +
                                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) + " s");
    }
    return fut.get();
}

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
