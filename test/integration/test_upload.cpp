// The upload side: validate-yaml, preupload, the LFS batch API with basic and multipart
// transfers, the storage origin's PUT/part/complete, and verify.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <thread>

using namespace hfhub::test;
namespace fs = std::filesystem;

namespace {

const std::string R = "models/alice/u";

struct upload_fixture {
    test_server s;
    explicit upload_fixture(std::function<void(hfhub::server::options&)> tweak = {}) : s(std::move(tweak)) {
        s.create_repo("alice/u", alice_token);
    }
    http_response batch(const json::array& objects, const std::string& token = alice_token,
                        std::optional<std::string> algo = "sha256", json::array transfers = {"basic"},
                        const std::string& op = "upload") {
        json::object req{{"operation", op}, {"transfers", transfers}, {"objects", objects}, {"ref", json::object{{"name", "main"}}}};
        if (algo) req["hash_algo"] = *algo;
        return s.send("POST", "/alice/u.git/info/lfs/objects/batch", json::serialize(req), token,
                      {{"Content-Type", "application/vnd.git-lfs+json"}, {"Accept", "application/vnd.git-lfs+json"}});
    }
    // The single object of a batch answer for `content`.
    json::object batch_one(const std::string& content, json::array transfers = {"basic"}) {
        auto r = batch({json::object{{"oid", hfhub::util::sha256_hex(content)}, {"size", content.size()}}},
                       alice_token, "sha256", std::move(transfers));
        if (r.status != 200) throw std::runtime_error("batch: " + std::to_string(r.status) + " " + r.body);
        return parse_json(r).at("objects").at(0).as_object();
    }
    bool offers_upload(const std::string& content) { return batch_one(content).contains("actions"); }
    unsigned verify(const std::string& content) {
        // Only objects not stored yet get a verify href from the batch.
        auto o = batch_one(content);
        std::string href;
        if (auto* a = o.if_contains("actions")) href = jstr(a->at("verify").at("href"));
        else throw std::runtime_error("no verify href for a stored object");
        json::object body{{"oid", hfhub::util::sha256_hex(content)}, {"size", content.size()}};
        return http_request("POST", href, json::serialize(body),
                            {{"Authorization", bearer(alice_token)}, {"Content-Type", "application/vnd.git-lfs+json"}})
            .status;
    }
    json::object preupload(const json::array& files, const std::string& rev = "main",
                           std::optional<std::string> git_attributes = std::nullopt) {
        json::object body{{"files", files}};
        if (git_attributes) body["gitAttributes"] = *git_attributes;
        auto r = s.post("/api/" + R + "/preupload/" + q(rev), json::serialize(body), alice_token);
        if (r.status != 200) throw std::runtime_error("preupload: " + std::to_string(r.status) + " " + r.body);
        return parse_json(r).as_object();
    }
};

json::object file_desc(const std::string& path, const std::string& sample, std::uint64_t size) {
    return {{"path", path}, {"sample", hfhub::util::base64_encode(sample)}, {"size", size}};
}

std::map<std::string, json::object> by_path(const json::object& pre) {
    std::map<std::string, json::object> out;
    for (auto& f : pre.at("files").as_array()) out[jstr(f, "path")] = f.as_object();
    return out;
}

void set_multipart(hfhub::server::options& o) {
    o.multipart_threshold = 1u << 20;
    o.multipart_chunk = 256u << 10;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upload)

BOOST_AUTO_TEST_CASE(validate_yaml) {
    test_server s;
    auto post = [&](const std::string& content) {
        return s.post("/api/validate-yaml", json::serialize(json::object{{"content", content}, {"repoType", "model"}}),
                      alice_token);
    };
    // A card without metadata passes with the Hub's "empty metadata" warning.
    for (std::string good : {"---\nlicense: mit\ntags:\n- a\n- b\n---\n# Title\n", "# No front matter\n",
                             "---\n---\nempty metadata\n"}) {
        auto r = post(good);
        BOOST_TEST(r.status == 200u, good << ": " << r.body);
        auto v = parse_json(r);
        BOOST_TEST(v.at("warnings").as_array().size() == (good.find("license") == std::string::npos ? 1u : 0u), good);
    }
    for (std::string bad : {"---\nlicense: [mit\n---\n# x\n", "---\nlicense: mit\n", "---\n- a\n- b\n---\n",
                            "---\nkey: \"unterminated\n---\n"}) {
        auto r = post(bad);
        BOOST_TEST(r.status == 400u, bad);
        auto v = parse_json(r);  // JSON even on failure: the client decodes first
        auto& errors = v.at("errors").as_array();
        BOOST_TEST_REQUIRE(!errors.empty(), bad);
        BOOST_TEST(!jstr(errors[0], "message").empty());
    }
    auto r = s.post("/api/validate-yaml", R"({"repoType":"model"})", alice_token);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(parse_json(r).as_object().contains("error"));
    r = s.post("/api/validate-yaml", "not json", alice_token);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(parse_json(r).as_object().contains("error"));
}

BOOST_FIXTURE_TEST_CASE(preupload_modes, upload_fixture) {
    std::string lfs = pattern_bytes(700, 9);
    std::string sha = s.upload_lfs("alice/u", lfs, alice_token);
    std::string head = must_commit(s, R, "main",
                                   {test_server::add_file("existing.txt", "same"), test_server::add_lfs("w.bin", sha, lfs.size())});
    const std::uint64_t ten_mib = 10u << 20;
    std::string nul("ab\0cd", 5);
    auto pre = preupload({file_desc("small.txt", "hello", 5), file_desc("huge.txt", "text", ten_mib),
                          file_desc("almost.txt", "text", ten_mib - 1), file_desc("bin.dat", nul, 5),
                          file_desc("model.safetensors", "text", 4), file_desc("sub/deep.onnx", "text", 4),
                          file_desc("empty.bin", "", 0), file_desc("existing.txt", "same", 4),
                          file_desc("w.bin", lfs.substr(0, 512), lfs.size())});
    BOOST_TEST(jstr(pre.at("commitOid")) == head);
    auto f = by_path(pre);
    BOOST_TEST(f.size() == 9u);
    std::map<std::string, std::string> want = {{"small.txt", "regular"},        {"huge.txt", "lfs"},
                                               {"almost.txt", "regular"},       {"bin.dat", "lfs"},
                                               {"model.safetensors", "lfs"},    {"sub/deep.onnx", "lfs"},
                                               {"empty.bin", "regular"},        {"existing.txt", "regular"},
                                               {"w.bin", "lfs"}};
    for (auto& [p, mode] : want) {
        BOOST_TEST_REQUIRE(f.count(p) == 1u, p);
        BOOST_TEST(jstr(f[p].at("uploadMode")) == mode, p);
        BOOST_TEST_REQUIRE(f[p].contains("shouldIgnore"), p);
        BOOST_TEST(f[p].at("shouldIgnore").as_bool() == false, p);
    }
    // oid: git sha1 for a regular file, sha256 for LFS; absent for new files.
    BOOST_TEST(jstr(f["existing.txt"].at("oid")) == git_blob_id("same"));
    BOOST_TEST(jstr(f["w.bin"].at("oid")) == sha);
    BOOST_TEST(!f["small.txt"].contains("oid"));

    // .gitattributes at the revision decides; a body gitAttributes overrides it.
    must_commit(s, R, "main", {test_server::add_file(".gitattributes", "*.txt filter=lfs diff=lfs merge=lfs -text\n")});
    f = by_path(preupload({file_desc("notes.txt", "hi", 2), file_desc("model.safetensors", "x", 1)}));
    BOOST_TEST(jstr(f["notes.txt"].at("uploadMode")) == "lfs");
    BOOST_TEST(jstr(f["model.safetensors"].at("uploadMode")) == "regular");
    f = by_path(preupload({file_desc("a.custom", "hi", 2), file_desc("notes.txt", "hi", 2)}, "main",
                          "*.custom filter=lfs diff=lfs merge=lfs -text\n"));
    BOOST_TEST(jstr(f["a.custom"].at("uploadMode")) == "lfs");
    BOOST_TEST(jstr(f["notes.txt"].at("uploadMode")) == "regular");
}

BOOST_FIXTURE_TEST_CASE(preupload_revision_and_errors, upload_fixture) {
    std::string main_head = head_of(s, R);
    BOOST_TEST_REQUIRE(s.post("/api/" + R + "/branch/dev", "{}", alice_token).status == 200u);
    std::string dev = must_commit(s, R, "dev", {test_server::add_file("only-dev.txt", "d")});
    auto pre = preupload({file_desc("only-dev.txt", "d", 1)}, "dev");
    BOOST_TEST(jstr(pre.at("commitOid")) == dev);
    BOOST_TEST(jstr(pre.at("files").at(0).at("oid")) == git_blob_id("d"));
    BOOST_TEST(jstr(preupload({file_desc("x", "x", 1)}).at("commitOid")) == main_head);

    std::string body = json::serialize(json::object{{"files", json::array{file_desc("a.txt", "a", 1)}}});
    auto r = s.post("/api/" + R + "/preupload/nope", body, alice_token);
    BOOST_TEST(r.status == 404u);
    BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
    BOOST_TEST(s.post("/api/" + R + "/preupload/main", body, bob_token).status == 403u);
    BOOST_TEST(s.post("/api/" + R + "/preupload/main", body, "").status == 401u);
    BOOST_TEST(s.post("/api/" + R + "/preupload/main", "{}", alice_token).status == 400u);
    BOOST_TEST(s.post("/api/" + R + "/preupload/main", "[]", alice_token).status == 400u);
}

BOOST_FIXTURE_TEST_CASE(batch_hash_algos_and_errors, upload_fixture) {
    std::string a = "object a", b = "object b";
    json::array objs{json::object{{"oid", hfhub::util::sha256_hex(a)}, {"size", a.size()}}};
    for (std::optional<std::string> algo : {std::optional<std::string>("sha256"), std::optional<std::string>("sha_256"),
                                            std::optional<std::string>()}) {
        auto r = batch(objs, alice_token, algo);
        BOOST_TEST(r.status == 200u, algo.value_or("(none)"));
        BOOST_TEST(r.header("content-type").starts_with("application/vnd.git-lfs+json"));
        auto v = parse_json(r);
        BOOST_TEST(jstr(v, "transfer") == "basic");
        auto& o = v.at("objects").at(0).as_object();
        BOOST_TEST(jstr(o.at("oid")) == hfhub::util::sha256_hex(a));
        std::string up = jstr(o.at("actions").at("upload").at("href"));
        BOOST_TEST(up.starts_with(s.storage_url() + "/"));
        BOOST_TEST(jstr(o.at("actions").at("verify").at("href")) == s.url() + "/alice/u.git/info/lfs/objects/verify");
    }
    for (std::string algo : {"md5", "sha1", "SHA256", ""}) BOOST_TEST(batch(objs, alice_token, algo).status == 422u, algo);

    // Stored objects get no actions; invalid ones get a per-object error without failing the call.
    s.upload_lfs("alice/u", a, alice_token);
    auto r = batch({json::object{{"oid", hfhub::util::sha256_hex(a)}, {"size", a.size()}},
                    json::object{{"oid", hfhub::util::sha256_hex(b)}, {"size", b.size()}},
                    json::object{{"oid", "not-a-sha"}, {"size", 3}},
                    json::object{{"oid", hfhub::util::sha256_hex(b)}, {"size", -1}},
                    json::object{{"oid", std::string(64, 'g')}, {"size", 3}}});
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto objects = parse_json(r).at("objects").as_array();
    BOOST_TEST_REQUIRE(objects.size() == 5u);
    BOOST_TEST(!objects[0].as_object().contains("actions"));
    BOOST_TEST(!objects[0].as_object().contains("error"));
    BOOST_TEST(objects[1].as_object().contains("actions"));
    for (int i : {2, 3, 4}) {
        BOOST_TEST(!objects[i].as_object().contains("actions"), i);
        BOOST_TEST(objects[i].at("error").at("code").to_number<int>() == 422, i);
    }

    // Request-level errors and rights.
    BOOST_TEST(batch(objs, alice_token, "sha256", {"basic"}, "delete").status == 422u);
    auto no_objects = s.send("POST", "/alice/u.git/info/lfs/objects/batch", R"({"operation":"upload"})", alice_token,
                             {{"Content-Type", "application/vnd.git-lfs+json"}});
    BOOST_TEST(no_objects.status == 422u);
    BOOST_TEST(batch(objs, bob_token).status == 403u);
    BOOST_TEST(batch(objs, "").status == 401u);
    auto missing = s.send("POST", "/alice/none.git/info/lfs/objects/batch", json::serialize(json::object{
                              {"operation", "upload"}, {"objects", objs}}), alice_token);
    BOOST_TEST(missing.status == 404u);
    BOOST_TEST(missing.header("x-error-code") == "RepoNotFound");

    // download: a signed href for stored objects, an error for others.
    auto d = batch({json::object{{"oid", hfhub::util::sha256_hex(a)}, {"size", a.size()}},
                    json::object{{"oid", hfhub::util::sha256_hex(b)}, {"size", b.size()}}},
                   "", "sha256", {"basic"}, "download");
    BOOST_TEST_REQUIRE(d.status == 200u, d.body);
    auto dl = parse_json(d).at("objects").as_array();
    auto got = http_request("GET", jstr(dl[0].at("actions").at("download").at("href")));
    BOOST_TEST(got.body == a);
    BOOST_TEST(dl[1].at("error").at("code").to_number<int>() == 404);
}

BOOST_FIXTURE_TEST_CASE(basic_put_with_wrong_content_stores_nothing, upload_fixture) {
    std::string good = pattern_bytes(4096, 11);
    std::string evil = pattern_bytes(4096, 12);
    auto o = batch_one(good);
    std::string href = jstr(o.at("actions").at("upload").at("href"));
    // Same size, other bytes; then the right bytes plus one.
    auto put = http_request("PUT", href, evil);
    BOOST_TEST(put.status == 400u);
    put = http_request("PUT", href, good + "x");
    BOOST_TEST(put.status == 400u);
    BOOST_TEST(offers_upload(good));
    BOOST_TEST(verify(good) == 404u);
    std::string head = head_of(s, R);
    auto c = s.commit(R, "main", {test_server::add_lfs("g.bin", hfhub::util::sha256_hex(good), good.size())}, alice_token);
    BOOST_TEST(c.status == 422u);
    BOOST_TEST(head_of(s, R) == head);
    // The bytes the attacker sent are not stored under their own oid either.
    BOOST_TEST(offers_upload(evil));
    // The storage origin only accepts signed URLs.
    std::string unsigned_url = href.substr(0, href.find("&exp="));
    BOOST_TEST(http_request("PUT", unsigned_url, good).status == 403u);
    BOOST_TEST(offers_upload(good));

    // The right bytes are then accepted, verified, committable.
    put = http_request("PUT", href, good);
    BOOST_TEST_REQUIRE(put.status == 200u, put.body);
    BOOST_TEST(!offers_upload(good));
    c = s.commit(R, "main", {test_server::add_lfs("g.bin", hfhub::util::sha256_hex(good), good.size())}, alice_token);
    BOOST_TEST(c.status == 200u, c.body);
    auto loc = s.head("/alice/u/resolve/main/g.bin").header("location");
    BOOST_TEST(http_request("GET", loc).body == good);
}

BOOST_FIXTURE_TEST_CASE(verify_route, upload_fixture) {
    std::string data = "verify me";
    auto o = batch_one(data);
    std::string vhref = jstr(o.at("actions").at("verify").at("href"));
    json::object body{{"oid", hfhub::util::sha256_hex(data)}, {"size", data.size()}};
    auto v = http_request("POST", vhref, json::serialize(body), {{"Authorization", bearer(alice_token)}});
    BOOST_TEST(v.status == 404u);
    BOOST_TEST_REQUIRE(http_request("PUT", jstr(o.at("actions").at("upload").at("href")), data).status == 200u);
    v = http_request("POST", vhref, json::serialize(body), {{"Authorization", bearer(alice_token)}});
    BOOST_TEST(v.status == 200u, v.body);
    // It is an API route: the token is checked there.
    BOOST_TEST(http_request("POST", vhref, json::serialize(body)).status == 401u);
    BOOST_TEST(http_request("POST", vhref, json::serialize(body), {{"Authorization", bearer(bob_token)}}).status == 403u);
}

namespace {

struct multipart_fixture : upload_fixture {
    multipart_fixture() : upload_fixture(set_multipart) {}

