// Downloads through Xet against the local server: files uploaded as xorbs and a shard (built
// with hfhub::xet, posted with a write token, committed as LFS pointers), then fetched with
// hf_hub_download / snapshot_download through the CAS, checked byte for byte and in the
// server's access log.
#include "node_script.hpp"
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "test_server.hpp"

#include <hfhub/download.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"
#include "xet/chunker.hpp"
#include "xet/hash.hpp"
#include "xet/shard.hpp"
#include "xet/xorb.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <optional>
#include <thread>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) { return *util::read_file(p); }

// A xorb as uploaded: its hash, its chunks' bytes and hashes.
struct up_xorb {
    xet::merkle_hash hash;
    std::vector<std::string> chunks;
    std::vector<xet::merkle_hash> hashes;
};

// A piece of a file: chunks [a, b) of an uploaded xorb.
struct piece {
    const up_xorb* x;
    std::uint32_t a, b;
};

// Uploads xorbs and files to a Xet-enabled repo the way a client does: write token, xorbs,
// shard, then a commit naming the file's sha256 as an LFS pointer.
struct xet_uploader {
    test_server& s;
    std::string repo;
    std::string token, cas;

    xet_uploader(test_server& srv, std::string r) : s(srv), repo(std::move(r)) {
        auto t = s.get("/api/models/" + repo + "/xet-write-token/main", alice_token);
        if (t.status != 200) throw std::runtime_error("xet-write-token: " + std::to_string(t.status) + " " + t.body);
        auto v = json::parse(t.body);
        token = json::value_to<std::string>(v.at("accessToken"));
        cas = json::value_to<std::string>(v.at("casUrl"));
    }

    // The chunks of `data`, cut by the content-defined chunker.
    static std::vector<std::string> chunk(const std::string& data) {
        std::vector<std::string> out;
        for (auto& c : xet::chunk_buffer(xet::as_bytes(data))) out.push_back(data.substr(c.offset, c.size));
        return out;
    }

    // One xorb of these chunks, posted to the CAS.
    up_xorb put_xorb(const std::vector<std::string>& chunks) {
        xet::xorb_builder b;
        up_xorb x;
        for (auto& c : chunks) {
            if (!b.add_chunk(xet::as_bytes(c))) throw std::runtime_error("xorb full");
            x.chunks.push_back(c);
        }
        auto built = b.finish();
        x.hash = built.hash;
        for (auto& c : built.chunks) x.hashes.push_back(c.hash);
        std::string body(reinterpret_cast<const char*>(built.bytes.data()), built.bytes.size());
        auto r = test::http_request("POST", cas + "/v1/xorbs/default/" + x.hash.hex(), body,
                                    {{"Authorization", "Bearer " + token}});
        if (r.status != 200) throw std::runtime_error("xorb upload: " + std::to_string(r.status) + " " + r.body);
        uploaded.push_back(built);
        return x;
    }

