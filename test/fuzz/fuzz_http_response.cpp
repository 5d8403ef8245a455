// libFuzzer: one raw HTTP response as the client reads it. Beast parses the head with the
// client's limits and the body through a buffer_body parser (chunked or not), then the header
// policy reads what it would: Content-Range, Link, Retry-After, RateLimit, the error mapping.
// None of it may crash, and what parses must make sense.
#include <hfhub/client.hpp>
#include "http/policy.hpp"
#include "hub/errors.hpp"
#include "hub/link_header.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace bhttp = boost::beast::http;

namespace {

void check_headers(unsigned status, const hfhub::header_fields& h, const std::string& body) {
    using namespace hfhub::http;
    if (auto cr = hfhub::find_header(h, "Content-Range")) {
        if (auto r = parse_content_range(*cr)) {
            if (r->last < r->first) std::abort();
            if (r->complete && r->last >= *r->complete) std::abort();
        }
    }
    for (auto& [k, v] : h) {
        if (k.size() == 4 && (k == "Link" || k == "link" || k == "LINK")) {
            bool malformed = false;
            auto next = hfhub::hub::next_link(v, malformed);
            if (next && (malformed || next->empty())) std::abort();
        }
    }
    auto retry_after = hfhub::find_header(h, "Retry-After").value_or("");
    auto ratelimit = hfhub::find_header(h, "RateLimit").value_or("");
    if (auto s = parse_retry_after(retry_after); s && s->count() < 0) std::abort();
    if (auto s = parse_ratelimit_reset(ratelimit); s && s->count() < 0) std::abort();
    hfhub::retry_config cfg;
    retry_schedule sched(cfg, 1);
    auto wait = sched.next({true, status, retry_after, ratelimit});
    if (wait && (wait->count() < 0 || *wait > cfg.request_budget)) std::abort();
    auto ec = hfhub::hub::map_status(status, hfhub::find_header(h, "X-Error-Code").value_or(""),
                                     hfhub::find_header(h, "X-Error-Message").value_or(""));
    if (status >= 400 && !ec) std::abort();
    (void)server_message(hfhub::find_header(h, "X-Error-Message").value_or(""),
                         hfhub::find_header(h, "Content-Type").value_or(""), body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    boost::system::error_code ec;
    bhttp::response_parser<bhttp::empty_body> head;
    head.header_limit(64 * 1024);
    head.body_limit(boost::none);
    head.eager(false);
    std::size_t used = head.put(boost::asio::buffer(in.data(), in.size()), ec);
    if (ec || !head.is_header_done()) return 0;
    in.remove_prefix(used);

    hfhub::header_fields headers;
    for (auto& f : head.get()) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    unsigned status = head.get().result_int();

    std::string body;
    if (!head.is_done()) {
        bhttp::response_parser<bhttp::buffer_body> bp{std::move(head)};
        char chunk[512];
        while (!bp.is_done()) {
            bp.get().body().data = chunk;
            bp.get().body().size = sizeof chunk;
            std::size_t n = bp.put(boost::asio::buffer(in.data(), in.size()), ec);
            if (ec == bhttp::error::need_buffer) ec = {};
            std::size_t got = sizeof chunk - bp.get().body().size;
            body.append(chunk, got);
            in.remove_prefix(n);
            if (ec == bhttp::error::need_more || (!ec && n == 0 && got == 0)) {
                // The connection ends here: EOF, as a closed socket would report it.
                bp.put_eof(ec);
                break;
            }
            if (ec) return 0;
        }
        if (bp.is_done() && bp.content_length_remaining() && *bp.content_length_remaining() != 0) std::abort();
    }
    check_headers(status, headers, body);
    return 0;
}
