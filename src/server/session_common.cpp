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

void session_shared::close_idle() {
    std::vector<std::shared_ptr<connection>> all;
    {
        std::lock_guard lk(conns_mu);
        all.assign(conns.begin(), conns.end());
    }
    // On each connection's strand: one busy with a request notices `stopping` when it's done.
    for (auto& c : all)
        boost::asio::post(c->ex, [c] {
            if (c->stream && c->idle) c->stream->close();
        });
}

bool is_loopback(const boost::asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).is_loopback();
    return a.is_loopback();
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
