// body_source without sockets: what each kind puts in the request, and how a remote source's
// pieces are pulled, hashed, counted and checked when the request drives it.
#include "upload/body_source.hpp"
#include "util/hash.hpp"

#include <hfhub/error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace hfhub;
using namespace hfhub::upload;
namespace asio = boost::asio;

namespace {

const std::string object = "0123456789abcdefghij";  // 20 bytes

// A remote source over `served` (what the other side sends), recording each read.
struct fake_remote {
    std::string served = object;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> reads;
    bool short_reads = false;

    body_source source(std::uint64_t piece, bool with_sha = true) {
        remote_body rb;
        rb.read = [this](std::uint64_t off, std::uint64_t len) -> asio::awaitable<std::string> {
            reads.emplace_back(off, len);
            std::string s = served.substr(static_cast<std::size_t>(off), static_cast<std::size_t>(len));
            if (short_reads) s.pop_back();
            co_return s;
        };
        rb.size = object.size();
        rb.piece_size = piece;
        if (with_sha) rb.sha256 = util::sha256_hex(object);
        rb.name = "w.bin";
        return body_source::remote(std::move(rb));
    }
};

// Pulls the request's body the way the client does, from `from` to its end: the bytes, or the
// code of the error a pull threw.
struct pulled {
    std::string bytes;
    std::error_code code;
};

pulled pull_all(const http_request& r, std::uint64_t from = 0) {
    pulled out;
    asio::io_context ioc;
    auto drive = [&]() -> asio::awaitable<void> {
        for (std::uint64_t at = from; at < r.body_source_length;) {
            std::string piece = co_await r.body_source(at);
            out.bytes += piece;
            at += piece.size();
        }
    };
    asio::co_spawn(ioc, drive(), [&](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const hfhub::error& err) {
            out.code = err.code();
        }
    });
    ioc.run();
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upload_body_source)

BOOST_AUTO_TEST_CASE(a_file_becomes_a_file_range_of_the_request) {
    http_request r;
    body_source::file("/data/w.bin").attach(r, 8, 4);
    BOOST_REQUIRE(r.body_file.has_value());
    BOOST_TEST(r.body_file->path == "/data/w.bin");
    BOOST_TEST(r.body_file->offset == 8u);
    BOOST_TEST(r.body_file->length == 4u);
    BOOST_TEST(r.body.empty());
    BOOST_TEST(!r.body_source);
    BOOST_TEST(!body_source::file("/data/w.bin").is_remote());
}

BOOST_AUTO_TEST_CASE(bytes_become_the_body_owned_or_borrowed) {
    std::string held = object;
    struct row {
        const char* name;
        body_source src;
        std::uint64_t off, len;
        std::string want;
    };
    std::vector<row> rows{
        {"owned, whole", body_source::bytes(object), 0, 20, object},
        {"owned, a part", body_source::bytes(object), 10, 5, "abcde"},
        {"owned, the last part short of a chunk", body_source::bytes(object), 16, 4, "ghij"},
        {"borrowed, a part", body_source::bytes_view(held), 2, 3, "234"},
    };
    for (auto& rw : rows) {
        http_request r;
        rw.src.attach(r, rw.off, rw.len);
        BOOST_TEST(r.body == rw.want, rw.name);
        BOOST_TEST(!r.body_file.has_value(), rw.name);
        BOOST_TEST(!rw.src.is_remote(), rw.name);
    }
    // A view reads the string as it is when attached: it holds no copy.
    body_source view = body_source::bytes_view(held);
    held[0] = 'X';
    http_request r;
    view.attach(r, 0, 3);
    BOOST_TEST(r.body == "X12");
}

BOOST_AUTO_TEST_CASE(a_remote_source_is_pulled_in_pieces_of_its_range) {
    struct row {
        const char* name;
        std::uint64_t piece, off, len;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> reads;
    };
    const std::vector<row> rows{
        {"whole, pieces that divide it", 5, 0, 20, {{0, 5}, {5, 5}, {10, 5}, {15, 5}}},
        {"whole, a short last piece", 8, 0, 20, {{0, 8}, {8, 8}, {16, 4}}},
        {"a part, offsets within the object", 4, 6, 7, {{6, 4}, {10, 3}}},
        {"a piece bigger than the range", 64, 3, 5, {{3, 5}}},
    };
    for (auto& rw : rows) {
        fake_remote fake;
        http_request r;
        fake.source(rw.piece).attach(r, rw.off, rw.len);
        BOOST_TEST(r.body_source_length == rw.len, rw.name);
        BOOST_TEST(r.body.empty(), rw.name);
        pulled p = pull_all(r);
        BOOST_TEST(!p.code, rw.name << ": " << p.code.message());
        BOOST_TEST(p.bytes == object.substr(rw.off, rw.len), rw.name);
        BOOST_TEST((fake.reads == rw.reads), rw.name);
    }
}

BOOST_AUTO_TEST_CASE(the_whole_object_is_checked_against_its_sha256_and_a_part_is_not) {
    struct row {
        const char* name;
        bool corrupt;
        bool with_sha;
        std::uint64_t off, len;
        std::error_code want;
    };
    const std::vector<row> rows{
        {"whole, right bytes", false, true, 0, 20, {}},
        {"whole, wrong bytes", true, true, 0, 20, make_error_code(client_errc::checksum_mismatch)},
        {"whole, wrong bytes, no sha256 to check", true, false, 0, 20, {}},
        {"a part, wrong bytes: the destination checks parts", true, true, 0, 10, {}},
        {"the tail, wrong bytes", true, true, 10, 10, {}},
    };
    for (auto& rw : rows) {
        fake_remote fake;
        if (rw.corrupt) {  // a wrong byte in every range below
            fake.served[3] ^= 1;
            fake.served[15] ^= 1;
        }
        http_request r;
        fake.source(6, rw.with_sha).attach(r, rw.off, rw.len);
        pulled p = pull_all(r);
        BOOST_TEST(p.code == rw.want, rw.name << ": " << p.code.message());
        // A mismatch fails on the last piece, before it goes out: 18 bytes of 20 were pulled.
        if (rw.want) BOOST_TEST(p.bytes.size() == 18u, rw.name);
    }
}

BOOST_AUTO_TEST_CASE(a_short_read_fails_typed) {
    fake_remote fake;
    fake.short_reads = true;
    http_request r;
    fake.source(5).attach(r, 0, 20);
    BOOST_TEST(pull_all(r).code == make_error_code(client_errc::protocol_error));
}

BOOST_AUTO_TEST_CASE(bytes_are_reported_once_across_attempts) {
    fake_remote fake;
    std::vector<std::uint64_t> sent;
    http_request r;
    fake.source(8).attach(r, 0, 20, [&](std::uint64_t n) { sent.push_back(n); });
    pulled first = pull_all(r);
    BOOST_TEST(!first.code);
    BOOST_TEST((sent == std::vector<std::uint64_t>{8, 8, 4}));
    // A retry starts again at 0: the hash restarts (it still passes) and nothing is counted twice.
    pulled again = pull_all(r);
    BOOST_TEST(!again.code);
    BOOST_TEST(again.bytes == object);
    BOOST_TEST((sent == std::vector<std::uint64_t>{8, 8, 4}));
}

BOOST_AUTO_TEST_CASE(a_remote_source_needs_a_piece_size) {
    remote_body rb;
    rb.size = 1;
    rb.piece_size = 0;
    std::error_code code;
    try {
        body_source::remote(std::move(rb));
    } catch (const hfhub::error& e) {
        code = e.code();
    }
    BOOST_TEST(code == make_error_code(client_errc::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