    // Registers a file made of `pieces` (a shard) and commits it at `path`; returns its bytes.
    // `claimed_sha` replaces the content's SHA-256 in the shard and the pointer (a Hub whose etag
    // disagrees with the bytes its Xet hash names).
    std::string put_file(const std::string& path, const std::vector<piece>& pieces,
                         std::optional<std::string> claimed_sha = std::nullopt) {
        xet::file_info fi;
        std::vector<xet::hash_and_size> all;
        std::string content;
        for (auto& p : pieces) {
            xet::file_data_entry e;
            e.cas_hash = p.x->hash;
            e.chunk_index_start = p.a;
            e.chunk_index_end = p.b;
            std::vector<xet::merkle_hash> term;
            for (auto k = p.a; k < p.b; ++k) {
                content += p.x->chunks[k];
                e.unpacked_segment_bytes += static_cast<std::uint32_t>(p.x->chunks[k].size());
                all.push_back({p.x->hashes[k], p.x->chunks[k].size()});
                term.push_back(p.x->hashes[k]);
            }
            fi.entries.push_back(e);
            fi.verification.push_back(xet::verification_hash(term));
        }
        fi.file_hash = xet::file_hash(all);
        // Stored as the reference clients store it: its hash-string form is the sha256's hex.
        std::string sha = claimed_sha.value_or(util::sha256_hex(content));
        fi.sha256 = *xet::merkle_hash::from_hex(sha);
        xet::shard sh;
        sh.files.push_back(fi);
        for (auto& b : uploaded)
            for (auto& pc : pieces)
                if (pc.x->hash == b.hash &&
                    std::none_of(sh.xorbs.begin(), sh.xorbs.end(), [&](auto& ci) { return ci.cas_hash == b.hash; }))
                    sh.xorbs.push_back(xet::make_cas_info(b.hash, b.chunks, static_cast<std::uint32_t>(b.bytes.size())));
        auto bytes = xet::serialize_shard(sh);
        std::string body(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        auto r = test::http_request("POST", cas + "/v1/shards", body, {{"Authorization", "Bearer " + token}});
        if (r.status != 200) throw std::runtime_error("shard upload: " + std::to_string(r.status) + " " + r.body);
        test::must_commit(s, "models/" + repo, "main", {test_server::add_lfs(path, sha, content.size())});
        file_hashes[path] = fi.file_hash.hex();
        return content;
    }

    // A file of `data`, its chunks in xorbs of at most `per_xorb` chunks (one term each).
    std::string put_simple(const std::string& path, const std::string& data, std::size_t per_xorb = 1000) {
        auto ch = chunk(data);
        std::vector<piece> pieces;
        for (std::size_t i = 0; i < ch.size(); i += per_xorb) {
            std::vector<std::string> part(ch.begin() + static_cast<long>(i),
                                          ch.begin() + static_cast<long>(std::min(ch.size(), i + per_xorb)));
            xorbs.push_back(put_xorb(part));
        }
        for (std::size_t k = xorbs.size() - (ch.size() + per_xorb - 1) / per_xorb; k < xorbs.size(); ++k)
            pieces.push_back({&xorbs[k], 0, static_cast<std::uint32_t>(xorbs[k].chunks.size())});
        return put_file(path, pieces);
    }

    std::vector<xet::built_xorb> uploaded;
    std::deque<up_xorb> xorbs;  // a deque: pieces point into it
    std::map<std::string, std::string> file_hashes;
};

template <int token_ttl_s>
struct xet_fixture_t {
    test_server srv{[](server::options& o) {
        o.xet_by_default = true;
        o.xet_token_ttl = std::chrono::seconds(token_ttl_s);
    }};
    temp_dir cache, xet_cache;
    asio::io_context ioc;

    xet_fixture_t() { srv.create_repo("alice/x", alice_token); }

    config cfg() const {
        auto c = quick_config(srv.url());
        c.token = alice_token;
        c.xet.cache_dir = xet_cache.path();
        c.xet.chunk_cache_dir = xet_cache.path() / "hfhub-chunk-cache";
        return c;
    }
    download_options opts(const fs::path& dir) const {
        download_options o;
        o.cache_dir = dir;
        return o;
    }
    fs::path dl(client& c, const std::string& file, download_options o) {
        return run(ioc, co_hf_hub_download(c, "alice/x", file, std::move(o)));
    }
    // Storage- or API-listener log lines (from `from` on) whose target contains `needle`.
    std::size_t count(const std::string& needle, std::size_t from = 0, const std::string& status = {}) const {
        auto lines = test::settled_log(srv);
        std::size_t n = 0;
        for (std::size_t i = from; i < lines.size(); ++i) {
            auto e = json::parse(lines[i]).as_object();
            if (json::value_to<std::string>(e.at("target")).find(needle) == std::string::npos) continue;
            if (!status.empty() && std::to_string(e.at("status").to_number<int>()) != status) continue;
            ++n;
        }
        return n;
    }
    std::size_t lines() const { return test::settled_log(srv).size(); }
    void faults(const std::string& rules) { srv.post("/admin/faults", rules); }
    fs::path repo_dir(const fs::path& root) const { return root / "models--alice--x"; }
};

using xet_fixture = xet_fixture_t<3600>;
using short_token_fixture = xet_fixture_t<1>;

// Regular files of `dir` (recursively) whose names contain `part`.
std::size_t files_named(const fs::path& dir, const std::string& part) {
    std::size_t n = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file() && it->path().filename().string().find(part) != std::string::npos) ++n;
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_download)

