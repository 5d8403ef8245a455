#include "http/stream_connection.hpp"

#include <sys/socket.h>

namespace hfhub::http {

bool connection::alive() {
    auto& sock = lowest().socket();
    if (!sock.is_open()) return false;
    char c;
    ssize_t n = ::recv(sock.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    // 0: the peer closed it; data: something unsolicited (a close alert, a stray answer).
    return false;
}

std::unique_ptr<connection> make_plain_connection(boost::beast::tcp_stream stream) {
    return std::make_unique<detail::stream_connection<boost::beast::tcp_stream>>(std::move(stream));
}

}  // namespace hfhub::http
