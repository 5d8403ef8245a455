#include "http/stream_connection.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace hfhub::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

asio::awaitable<std::unique_ptr<connection>> make_tls_connection(beast::tcp_stream stream, asio::ssl::context& tls,
                                                                 const std::string& host,
                                                                 std::chrono::milliseconds timeout) {
    tls_stream s(std::move(stream), tls);
    SSL* ssl = s.native_handle();
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    if (ec) {
        // A name: send it as SNI and require the certificate to carry it.
        SSL_set_tlsext_host_name(ssl, host.c_str());
        SSL_set1_host(ssl, host.c_str());
    } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    }
    s.set_verify_mode(asio::ssl::verify_peer);
    beast::get_lowest_layer(s).expires_after(timeout);
    auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
    if (hec) {
        std::string why = hec.message();
        long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) why = X509_verify_cert_error_string(verify);
        if (hec == asio::error::operation_aborted || hec == beast::error::timeout) throw boost::system::system_error(hec);
        throw hfhub::error(client_errc::tls_error,
                           {.url = "https://" + host, .client_message = "TLS handshake with " + host + " failed: " + why});
    }
    co_return std::make_unique<detail::stream_connection<tls_stream>>(std::move(s));
}

}  // namespace hfhub::http