BOOST_FIXTURE_TEST_CASE(download_through_xet_is_byte_identical, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    std::string data = up.put_simple("w.bin", test::pattern_bytes(700 << 10, 7));
    client c(ioc.get_executor(), cfg());
    std::size_t before = lines();
    auto p = dl(c, "w.bin", opts(cache.path()));
    BOOST_TEST((slurp(p) == data));
    // The Python cache layout: the blob is named by the sha256, the pointer a relative symlink.
    BOOST_TEST(fs::is_symlink(p));
    BOOST_TEST(fs::exists(repo_dir(cache.path()) / "blobs" / util::sha256_hex(data)));
    BOOST_TEST(files_named(cache.path(), ".incomplete") == 0u);
    BOOST_TEST(files_named(cache.path(), ".hfhub-xet") == 0u);
    // Through the CAS, not the LFS bridge.
    BOOST_TEST(count("/xet-read-token/", before) == 1u);
    BOOST_TEST(count("/v2/reconstructions/" + up.file_hashes["w.bin"], before) == 1u);
    BOOST_TEST(count("/xorb/default/", before) >= 1u);
    BOOST_TEST(count("/lfs/", before) == 0u);
}

BOOST_FIXTURE_TEST_CASE(multi_term_files_and_a_xorb_used_twice, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    // Small xorbs: the file spans many, one term each.
    std::string big = up.put_simple("multi.bin", test::pattern_bytes(1200 << 10, 11), 3);
    BOOST_TEST_REQUIRE(up.xorbs.size() >= 3u);
    // Terms X0[0,1), X1[0,1), X0[2,3): X0 gives two ranges that don't touch, each asked and
    // streamed on its own (as hf_xet does by default), never as one multipart answer.
    const up_xorb& x0 = up.xorbs[0];
    const up_xorb& x1 = up.xorbs[1];
    BOOST_TEST_REQUIRE(x0.chunks.size() >= 3u);
    std::string mixed = up.put_file("mixed.bin", {{&x0, 0, 1}, {&x1, 0, 1}, {&x0, 2, 3}});
    auto with_cache = cfg();
    with_cache.xet.chunk_cache_size = 10'000'000'000ull;
    client c(ioc.get_executor(), with_cache);
    auto o = opts(cache.path());
    BOOST_TEST((slurp(dl(c, "multi.bin", o)) == big));
    temp_dir other;  // a fresh hub cache and no chunk cache: every range from the CAS
    auto conf = cfg();
    conf.xet.chunk_cache_size = 0;
    conf.xet.verify_sha256 = true;  // the etag's hash over terms that land out of order
    client c2(ioc.get_executor(), conf);
    std::size_t before = lines();
    BOOST_TEST((slurp(dl(c2, "mixed.bin", opts(other.path()))) == mixed));
    BOOST_TEST(count("/xorb/default/" + x0.hash.hex(), before) == 2u);  // one request per range
    BOOST_TEST(count("/xorb/default/" + x1.hash.hex(), before) == 1u);
}

BOOST_FIXTURE_TEST_CASE(snapshot_download_goes_through_xet, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    std::string a = up.put_simple("a.bin", test::pattern_bytes(300 << 10, 1));
    std::string b = up.put_simple("sub/b.bin", test::pattern_bytes(200 << 10, 2));
    test::must_commit(srv, "models/alice/x", "main", {test_server::add_file("README.md", "# x\n")});
    client c(ioc.get_executor(), cfg());
    std::size_t before = lines();
    snapshot_options o;
    o.cache_dir = cache.path();
    auto dir = run(ioc, co_snapshot_download(c, "alice/x", o));
    BOOST_TEST((slurp(dir / "a.bin") == a));
    BOOST_TEST((slurp(dir / "sub" / "b.bin") == b));
    BOOST_TEST(slurp(dir / "README.md") == "# x\n");
    BOOST_TEST(count("/reconstructions/", before) == 2u);
    BOOST_TEST(count("/lfs/", before) == 0u);
}

BOOST_FIXTURE_TEST_CASE(corrupt_range_is_a_typed_error_and_nothing_is_kept, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    std::string data = up.put_simple("w.bin", test::pattern_bytes(400 << 10, 5));
    auto conf = cfg();
    conf.xet.chunk_cache_size = 10'000'000'000ull;
    client c(ioc.get_executor(), conf);
    faults(R"({"rules":[{"listener":"storage","match":"/xorb/","times":0,"corrupt":true}]})");
    auto o = opts(cache.path());
    std::error_code ec = test::error_of([&] { dl(c, "w.bin", o); });
    BOOST_TEST(ec == make_error_code(client_errc::checksum_mismatch), ec.message());
    BOOST_TEST(!fs::exists(repo_dir(cache.path()) / "blobs" / util::sha256_hex(data)));
    BOOST_TEST(files_named(cache.path(), ".hfhub-xet") == 0u);
    BOOST_TEST(files_named(cache.path(), ".incomplete") == 0u);
    BOOST_TEST(files_named(repo_dir(cache.path()) / "snapshots", "w.bin") == 0u);
    // Nothing wrong was kept in the chunk cache either: once the fault is gone, it works.
    faults(R"({"rules":[]})");
    BOOST_TEST((slurp(dl(c, "w.bin", o)) == data));
}

