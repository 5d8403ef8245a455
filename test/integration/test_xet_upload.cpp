// Uploads through Xet against the local server with Xet-enabled repos: files read back
// byte-identical, xorbs and a shard in the access log, no xorb for bytes the CAS has (another
// repo, a mirror), a checkpoint with 10% of its tensors changed sends little, refusals commit
// nothing, receipts, Xet turned off, and the JS client reading (and deduping against) hfhub.
#include "node_script.hpp"
#include "client_util.hpp"
#include "hub_helpers.hpp"
#include "test_server.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/download.hpp>
#include <hfhub/hub_api.hpp>
#include <hfhub/mirror.hpp>
#include <hfhub/receipts.hpp>

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>

using namespace hfhub;
using hfhub::test::alice_token;
using hfhub::test::error_of;
using hfhub::test::head_of;
using hfhub::test::pattern_bytes;
using hfhub::test::quick_config;
using hfhub::test::run;
using hfhub::test::temp_dir;
using hfhub::test::test_server;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, const std::string& data) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
}

// Bytes that don't compress (a checkpoint's floats hardly do).
std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937_64 g(seed);
    std::string s(n, '\0');
    for (std::size_t i = 0; i + 8 <= n; i += 8) {
        std::uint64_t v = g();
        std::memcpy(s.data() + i, &v, 8);
    }
    return s;
}

// A safetensors file of `tensors` F32 tensors of `tensor_bytes` each; tensor i's bytes come
// from seeds[i].
std::string safetensors(std::size_t tensors, std::size_t tensor_bytes, const std::vector<unsigned>& seeds) {
    json::object header;
    for (std::size_t i = 0; i < tensors; ++i)
        header["layer." + std::to_string(i) + ".weight"] =
            json::object{{"dtype", "F32"},
                         {"shape", json::array{tensor_bytes / 4}},
                         {"data_offsets", json::array{i * tensor_bytes, (i + 1) * tensor_bytes}}};
    std::string h = json::serialize(header);
    while (h.size() % 8) h += ' ';
    std::string out(8, '\0');
    std::uint64_t n = h.size();
    std::memcpy(out.data(), &n, 8);
    out += h;
    for (std::size_t i = 0; i < tensors; ++i) out += random_bytes(tensor_bytes, seeds[i]);
    return out;
}

// Runs test/interop/xet_js_download_from_hfhub.mjs with `args`; its JSON output, or nullopt
// when node or test/interop/node_modules is missing.
std::optional<json::value> js(const std::vector<std::string>& args) {
    auto ran = test::run_interop_script("xet_js_download_from_hfhub.mjs", args);
    if (!ran) return std::nullopt;
    const std::string& out = *ran;
    auto brace = out.find('{');
    if (brace == std::string::npos) throw std::runtime_error("xet_js_download_from_hfhub.mjs printed no JSON: " + out);
    return json::parse(out.substr(brace));
}

// `base` with bytes [at, at + n) replaced.
std::string edited(std::string base, std::size_t at, std::size_t n, unsigned seed) {
    std::string fresh = random_bytes(n + 8, seed);
    base.replace(at, n, fresh.substr(0, n));
    return base;
}

struct xet_fixture {
    test_server srv{[](server::options& o) { o.xet_by_default = true; }};
    temp_dir work;
    temp_dir cache;
    asio::io_context ioc;
    std::unique_ptr<client> c;

