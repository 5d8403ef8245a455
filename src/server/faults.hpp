// Fault injection for tests: make the Nth matching request fail, stall, drop, or rate-limit.
// Rules come from `--faults FILE` or the loopback-only admin route, as JSON:
//   {"rules":[{"listener":"api"|"storage", "method":"GET", "match":"/resolve/",
//              "nth":2, "times":1, "status":503, "headers":{"X":"y"},
//              "retry_after":2, "ratelimit_reset":2,
//              "stall_ms":500, "stall_after_bytes":1024, "drop_after_bytes":4096, "drop":true,
//              "corrupt_at_byte":100, "corrupt":true}]}
#pragma once

#include "server/message.hpp"

#include <boost/json/fwd.hpp>

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfhub::server {

struct fault_action {
    unsigned status = 0;  // 0: route the request as usual
    header_list headers;
    unsigned stall_ms = 0;
    std::optional<std::uint64_t> stall_after_bytes;  // stall mid-body instead of before
    std::optional<std::uint64_t> drop_after_bytes;   // close the connection after K body bytes
    bool drop = false;  // close halfway through the body, or before answering when it has none
    // Flip the bits of body byte K (the middle one for "corrupt": true): a client's checks of
    // what it downloads (a xorb range, an object) must catch it.
    std::optional<std::uint64_t> corrupt_at_byte;
    bool corrupt_middle = false;
};

struct fault_rule {
    std::optional<listener_kind> listener;
    std::string method;  // empty: any
    std::string match;   // a substring of the target; empty: any
    unsigned nth = 1;    // the first matching request that faults, counting from 1
    unsigned times = 1;  // how many matches from nth on fault; 0: all of them
    fault_action action;
    unsigned seen = 0;
    unsigned fired = 0;
};

class fault_injector {
public:
    // Throws std::invalid_argument with a message on a malformed document.
    static std::vector<fault_rule> parse(std::string_view json_text);

    void replace(std::vector<fault_rule> rules);
    std::optional<fault_action> on_request(listener_kind l, std::string_view method, std::string_view target);
    std::string describe() const;  // rules with their counters, as JSON

private:
    mutable std::mutex mu_;
    std::vector<fault_rule> rules_;
};

}  // namespace hfhub::server