    struct plan {
        std::string complete_href;
        std::string verify_href;
        std::uint64_t chunk = 0;
        std::vector<std::string> part_urls;
    };
    plan start(const std::string& data) {
        auto o = batch_one(data, {"basic", "multipart"});
        auto& up = o.at("actions").at("upload").as_object();
        plan p;
        p.complete_href = jstr(up.at("href"));
        p.verify_href = jstr(o.at("actions").at("verify").at("href"));
        auto& h = up.at("header").as_object();
        p.chunk = std::stoull(jstr(h.at("chunk_size")));
        for (std::size_t i = 1;; ++i) {
            char key[8];
            std::snprintf(key, sizeof key, "%05zu", i);
            auto* u = h.if_contains(key);
            if (!u) break;
            p.part_urls.push_back(jstr(*u));
        }
        return p;
    }
    std::vector<std::string> put_parts(const plan& p, const std::string& data, std::size_t skip = 0) {
        std::vector<std::string> etags;
        for (std::size_t i = 0; i < p.part_urls.size(); ++i) {
            if (i + 1 == skip) {
                etags.push_back("\"" + std::string(64, '0') + "\"");
                continue;
            }
            auto r = http_request("PUT", p.part_urls[i], data.substr(i * p.chunk, p.chunk));
            if (r.status != 200) throw std::runtime_error("part: " + std::to_string(r.status) + " " + r.body);
            etags.push_back(r.header("etag"));
        }
        return etags;
    }
    http_response complete(const plan& p, const std::string& data, const std::vector<std::string>& etags) {
        json::array parts;
        for (std::size_t i = 0; i < etags.size(); ++i)
            parts.push_back(json::object{{"partNumber", i + 1}, {"etag", etags[i]}});
        json::object body{{"oid", hfhub::util::sha256_hex(data)}, {"parts", parts}};
        return http_request("POST", p.complete_href, json::serialize(body),
                            {{"Content-Type", "application/vnd.git-lfs+json"}, {"Accept", "application/vnd.git-lfs+json"}});
    }
    unsigned verify(const plan& p, const std::string& data) {
        json::object body{{"oid", hfhub::util::sha256_hex(data)}, {"size", data.size()}};
        return http_request("POST", p.verify_href, json::serialize(body), {{"Authorization", bearer(alice_token)}}).status;
    }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(multipart_upload, multipart_fixture) {
    std::string big = pattern_bytes((1u << 20) + 1000, 21);
    std::string small = pattern_bytes(1000, 22);
    // One call: the big one goes multipart, the small one basic.
    auto r = batch({json::object{{"oid", hfhub::util::sha256_hex(big)}, {"size", big.size()}},
                    json::object{{"oid", hfhub::util::sha256_hex(small)}, {"size", small.size()}}},
                   alice_token, "sha256", {"basic", "multipart"});
    BOOST_TEST_REQUIRE(r.status == 200u);
    auto v = parse_json(r);
    BOOST_TEST(jstr(v, "transfer") == "multipart");
    auto& small_up = v.at("objects").at(1).at("actions").at("upload").as_object();
    BOOST_TEST(!small_up.contains("header"));

    auto p = start(big);
    BOOST_TEST(p.chunk == 256u * 1024u);
    BOOST_TEST(p.part_urls.size() == 5u);  // ceil((1 MiB + 1000) / 256 KiB)
    for (auto& u : p.part_urls) BOOST_TEST(u.starts_with(s.storage_url() + "/"));
    auto etags = put_parts(p, big);
    for (auto& e : etags) BOOST_TEST(e.size() > 2u);
    BOOST_TEST(offers_upload(big));  // parts alone are not the object
    BOOST_TEST(verify(p, big) == 404u);
    auto done = complete(p, big, etags);
    BOOST_TEST_REQUIRE(done.status == 200u, done.body);
    BOOST_TEST(!offers_upload(big));
    BOOST_TEST(verify(p, big) == 200u);
    // Completing again is harmless.
    BOOST_TEST(complete(p, big, etags).status == 200u);

    std::string c = must_commit(s, R, "main", {test_server::add_lfs("big.bin", hfhub::util::sha256_hex(big), big.size())});
    auto h = s.head("/alice/u/resolve/main/big.bin");
    BOOST_TEST(h.header("x-repo-commit") == c);
    BOOST_TEST(h.header("x-linked-size") == std::to_string(big.size()));
    auto got = http_request("GET", h.header("location"));
    BOOST_TEST(got.body.size() == big.size());
    BOOST_TEST((got.body == big));

    // Without "multipart" offered, even a big object goes basic.
    std::string big2 = pattern_bytes((1u << 20) + 5, 23);
    auto o = batch_one(big2, {"basic"});
    BOOST_TEST(!o.at("actions").at("upload").as_object().contains("header"));
}

BOOST_FIXTURE_TEST_CASE(multipart_wrong_etag_or_missing_part, multipart_fixture) {
    std::string big = pattern_bytes((1u << 20) + 77, 31);
    auto p = start(big);
    BOOST_TEST_REQUIRE(p.part_urls.size() == 5u);
    auto etags = put_parts(p, big);

    auto wrong = etags;
    wrong[1] = "\"" + hfhub::util::sha256_hex("not part 2") + "\"";
    BOOST_TEST(complete(p, big, wrong).status == 400u);
    BOOST_TEST(offers_upload(big));
    auto fewer = etags;
    fewer.pop_back();
    BOOST_TEST(complete(p, big, fewer).status == 400u);
    BOOST_TEST(offers_upload(big));
    BOOST_TEST(verify(p, big) == 404u);
    std::string head = head_of(s, R);
    BOOST_TEST(s.commit(R, "main", {test_server::add_lfs("big.bin", hfhub::util::sha256_hex(big), big.size())},
                        alice_token)
                   .status == 422u);
    BOOST_TEST(head_of(s, R) == head);
    // The right list still completes: the parts were kept.
    BOOST_TEST(complete(p, big, etags).status == 200u);
    BOOST_TEST(!offers_upload(big));

    // A part never uploaded.
    std::string other = pattern_bytes((1u << 20) + 99, 32);
    auto p2 = start(other);
    auto e2 = put_parts(p2, other, 3);
    auto r = complete(p2, other, e2);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(offers_upload(other));
    BOOST_TEST(verify(p2, other) == 404u);
    // A part of the wrong size is refused at PUT.
    auto bad = http_request("PUT", p2.part_urls[2], other.substr(0, 100));
    BOOST_TEST(bad.status == 400u);
    BOOST_TEST(offers_upload(other));
}

BOOST_FIXTURE_TEST_CASE(multipart_parts_in_reverse_and_in_parallel, multipart_fixture) {
    std::string big = pattern_bytes((1u << 20) + 4321, 41);
    auto p = start(big);
    BOOST_TEST_REQUIRE(p.part_urls.size() == 5u);
    // Last part first, the rest from three threads at once: the server joins them in order.
    std::vector<std::string> etags(p.part_urls.size());
    auto put = [&](std::size_t i) {
        auto r = http_request("PUT", p.part_urls[i], big.substr(i * p.chunk, p.chunk));
        if (r.status == 200) etags[i] = r.header("etag");
    };
    put(4);
    std::vector<std::thread> threads;
    for (std::size_t i : {3, 2, 1}) threads.emplace_back(put, i);
    for (auto& t : threads) t.join();
    put(0);
    for (auto& e : etags) BOOST_TEST(e.size() > 2u);
    auto done = complete(p, big, etags);
    BOOST_TEST_REQUIRE(done.status == 200u, done.body);
    std::string c = must_commit(s, R, "main", {test_server::add_lfs("big.bin", hfhub::util::sha256_hex(big), big.size())});
    auto h = s.head("/alice/u/resolve/main/big.bin");
    auto got = http_request("GET", h.header("location"));
    BOOST_TEST((got.body == big));
    // Nothing of the upload is left in the server's temp folder.
    for (auto& e : fs::directory_iterator(s.root() / "tmp"))
        BOOST_TEST(e.path().filename().string().find(hfhub::util::sha256_hex(big)) == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(multipart_part_sent_again_keeps_the_first_bytes, multipart_fixture) {
    std::string big = pattern_bytes((1u << 20) + 555, 43);
    auto p = start(big);
    BOOST_TEST_REQUIRE(p.part_urls.size() == 5u);
    auto etags = put_parts(p, big);
    // A retried PUT of part 2, even with other bytes, is answered with the part's ETag and
    // changes nothing: an accepted part is never written again.
    std::string other = big.substr(p.chunk, p.chunk);
    other[10] = static_cast<char>(other[10] ^ 0x55);
    auto r = http_request("PUT", p.part_urls[1], other);
    BOOST_TEST_REQUIRE(r.status == 200u);
    BOOST_TEST(r.header("etag") == etags[1]);
    auto done = complete(p, big, etags);
    BOOST_TEST_REQUIRE(done.status == 200u, done.body);
    BOOST_TEST(verify(p, big) == 200u);
    std::string c = must_commit(s, R, "main", {test_server::add_lfs("big.bin", hfhub::util::sha256_hex(big), big.size())});
    auto got = http_request("GET", s.head("/alice/u/resolve/main/big.bin").header("location"));
    BOOST_TEST((got.body == big));
}

// Two uploads of one object: once the first completes, completing the second succeeds and
// drops its parts, rather than keeping them in the temp folder until a restart.
BOOST_FIXTURE_TEST_CASE(multipart_a_second_upload_of_a_stored_object_leaves_nothing, multipart_fixture) {
    std::string big = pattern_bytes((1u << 20) + 999, 45);
    auto p1 = start(big);
    auto p2 = start(big);
    BOOST_TEST_REQUIRE(p2.part_urls.size() == 5u);
    BOOST_TEST_REQUIRE(p1.part_urls[0] != p2.part_urls[0]);  // two uploads, not one
    auto e1 = put_parts(p1, big);
    auto e2 = put_parts(p2, big);
    auto tmp_holds_it = [&] {
        for (auto& e : fs::directory_iterator(s.root() / "tmp"))
            if (e.path().filename().string().find(hfhub::util::sha256_hex(big)) != std::string::npos) return true;
        return false;
    };
    BOOST_TEST_REQUIRE(tmp_holds_it());
    BOOST_TEST_REQUIRE(complete(p1, big, e1).status == 200u);
    BOOST_TEST(complete(p2, big, e2).status == 200u);
    BOOST_TEST(verify(p2, big) == 200u);
    BOOST_TEST(!tmp_holds_it());
}

BOOST_FIXTURE_TEST_CASE(multipart_bytes_that_are_not_the_object_are_never_stored, multipart_fixture) {
    std::string big = pattern_bytes((1u << 20) + 777, 44);
    std::string wrong = big;
    wrong[300000] = static_cast<char>(wrong[300000] ^ 1);  // in part 2
    auto p = start(big);
    auto etags = put_parts(p, wrong);
    auto r = complete(p, big, etags);
    BOOST_TEST(r.status == 400u);
    BOOST_TEST(r.body.find("does not match") != std::string::npos, r.body);
    BOOST_TEST(offers_upload(big));
    BOOST_TEST(verify(p, big) == 404u);
    // The upload is gone: completing it again names that, it stores nothing.
    BOOST_TEST(complete(p, big, etags).status == 400u);
    BOOST_TEST(offers_upload(big));
    for (auto& e : fs::directory_iterator(s.root() / "tmp"))
        BOOST_TEST(e.path().filename().string().find(hfhub::util::sha256_hex(big)) == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