    xet_fixture() {
        srv.create_repo("alice/m", alice_token);
        c = make_client();
    }
    std::unique_ptr<client> make_client(bool xet = true, bool dedup = true) {
        auto cfg = quick_config(srv.url());
        cfg.token = alice_token;
        cfg.xet.enabled = xet;
        cfg.xet.dedup = dedup;
        return std::make_unique<client>(ioc.get_executor(), cfg);
    }
    commit_info commit(const std::string& repo, std::vector<commit_operation> ops, client* with = nullptr) {
        commit_options o;
        o.commit_message = "test";
        return run(ioc, co_create_commit(with ? *with : *c, repo, std::move(ops), std::move(o)));
    }
    std::string fetch(const std::string& repo, const std::string& file) {
        download_options o;
        o.cache_dir = cache.path();
        o.force_download = true;
        return *util::read_file(run(ioc, co_hf_hub_download(*c, repo, file, o)));
    }
    void faults(const std::string& rules) {
        auto r = srv.post("/admin/faults", rules);
        BOOST_REQUIRE(r.status == 200);
    }
    std::size_t log_size() { return hfhub::test::settled_log(srv).size(); }
    // Access-log lines from index `from` on whose method and target match: their count and the
    // request body bytes they received.
    struct tally {
        std::size_t n = 0;
        std::uint64_t received = 0;
    };
    tally count(std::size_t from, const std::string& method, const std::string& needle) {
        auto lines = hfhub::test::settled_log(srv);
        tally t;
        for (std::size_t i = from; i < lines.size(); ++i) {
            auto v = json::parse(lines[i]).as_object();
            if (v.at("method").as_string() != method) continue;
            if (std::string_view(v.at("target").as_string()).find(needle) == std::string_view::npos) continue;
            ++t.n;
            if (auto* r = v.if_contains("received")) t.received += r->to_number<std::uint64_t>();
        }
        return t;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(xet_upload)

BOOST_FIXTURE_TEST_CASE(several_files_read_back_identical, xet_fixture) {
    std::string a = random_bytes(3 << 20, 1), b = random_bytes((5 << 20) + 123, 2);
    std::string text = "hello through the commit\n";
    std::string local = pattern_bytes((2 << 20) + 7, 3);
    write(work.path() / "local.bin", local);
    std::size_t from = log_size();
    auto info = commit("alice/m", {commit_add::bytes("a.bin", a), commit_add::bytes("dir/b.bin", b),
                                   commit_add::bytes("notes.txt", text),
                                   commit_add::file("local.bin", work.path() / "local.bin")});
    BOOST_TEST(info.changed);
    BOOST_TEST(info.files_uploaded == 3u);
    auto xorbs = count(from, "POST", "/v1/xorbs/");
    BOOST_TEST(xorbs.n >= 1u);
    // Random bytes don't compress: what went up is the three files, once.
    BOOST_TEST(xorbs.received >= a.size() + b.size());
    BOOST_TEST(xorbs.received <= a.size() + b.size() + local.size() + (1u << 20));
    BOOST_TEST(count(from, "POST", "/v1/shards").n == 1u);
    BOOST_TEST(count(from, "PUT", "").n == 0u);  // no LFS transfer
    BOOST_TEST((fetch("alice/m", "a.bin") == a));
    BOOST_TEST((fetch("alice/m", "dir/b.bin") == b));
    BOOST_TEST(fetch("alice/m", "notes.txt") == text);
    BOOST_TEST((fetch("alice/m", "local.bin") == local));
    // The commit cites the sha256 as for LFS.
    repo_query q;
    auto entries = run(ioc, co_get_paths_info(*c, "alice/m", {"a.bin"}, q));
    BOOST_REQUIRE(entries.size() == 1u);
    auto* f = std::get_if<repo_file>(&entries[0]);
    BOOST_REQUIRE(f);
    BOOST_REQUIRE(f->lfs);
    BOOST_TEST(f->lfs->sha256 == util::sha256_hex(a));
}

BOOST_FIXTURE_TEST_CASE(the_same_bytes_into_another_repo_send_no_xorb, xet_fixture) {
    std::string a = random_bytes(4 << 20, 11), b = random_bytes(3 << 20, 12);
    commit("alice/m", {commit_add::bytes("a.bin", a), commit_add::bytes("b.bin", b)});
    srv.create_repo("alice/other", alice_token);
    std::size_t from = log_size();
    auto info = commit("alice/other", {commit_add::bytes("x/a.bin", a), commit_add::bytes("y/b.bin", b)});
    BOOST_TEST(info.changed);
    BOOST_TEST(count(from, "POST", "/v1/xorbs/").n == 0u);
    BOOST_TEST((fetch("alice/other", "x/a.bin") == a));
    BOOST_TEST((fetch("alice/other", "y/b.bin") == b));
}

// Bytes the CAS has under another sha256: a file that shares most chunks with one uploaded
// before sends only its new chunks. Dedup off sends them all.
BOOST_FIXTURE_TEST_CASE(a_checkpoint_with_ten_percent_changed_sends_little, xet_fixture) {
    const std::size_t tensors = 64, tensor_bytes = 1 << 20;  // 64 MiB
    std::vector<unsigned> seeds(tensors);
    for (std::size_t i = 0; i < tensors; ++i) seeds[i] = 1000 + static_cast<unsigned>(i);
    std::string v1 = safetensors(tensors, tensor_bytes, seeds);
    for (std::size_t i : {3u, 11u, 20u, 33u, 47u, 58u}) seeds[i] += 5000;  // 6 of 64 tensors: 9.4%
    std::string v2 = safetensors(tensors, tensor_bytes, seeds);
    BOOST_REQUIRE(v1.size() == v2.size());

    std::size_t from = log_size();
    commit("alice/m", {commit_add::bytes("model.safetensors", v1)});
    auto first = count(from, "POST", "/v1/xorbs/");
    BOOST_TEST(first.received >= v1.size() * 9 / 10);  // it did send the first version

    from = log_size();
    commit("alice/m", {commit_add::bytes("model.safetensors", v2)});
    auto second = count(from, "POST", "/v1/xorbs/");
    BOOST_TEST_MESSAGE("second version sent " << second.received << " of " << v2.size() << " bytes");
    BOOST_TEST(second.received > 0u);
    BOOST_TEST(second.received <= v2.size() * 15 / 100);
    BOOST_TEST((fetch("alice/m", "model.safetensors") == v2));

    // Without dedup the third version goes up whole.
    for (std::size_t i : {5u, 6u}) seeds[i] += 7000;
    std::string v3 = safetensors(tensors, tensor_bytes, seeds);
    auto nodedup = make_client(true, false);
    from = log_size();
    commit("alice/m", {commit_add::bytes("model.safetensors", v3)}, nodedup.get());
    auto third = count(from, "POST", "/v1/xorbs/");
    BOOST_TEST(count(from, "GET", "/v1/chunks/").n == 0u);
    BOOST_TEST(third.received >= v3.size() / 2);
    BOOST_TEST((fetch("alice/m", "model.safetensors") == v3));
}

BOOST_FIXTURE_TEST_CASE(a_refused_xorb_or_shard_commits_nothing, xet_fixture) {
    commit("alice/m", {commit_add::bytes("keep.txt", "keep\n")});
    const std::string head = head_of(srv, "models/alice/m");
    std::string data = random_bytes(2 << 20, 21);
    faults(R"({"rules":[{"method":"POST","match":"/v1/xorbs/","status":400,"times":1}]})");
    auto ec = error_of([&] { commit("alice/m", {commit_add::bytes("w.bin", data)}); });
    BOOST_TEST((ec == hub_errc::bad_request), ec.message());
    BOOST_TEST(head_of(srv, "models/alice/m") == head);

    faults(R"({"rules":[{"method":"POST","match":"/v1/shards","status":400,"times":1}]})");
    ec = error_of([&] { commit("alice/m", {commit_add::bytes("w.bin", data)}); });
    BOOST_TEST((ec == hub_errc::bad_request), ec.message());
    BOOST_TEST(head_of(srv, "models/alice/m") == head);

    // The CAS says the token expired and the Hub refuses another one.
    faults(R"({"rules":[{"method":"POST","match":"/v1/xorbs/","status":401,"times":1},)"
           R"({"method":"GET","match":"/xet-write-token/","status":403,"times":5}]})");
    std::string other = random_bytes(1 << 20, 22);
    ec = error_of([&] { commit("alice/m", {commit_add::bytes("v.bin", other)}); });
    BOOST_TEST((ec == hub_errc::forbidden || ec == hub_errc::unauthorized || ec == hub_errc::repo_not_found),
               ec.message());
    BOOST_TEST(head_of(srv, "models/alice/m") == head);

    faults(R"({"rules":[]})");
    commit("alice/m", {commit_add::bytes("w.bin", data)});
    BOOST_TEST(head_of(srv, "models/alice/m") != head);
    BOOST_TEST((fetch("alice/m", "w.bin") == data));
}

BOOST_FIXTURE_TEST_CASE(xet_turned_off_uses_lfs, xet_fixture) {
    auto lfs_only = make_client(false);
    std::string data = random_bytes(3 << 20, 31);
    std::size_t from = log_size();
    commit("alice/m", {commit_add::bytes("w.bin", data)}, lfs_only.get());
    BOOST_TEST(count(from, "POST", "/v1/xorbs/").n == 0u);
    BOOST_TEST(count(from, "POST", "/v1/shards").n == 0u);
    BOOST_TEST(count(from, "PUT", "").n >= 1u);
    BOOST_TEST((fetch("alice/m", "w.bin") == data));
}

BOOST_FIXTURE_TEST_CASE(a_receipt_of_a_xet_upload_commits, xet_fixture) {
    std::string data = random_bytes(3 << 20, 41);
    commit_options o;
    std::size_t from = log_size();
    auto receipts = run(ioc, co_preupload(*c, "alice/m", {commit_add::bytes("ranks/0.bin", data)}, o));
    BOOST_REQUIRE(receipts.size() == 1u);
    BOOST_TEST(receipts[0].is_lfs);
    BOOST_TEST(receipts[0].sha256 == util::sha256_hex(data));
    BOOST_TEST(count(from, "POST", "/v1/shards").n == 1u);
    // Another process (a client of its own) commits from the receipt alone.
    auto coordinator = make_client();
    auto back = upload_receipt::from_json(receipts[0].to_json());
    auto info = commit("alice/m", {commit_add::from_receipt(back)}, coordinator.get());
    BOOST_TEST(info.changed);
    BOOST_TEST((fetch("alice/m", "ranks/0.bin") == data));
}

BOOST_FIXTURE_TEST_CASE(a_mirror_between_xet_repos_sends_no_xorb, xet_fixture) {
    std::string a = random_bytes(4 << 20, 51), b = random_bytes(2 << 20, 52);
    commit("alice/m", {commit_add::bytes("a.bin", a), commit_add::bytes("sub/b.bin", b),
                       commit_add::bytes("README.md", "# m\n")});
    auto dst = make_client();
    mirror_options mo;
    std::size_t from = log_size();
    auto info = run(ioc, co_mirror(*c, *dst, "alice/m", "alice/copy", mo));
    BOOST_TEST(info.commit.changed);
    BOOST_TEST(count(from, "POST", "/v1/xorbs/").n == 0u);
    BOOST_TEST((fetch("alice/copy", "a.bin") == a));
    BOOST_TEST((fetch("alice/copy", "sub/b.bin") == b));
    BOOST_TEST(fetch("alice/copy", "README.md") == "# m\n");
}

// The JS client (@huggingface/hub 2.15.0) reads hfhub's Xet uploads through its XetBlob path,
// and each client uploads only what the other did not already store.
BOOST_FIXTURE_TEST_CASE(the_js_client_reads_and_dedupes_against_hfhub, xet_fixture) {
    std::string big = random_bytes((6 << 20) + 321, 61), small = random_bytes(200 << 10, 62);
    commit("alice/m", {commit_add::bytes("big.bin", big), commit_add::bytes("small.bin", small)});
    auto got = js({"download", srv.url(), alice_token, "alice/m", "big.bin", "small.bin"});
    if (!got) {
        BOOST_TEST_MESSAGE("node or test/interop/node_modules missing: the JS checks were skipped");
        return;
    }
    for (auto& [name, data] : {std::pair<std::string, const std::string*>{"big.bin", &big}, {"small.bin", &small}}) {
        auto& o = got->at(name).as_object();
        BOOST_TEST(std::string(o.at("sha256").as_string()) == util::sha256_hex(*data), name);
        BOOST_TEST(o.at("size").to_number<std::uint64_t>() == data->size(), name);
        BOOST_TEST(o.at("xet").as_bool(), name << " came through the JS client's Xet path");
    }

    // JS uploads hfhub's file with 256 KiB changed in the middle: it sends little.
    srv.create_repo("alice/js", alice_token);
    std::string js_edit = edited(big, 3 << 20, 256 << 10, 63);
    write(work.path() / "js_edit.bin", js_edit);
    std::size_t from = log_size();
    try {
        js({"upload", srv.url(), alice_token, "alice/js", "edit.bin", (work.path() / "js_edit.bin").string()});
    } catch (...) {
        auto lines = hfhub::test::settled_log(srv);
        for (std::size_t i = from; i < lines.size(); ++i) BOOST_TEST_MESSAGE(lines[i]);
        throw;
    }
    auto js_sent = count(from, "POST", "/v1/xorbs/");
    BOOST_TEST_MESSAGE("JS sent " << js_sent.received << " xorb bytes for a file of " << js_edit.size());
    BOOST_TEST(js_sent.received <= js_edit.size() / 4);
    BOOST_TEST((fetch("alice/js", "edit.bin") == js_edit));

    // JS uploads new bytes; hfhub then uploads them with a change and sends little.
    std::string fresh = random_bytes(6 << 20, 64);
    write(work.path() / "fresh.bin", fresh);
    js({"upload", srv.url(), alice_token, "alice/js", "fresh.bin", (work.path() / "fresh.bin").string()});
    std::string ours = edited(fresh, 1 << 20, 128 << 10, 65);
    from = log_size();
    commit("alice/m", {commit_add::bytes("from_js.bin", ours)});
    auto we_sent = count(from, "POST", "/v1/xorbs/");
    BOOST_TEST_MESSAGE("hfhub sent " << we_sent.received << " xorb bytes for a file of " << ours.size());
    BOOST_TEST(we_sent.received > 0u);
    BOOST_TEST(we_sent.received <= ours.size() / 4);
    auto back = js({"download", srv.url(), alice_token, "alice/m", "from_js.bin"});
    BOOST_TEST(std::string(back->at("from_js.bin").at("sha256").as_string()) == util::sha256_hex(ours));
}

BOOST_AUTO_TEST_SUITE_END()