BOOST_FIXTURE_TEST_CASE(chunk_cache_serves_repeated_and_overlapping_downloads, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    std::string first = up.put_simple("one.bin", test::pattern_bytes(500 << 10, 21));
    const up_xorb& x = up.xorbs.back();
    BOOST_TEST_REQUIRE(x.chunks.size() >= 3u);
    // A second file: the first one's leading chunks, then chunks of its own.
    std::vector<std::string> extra_chunks = xet_uploader::chunk(test::pattern_bytes(150 << 10, 22));
    up.xorbs.push_back(up.put_xorb(extra_chunks));
    const up_xorb& y = up.xorbs.back();
    std::string second = up.put_file("two.bin", {{&x, 0, 2}, {&y, 0, static_cast<std::uint32_t>(y.chunks.size())}});

    auto with_cache = cfg();
    with_cache.xet.chunk_cache_size = 10'000'000'000ull;
    client c(ioc.get_executor(), with_cache);
    std::size_t before = lines();
    BOOST_TEST((slurp(dl(c, "one.bin", opts(cache.path()))) == first));
    BOOST_TEST(count("/xorb/default/" + x.hash.hex(), before) == 1u);
    BOOST_TEST(files_named(xet_cache.path() / "hfhub-chunk-cache", x.hash.hex()) >= 1u);

    // The same file into another hub cache: every range from the chunk cache.
    temp_dir again;
    before = lines();
    BOOST_TEST((slurp(dl(c, "one.bin", opts(again.path()))) == first));
    BOOST_TEST(count("/xorb/default/", before) == 0u);
    BOOST_TEST(count("/reconstructions/", before) == 1u);

    // The overlapping file: its part of x comes from the cache, only y from the CAS.
    before = lines();
    BOOST_TEST((slurp(dl(c, "two.bin", opts(cache.path()))) == second));
    BOOST_TEST(count("/xorb/default/" + x.hash.hex(), before) == 0u);
    BOOST_TEST(count("/xorb/default/" + y.hash.hex(), before) == 1u);

    // A bound smaller than one range: nothing is stored, so nothing is reused.
    temp_dir small_cache, third;
    auto conf = cfg();
    conf.xet.chunk_cache_dir = small_cache.path();
    conf.xet.chunk_cache_size = 1024;
    client tiny(ioc.get_executor(), conf);
    BOOST_TEST((slurp(dl(tiny, "one.bin", opts(third.path()))) == first));
    BOOST_TEST(files_named(small_cache.path(), x.hash.hex()) == 0u);
}

BOOST_FIXTURE_TEST_CASE(the_chunk_cache_is_off_by_default, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    std::string data = up.put_simple("w.bin", test::pattern_bytes(500 << 10, 23));
    const up_xorb& x = up.xorbs.back();
    client c(ioc.get_executor(), cfg());
    BOOST_TEST((slurp(dl(c, "w.bin", opts(cache.path()))) == data));
    BOOST_TEST(files_named(xet_cache.path(), x.hash.hex()) == 0u);  // nothing written twice
    // So a second hub cache fetches the ranges again.
    temp_dir again;
    std::size_t before = lines();
    BOOST_TEST((slurp(dl(c, "w.bin", opts(again.path()))) == data));
    BOOST_TEST(count("/xorb/default/" + x.hash.hex(), before) == 1u);
}

