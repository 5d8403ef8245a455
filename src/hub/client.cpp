// hfhub::client's public calls: the HTTP engine's answer, and the Hub's error for a failed one.
#include <hfhub/client.hpp>

#include "blocking_call.hpp"
#include "http/engine.hpp"
#include "hub/errors.hpp"

namespace hfhub {

namespace asio = boost::asio;

client::client(asio::any_io_executor ex, config cfg) : impl_(std::make_shared<impl>(std::move(ex), std::move(cfg))) {}
client::~client() = default;

asio::awaitable<http_response> client::co_request(http_request req, bool throw_on_error) {
    final_answer a = co_await impl_->perform(std::move(req), nullptr);
    if (throw_on_error && a.response.status >= 400)
        throw hub::status_error(std::move(a.method), a.response.url, a.response);
    co_return std::move(a.response);
}

// A non-2xx answer is never streamed: it ends the call with the Hub's error.
asio::awaitable<http_response> client::co_stream(http_request req, body_sink sink) {
    final_answer a = co_await impl_->perform(std::move(req), &sink);
    if (a.response.status >= 400) throw hub::status_error(std::move(a.method), a.response.url, a.response);
    co_return std::move(a.response);
}

http_response client::request(http_request req, bool throw_on_error) {
    return detail::run_blocking(*this, co_request(std::move(req), throw_on_error));
}

const config& client::settings() const { return impl_->cfg; }
pool_stats client::stats() const { return impl_->connections.stats(); }
std::string client::user_agent() const { return impl_->ua; }
asio::any_io_executor client::get_executor() const { return impl_->ex; }

}  // namespace hfhub
