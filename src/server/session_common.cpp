#include "server/session_impl.hpp"

namespace hfhub::server {

void session_shared::request_done() {
    if (--in_flight == 0 && stopping) {
        std::function<void()> cb;
        {
            std::lock_guard lk(drain_mu);
            cb = std::exchange(on_drained, {});
        }
        if (cb) cb();
    }
}

namespace detail {

std::string status_line(unsigned status) {
    auto reason = http::obsolete_reason(static_cast<http::status>(status));
    return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
}

std::string serialize_head(const response& r, bool keep_alive, std::string_view request_id) {
    std::string h = status_line(r.status);
    for (auto& [k, v] : r.headers.items) {
        h += k;
        h += ": ";
        h += v;
        h += "\r\n";
    }
    h += "Content-Length: " + std::to_string(r.content_length()) + "\r\n";
    if (!request_id.empty()) h += "X-Request-Id: " + std::string(request_id) + "\r\n";
    if (!keep_alive) h += "Connection: close\r\n";
    h += "\r\n";
    return h;
}

}  // namespace detail
}  // namespace hfhub::server