BOOST_FIXTURE_TEST_CASE(the_etag_sha256_is_checked_when_asked, xet_fixture) {
    // The Hub names a SHA-256 the bytes don't have, while its Xet hash is theirs.
    xet_uploader up(srv, "alice/x");
    std::string data = test::pattern_bytes(600 << 10, 24);
    up.xorbs.push_back(up.put_xorb(xet_uploader::chunk(data)));
    const up_xorb& x = up.xorbs.back();
    const std::string wrong = util::sha256_hex(data + "!");
    up.put_file("w.bin", {{&x, 0, static_cast<std::uint32_t>(x.chunks.size())}}, wrong);
    const fs::path blob = repo_dir(cache.path()) / "blobs" / wrong;

    // Asked to: a typed error, and nothing is kept.
    auto strict = cfg();
    strict.xet.verify_sha256 = true;
    client c(ioc.get_executor(), strict);
    std::error_code ec = test::error_of([&] { dl(c, "w.bin", opts(cache.path())); });
    BOOST_TEST(ec == make_error_code(client_errc::checksum_mismatch), ec.message());
    BOOST_TEST(!fs::exists(blob));
    BOOST_TEST(files_named(cache.path(), ".hfhub-xet") == 0u);
    BOOST_TEST(files_named(cache.path(), ".incomplete") == 0u);

    // download_options::verify = false skips it even then.
    auto o = opts(cache.path());
    o.verify = false;
    BOOST_TEST((slurp(dl(c, "w.bin", o)) == data));
    fs::remove_all(cache.path() / "models--alice--x");

    // By default the chunk hashes and the Xet file hash are the check: the bytes are the ones
    // the Xet hash names, so they are published.
    client lenient(ioc.get_executor(), cfg());
    BOOST_TEST((slurp(dl(lenient, "w.bin", opts(cache.path()))) == data));
    BOOST_TEST(fs::exists(blob));
}

BOOST_FIXTURE_TEST_CASE(a_cancelled_download_leaves_nothing_behind, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    // Many small xorbs; each range stalls after its first bytes, so the cancel lands mid-range.
    std::string data = up.put_simple("w.bin", test::pattern_bytes(2 << 20, 25), 4);
    auto conf = cfg();
    conf.xet.verify_sha256 = true;  // a hasher running on the pool too
    client c(ioc.get_executor(), conf);
    faults(R"({"rules":[{"listener":"storage","match":"/xorb/","times":0,"stall_after_bytes":70000,"stall_ms":3000}]})");
    auto o = opts(cache.path());
    asio::cancellation_signal sig;
    bool done = false, emitted = false;
    std::exception_ptr err;
    o.progress = [&](const download_progress& p) {
        if (emitted || p.done == 0) return;
        emitted = true;
        asio::post(ioc, [&] { sig.emit(asio::cancellation_type::terminal); });
    };
    asio::co_spawn(ioc, co_hf_hub_download(c, "alice/x", "w.bin", o),
                   asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e, fs::path) {
                       err = e;
                       done = true;
                   }));
    test::run_all(ioc);
    BOOST_TEST_REQUIRE(done);
    BOOST_TEST_REQUIRE(emitted);
    BOOST_TEST_REQUIRE(static_cast<bool>(err));
    std::error_code ec = test::error_of([&] { std::rethrow_exception(err); });
    BOOST_TEST(ec == make_error_code(client_errc::cancelled), ec.message());
    BOOST_TEST(!fs::exists(repo_dir(cache.path()) / "blobs" / util::sha256_hex(data)));
    BOOST_TEST(files_named(cache.path(), ".hfhub-xet") == 0u);
    BOOST_TEST(files_named(cache.path(), ".incomplete") == 0u);
    faults(R"({"rules":[]})");
    BOOST_TEST((slurp(dl(c, "w.bin", opts(cache.path()))) == data));
}

BOOST_FIXTURE_TEST_CASE(xet_disabled_falls_back_to_the_bridge, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    std::string data = up.put_simple("w.bin", test::pattern_bytes(300 << 10, 9));
    auto conf = cfg();
    conf.xet.enabled = false;
    client c(ioc.get_executor(), conf);
    std::size_t before = lines();
    BOOST_TEST((slurp(dl(c, "w.bin", opts(cache.path()))) == data));
    BOOST_TEST(count("/reconstructions/", before) == 0u);
    BOOST_TEST(count("/xet-read-token/", before) == 0u);
    BOOST_TEST(count("/lfs/", before) >= 1u);
}

