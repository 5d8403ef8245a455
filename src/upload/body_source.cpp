// body_source: files and bytes become the request's own body; a remote source is pulled piece by
// piece while the request streams, hashed when the request carries the whole object.
#include "upload/body_source.hpp"

#include "util/hash.hpp"

#include <algorithm>
#include <optional>

namespace hfhub::upload {

namespace asio = boost::asio;

namespace {

// One request's pulls. Every attempt starts again at offset 0, which restarts the hash; the
// high-water mark keeps a retry from reporting the same bytes twice.
struct pull_state {
    std::shared_ptr<const remote_body> src;
    std::uint64_t offset = 0, length = 0;
    bool check = false;
    body_source::sent_handler sent;
    std::optional<util::hasher> sha;
    std::uint64_t reported = 0;
};

[[noreturn]] void fail(std::error_code ec, std::string why) {
    diagnostics d;
    d.client_message = std::move(why);
    throw error(ec, std::move(d));
}

asio::awaitable<std::string> co_pull(std::shared_ptr<pull_state> st, std::uint64_t at) {
    const remote_body& src = *st->src;
    const std::uint64_t n = std::min(src.piece_size, st->length - at);
    std::string piece = co_await src.read(st->offset + at, n);
    if (piece.size() != n)
        fail(client_errc::protocol_error, "the source of " + src.name + " sent " + std::to_string(piece.size()) +
                                              " bytes for a range of " + std::to_string(n));
    if (st->check) {
        if (at == 0) st->sha.emplace(util::hash_algo::sha256);
        st->sha->update(piece);
        if (at + n == st->length) {
            std::string got = st->sha->hex_digest();
            st->sha.reset();
            if (got != src.sha256)
                fail(client_errc::checksum_mismatch,
                     "the source's bytes of " + src.name + " hash to " + got + ", not " + src.sha256);
        }
    }
    if (at + n > st->reported) {
        if (st->sent) st->sent(at + n - st->reported);
        st->reported = at + n;
    }
    co_return piece;
}

}  // namespace

body_source body_source::file(std::filesystem::path path) {
    body_source s;
    s.src_ = std::move(path);
    return s;
}

body_source body_source::bytes(std::string data) {
    body_source s;
    s.src_ = std::make_shared<const std::string>(std::move(data));
    return s;
}

body_source body_source::bytes_view(const std::string& data) {
    body_source s;
    s.src_ = std::shared_ptr<const std::string>(std::shared_ptr<void>(), &data);  // aliasing, owns nothing
    return s;
}

body_source body_source::remote(remote_body r) {
    if (r.piece_size == 0) fail(client_errc::invalid_argument, "a remote body needs a piece size above zero");
    body_source s;
    s.src_ = std::make_shared<const remote_body>(std::move(r));
    return s;
}

void body_source::attach(http_request& r, std::uint64_t offset, std::uint64_t length, sent_handler sent) const {
    if (auto* p = std::get_if<std::filesystem::path>(&src_)) {
        r.body_file = file_range{*p, offset, length};
    } else if (auto* b = std::get_if<std::shared_ptr<const std::string>>(&src_)) {
        r.body = (*b)->substr(static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
    } else {
        auto st = std::make_shared<pull_state>();
        st->src = std::get<std::shared_ptr<const remote_body>>(src_);
        st->offset = offset, st->length = length;
        st->check = !st->src->sha256.empty() && offset == 0 && length == st->src->size;
        st->sent = std::move(sent);
        r.body_source_length = length;
        // Not a coroutine itself: the state travels into co_pull's frame by value.
        r.body_source = [st](std::uint64_t at) { return co_pull(st, at); };
    }
}

}  // namespace hfhub::upload