BOOST_FIXTURE_TEST_CASE(a_server_without_xet_gets_the_plain_path, xet_fixture) {
    // A plain LFS upload (the batch's basic transfer): no X-Xet-Hash, the usual path, no token.
    srv.create_repo("alice/plain", alice_token);
    std::string data = test::pattern_bytes(200 << 10, 4);
    auto sha = srv.upload_lfs("alice/plain", data, alice_token);
    test::must_commit(srv, "models/alice/plain", "main", {test_server::add_lfs("w.bin", sha, data.size())});
    client c(ioc.get_executor(), cfg());
    std::size_t before = lines();
    auto p = run(ioc, co_hf_hub_download(c, "alice/plain", "w.bin", opts(cache.path())));
    BOOST_TEST((slurp(p) == data));
    BOOST_TEST(count("/xet-read-token/", before) == 0u);
    BOOST_TEST(count("/reconstructions/", before) == 0u);
}

BOOST_FIXTURE_TEST_CASE(expired_urls_and_token_mid_download_are_renewed, short_token_fixture) {
    xet_uploader up(srv, "alice/x");
    std::string data = up.put_simple("w.bin", test::pattern_bytes(300 << 10, 13));
    // Tokens live one second; the first xorb request is held past that, then refused.
    faults(R"({"rules":[{"listener":"storage","match":"/xorb/","times":1,"stall_ms":2200,"status":403}]})");
    client c(ioc.get_executor(), cfg());
    std::size_t before = lines();
    BOOST_TEST((slurp(dl(c, "w.bin", opts(cache.path()))) == data));
    BOOST_TEST(count("/xet-read-token/", before) >= 2u);       // a new token after the old expired
    BOOST_TEST(count("/v2/reconstructions/", before, "200") >= 2u);  // new URLs with it
}

BOOST_FIXTURE_TEST_CASE(a_fresh_token_is_reused_within_a_download, xet_fixture) {
    xet_uploader up(srv, "alice/x");
    std::string data = up.put_simple("w.bin", test::pattern_bytes(300 << 10, 14));
    // A refused xorb URL renews the reconstruction; the hour-long token stays.
    faults(R"({"rules":[{"listener":"storage","match":"/xorb/","times":1,"status":403}]})");
    client c(ioc.get_executor(), cfg());
    std::size_t before = lines();
    BOOST_TEST((slurp(dl(c, "w.bin", opts(cache.path()))) == data));
    BOOST_TEST(count("/xet-read-token/", before) == 1u);
    BOOST_TEST(count("/v2/reconstructions/", before) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(xet_download_interop)

// The JS client (@huggingface/hub, Xet by default) uploads; hfhub downloads through Xet.
BOOST_AUTO_TEST_CASE(js_uploads_hfhub_downloads_through_xet) {
    test_server s;
    auto ran = test::run_interop_script("xet_js_upload_for_hfhub.mjs", {s.url(), alice_token, "alice/fromjs"});
    if (!ran) {
        BOOST_TEST_MESSAGE("node or test/interop/node_modules missing: the JS Xet upload was skipped");
        return;
    }
    const std::string& out = *ran;
    auto res = json::parse(out.substr(out.rfind("{\"files\""))).as_object();
    BOOST_TEST_REQUIRE(res.at("files").as_object().size() == 2u);

    temp_dir cache, xet_cache;
    asio::io_context ioc;
    auto conf = quick_config(s.url());
    conf.token = alice_token;
    conf.xet.chunk_cache_dir = xet_cache.path();
    client c(ioc.get_executor(), conf);
    auto before = test::settled_log(s).size();
    for (auto& [path, v] : res.at("files").as_object()) {
        download_options o;
        o.cache_dir = cache.path();
        auto p = run(ioc, co_hf_hub_download(c, "alice/fromjs", std::string(path), o));
        std::string got = slurp(p);
        BOOST_TEST(got.size() == v.at("size").to_number<std::uint64_t>());
        BOOST_TEST(util::sha256_hex(got) == json::value_to<std::string>(v.at("sha256")));
        BOOST_TEST(fs::exists(cache.path() / "models--alice--fromjs" / "blobs" / json::value_to<std::string>(v.at("sha256"))));
    }
    // Through the CAS: a reconstruction per file, and no LFS bridge.
    std::size_t recon = 0, bridge = 0;
    auto lines = test::settled_log(s);
    for (std::size_t i = before; i < lines.size(); ++i) {
        auto t = json::value_to<std::string>(json::parse(lines[i]).at("target"));
        recon += t.find("/reconstructions/") != std::string::npos;
        bridge += t.find("/lfs/") != std::string::npos;
    }
    BOOST_TEST(recon == 2u);
    BOOST_TEST(bridge == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
