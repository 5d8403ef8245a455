// Which LFS objects a repo may name. The store keeps each object once, by content; a repo gains
// an object by uploading bytes that hash to it (basic PUT or multipart completion, even when the
// object is stored already) or by having it in its commits. Verify lives on the API origin.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>

using namespace hfhub::test;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t threshold = 1u << 20;
constexpr std::size_t chunk = 256u << 10;

const header_pairs lfs_headers{{"Content-Type", "application/vnd.git-lfs+json"},
                               {"Accept", "application/vnd.git-lfs+json"}};

// One object of an upload batch answer, and how it goes up.
struct offer {
    std::string oid;
    std::size_t size = 0;
    json::object actions;  // empty: stored and granted already

    bool multipart() const {
        return actions.contains("upload") && actions.at("upload").as_object().contains("header");
    }
};

struct grants_fixture {
    test_server s{[](hfhub::server::options& o) {
        o.multipart_threshold = threshold;
        o.multipart_chunk = chunk;
    }};

    // `repo` is "ns/name"; `multipart` says whether the client offers the multipart transfer.
    offer batch(const std::string& repo, const std::string& data, bool multipart,
                const std::string& token = alice_token) {
        json::array transfers{"basic"};
        if (multipart) transfers.push_back("multipart");
        offer o{hfhub::util::sha256_hex(data), data.size(), {}};
        json::object req{{"operation", "upload"},
                         {"transfers", transfers},
                         {"hash_algo", "sha256"},
                         {"objects", json::array{json::object{{"oid", o.oid}, {"size", data.size()}}}}};
        auto r = s.send("POST", "/" + repo + ".git/info/lfs/objects/batch", json::serialize(req), token, lfs_headers);
        if (r.status != 200) throw std::runtime_error("batch: " + std::to_string(r.status) + " " + r.body);
        auto v = parse_json(r);
        auto& obj = v.at("objects").at(0).as_object();
        if (auto* a = obj.if_contains("actions")) o.actions = a->as_object();
        return o;
    }

    // The upload action as clients run it: one PUT, or the parts then the completion.
    // Returns the status of the PUT or of the completion.
    unsigned send(const offer& o, const std::string& data) {
        auto& up = o.actions.at("upload").as_object();
        if (!o.multipart()) return http_request("PUT", jstr(up.at("href")), data).status;
        auto& h = up.at("header").as_object();
        std::size_t step = std::stoull(jstr(h.at("chunk_size")));
        json::array parts;
        for (std::size_t i = 1;; ++i) {
            char key[8];
            std::snprintf(key, sizeof key, "%05zu", i);
            auto* u = h.if_contains(key);
            if (!u) break;
            auto r = http_request("PUT", jstr(*u), data.substr((i - 1) * step, step));
            if (r.status != 200) return r.status;
            parts.push_back(json::object{{"partNumber", i}, {"etag", r.header("etag")}});
        }
        return complete(o, parts);
    }
    unsigned complete(const offer& o, const json::array& parts) {
        json::object body{{"oid", o.oid}, {"parts", parts}};
        return http_request("POST", jstr(o.actions.at("upload").at("href")), json::serialize(body), lfs_headers).status;
    }
    unsigned verify(const offer& o, const std::string& token = alice_token) {
        json::object body{{"oid", o.oid}, {"size", o.size}};
        header_pairs h = lfs_headers;
        if (!token.empty()) h.emplace_back("Authorization", bearer(token));
        return http_request("POST", jstr(o.actions.at("verify").at("href")), json::serialize(body), h).status;
    }
    // The whole client flow; throws unless every step answers 200.
    void upload(const std::string& repo, const std::string& data, bool multipart) {
        auto o = batch(repo, data, multipart);
        if (o.actions.empty()) return;
        if (o.multipart() != multipart) throw std::runtime_error("offered the wrong transfer");
        if (auto st = send(o, data); st != 200) throw std::runtime_error("upload: " + std::to_string(st));
        if (auto st = verify(o); st != 200) throw std::runtime_error("verify: " + std::to_string(st));
    }
    http_response commit(const std::string& repo, const std::string& path, const std::string& data,
                         const std::string& token = alice_token) {
        return s.commit("models/" + repo, "main", {test_server::add_lfs(path, hfhub::util::sha256_hex(data), data.size())},
                        token);
    }
    // The bytes of an LFS file at main, through resolve and its redirect.
    std::string fetch(const std::string& repo, const std::string& path, const std::string& token = alice_token) {
        auto h = s.head("/" + repo + "/resolve/main/" + path, token);
        if (h.status != 302) throw std::runtime_error("resolve " + path + ": " + std::to_string(h.status));
        return http_request("GET", h.header("location")).body;
    }
    // Whether a download batch through `repo` hands out a URL for `data`, and its bytes match.
    bool batch_downloads(const std::string& repo, const std::string& data, const std::string& token = alice_token) {
        json::object req{{"operation", "download"},
                         {"transfers", json::array{"basic"}},
                         {"objects", json::array{json::object{{"oid", hfhub::util::sha256_hex(data)}, {"size", data.size()}}}}};
        auto r = s.send("POST", "/" + repo + ".git/info/lfs/objects/batch", json::serialize(req), token, lfs_headers);
        if (r.status != 200) throw std::runtime_error("download batch: " + std::to_string(r.status) + " " + r.body);
        auto v = parse_json(r);
        auto& obj = v.at("objects").at(0).as_object();
        auto* a = obj.if_contains("actions");
        if (!a) return false;
        auto got = http_request("GET", jstr(a->at("download").at("href")));
        return got.status == 200 && got.body == data;
    }
};

const char* transfer_name(bool multipart) { return multipart ? "multipart" : "basic"; }

}  // namespace

BOOST_AUTO_TEST_SUITE(lfs_grants)

// A fork or a mirror: the bytes already in the store go up again through a second repo, with
// either transfer each time, and the second commit lands.
BOOST_FIXTURE_TEST_CASE(the_same_bytes_committed_to_a_second_repo, grants_fixture) {
    unsigned seed = 100;
    for (bool first_mp : {false, true}) {
        for (bool second_mp : {false, true}) {
            std::string what = std::string(transfer_name(first_mp)) + " then " + transfer_name(second_mp);
            std::string a = "alice/a-" + std::to_string(seed), b = "alice/b-" + std::to_string(seed);
            s.create_repo(a, alice_token);
            s.create_repo(b, alice_token);
            std::string data = pattern_bytes(threshold + 3 * chunk + 11, ++seed);

            upload(a, data, first_mp);
            auto c1 = commit(a, "w.bin", data);
            BOOST_TEST_REQUIRE(c1.status == 200u, what << ": " << c1.body);

            // The object is stored, but b has not shown the bytes: the batch asks for them.
            auto o = batch(b, data, second_mp);
            BOOST_TEST_REQUIRE(!o.actions.empty(), what);
            BOOST_TEST(o.multipart() == second_mp, what);
            BOOST_TEST(send(o, data) == 200u, what);
            BOOST_TEST(verify(o) == 200u, what);
            auto c2 = commit(b, "w.bin", data);
            BOOST_TEST(c2.status == 200u, what << ": " << c2.body);
            BOOST_TEST((fetch(b, "w.bin") == data), what);
            BOOST_TEST(batch_downloads(b, data), what);
            // Granted now: a third upload through b has nothing to send.
            BOOST_TEST(batch(b, data, second_mp).actions.empty(), what);
        }
    }
}

// Another upload stores the object between this upload's batch and its PUT or completion.
BOOST_FIXTURE_TEST_CASE(an_object_stored_meanwhile_is_granted_at_completion, grants_fixture) {
    unsigned seed = 200;
    for (bool mp : {false, true}) {
        std::string a = "alice/race-a-" + std::string(transfer_name(mp)), b = "alice/race-b-" + std::string(transfer_name(mp));
        s.create_repo(a, alice_token);
        s.create_repo(b, alice_token);
        std::string data = pattern_bytes(threshold + 2 * chunk + 5, ++seed);

        auto late = batch(b, data, mp);  // not stored yet
        BOOST_TEST_REQUIRE(!late.actions.empty());
        upload(a, data, mp);
        BOOST_TEST_REQUIRE(batch(a, data, mp).actions.empty());  // stored now

        BOOST_TEST(send(late, data) == 200u, transfer_name(mp));
        BOOST_TEST(verify(late) == 200u, transfer_name(mp));
        auto c = commit(b, "w.bin", data);
        BOOST_TEST(c.status == 200u, transfer_name(mp) << ": " << c.body);
        BOOST_TEST((fetch(b, "w.bin") == data), transfer_name(mp));
    }
}

// Knowing an oid is not having its bytes: a completion without (the right) parts, or a verify
// without an upload, grants nothing, however the object got into the store.
BOOST_FIXTURE_TEST_CASE(naming_a_stored_oid_grants_nothing, grants_fixture) {
    s.create_repo("alice/secret", alice_token, true);
    s.create_repo("bob/mine", bob_token);
    std::string secret = pattern_bytes(threshold + chunk + 3, 301);
    upload("alice/secret", secret, true);
    BOOST_TEST_REQUIRE(commit("alice/secret", "s.bin", secret).status == 200u);

    // A completion with made-up ETags for parts never sent.
    auto o = batch("bob/mine", secret, true, bob_token);
    BOOST_TEST_REQUIRE(o.multipart());
    json::array fake;
    for (std::size_t i = 1; i <= (secret.size() + chunk - 1) / chunk; ++i)
        fake.push_back(json::object{{"partNumber", i}, {"etag", "\"" + std::string(16, 'a') + "\""}});
    BOOST_TEST(complete(o, fake) == 400u);
    BOOST_TEST(verify(o, bob_token) == 404u);
    BOOST_TEST(commit("bob/mine", "stolen.bin", secret, bob_token).status == 422u);

    // Parts that are not the object's bytes.
    std::string wrong = secret;
    wrong[chunk + 1] = static_cast<char>(wrong[chunk + 1] ^ 1);
    o = batch("bob/mine", secret, true, bob_token);
    BOOST_TEST(send(o, wrong) == 400u);
    BOOST_TEST(verify(o, bob_token) == 404u);

    // A basic offer, never PUT.
    o = batch("bob/mine", secret, false, bob_token);
    BOOST_TEST_REQUIRE(!o.actions.empty());
    BOOST_TEST(verify(o, bob_token) == 404u);
    BOOST_TEST(commit("bob/mine", "stolen.bin", secret, bob_token).status == 422u);
    BOOST_TEST(!batch_downloads("bob/mine", secret, bob_token));

    // Whoever has the bytes shows them, and then may commit them.
    o = batch("bob/mine", secret, true, bob_token);
    BOOST_TEST(send(o, secret) == 200u);
    BOOST_TEST(verify(o, bob_token) == 200u);
    BOOST_TEST(commit("bob/mine", "own.bin", secret, bob_token).status == 200u);
}

// The Hub token goes only to the API origin: verify is answered there, with its auth rules.
BOOST_FIXTURE_TEST_CASE(verify_is_on_the_api_origin, grants_fixture) {
    s.create_repo("alice/v", alice_token);
    s.create_repo("alice/d", alice_token, false, "dataset");
    std::string data = pattern_bytes(5000, 401);
    auto o = batch("alice/v", data, true);
    std::string href = jstr(o.actions.at("verify").at("href"));
    BOOST_TEST(href == s.url() + "/alice/v.git/info/lfs/objects/verify");
    BOOST_TEST(verify(o) == 404u);  // not uploaded yet
    BOOST_TEST_REQUIRE(send(o, data) == 200u);

    auto from = s.log_lines().size();
    BOOST_TEST(verify(o) == 200u);
    BOOST_TEST(verify(o, "") == 401u);
    BOOST_TEST(verify(o, bob_token) == 403u);
    json::object wrong_size{{"oid", o.oid}, {"size", data.size() + 1}};
    auto ws = http_request("POST", href, json::serialize(wrong_size), {{"Authorization", bearer(alice_token)}});
    BOOST_TEST(ws.status == 422u, ws.body);
    auto bad = http_request("POST", href, "{}", {{"Authorization", bearer(alice_token)}});
    BOOST_TEST(bad.status == 422u, bad.body);

    auto lines = settled_log(s);
    std::size_t api_ok = 0, on_storage = 0;
    for (std::size_t i = from; i < lines.size(); ++i) {
        auto e = json::parse(lines[i]).as_object();
        std::string target = jstr(e.at("target"));
        if (target.find("verify") == std::string::npos) continue;
        if (jstr(e.at("listener")) == "storage") ++on_storage;
        if (jstr(e.at("listener")) == "api" && target == "/alice/v.git/info/lfs/objects/verify" &&
            e.at("status").to_number<int>() == 200 && e.at("authorized").as_bool())
            ++api_ok;
    }
    BOOST_TEST(api_ok == 1u);
    BOOST_TEST(on_storage == 0u);

    // Datasets and spaces keep their prefix.
    auto d = s.send("POST", "/datasets/alice/d.git/info/lfs/objects/batch",
                    json::serialize(json::object{{"operation", "upload"},
                                                 {"objects", json::array{json::object{{"oid", o.oid}, {"size", data.size()}}}}}),
                    alice_token, lfs_headers);
    BOOST_TEST_REQUIRE(d.status == 200u, d.body);
    BOOST_TEST(jstr(parse_json(d).at("objects").at(0).at("actions").at("verify").at("href")) ==
               s.url() + "/datasets/alice/d.git/info/lfs/objects/verify");
}

// A repo written before grants existed has LFS files in its commits and no grants file. Its
// objects stay reachable through the batch API: it is granted what its commits reference.
BOOST_FIXTURE_TEST_CASE(a_repo_from_before_grants_keeps_its_objects, grants_fixture) {
    std::string in_head = pattern_bytes(3000, 501), in_history = pattern_bytes(4000, 502), elsewhere = pattern_bytes(5000, 503);
    // Store the objects through another repo, as the old server stored them.
    s.create_repo("alice/store", alice_token);
    for (auto* d : {&in_head, &in_history, &elsewhere}) upload("alice/store", *d, false);

    // The repo as the old server laid it out: repo.json, state.json, commits/<sha1>.json.
    fs::path dir = s.root() / "repos" / "models" / "alice" / "legacy";
    fs::create_directories(dir / "commits");
    auto write = [](const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; };
    auto lfs_entry = [](const std::string& data) {
        return json::object{{"oid", git_blob_id(lfs_pointer_text(hfhub::util::sha256_hex(data), data.size()))},
                            {"size", data.size()},
                            {"lfs", hfhub::util::sha256_hex(data)}};
    };
    auto write_commit = [&](json::array parents, json::object files) {
        std::string text = json::serialize(json::object{{"parents", std::move(parents)},
                                                        {"title", "old"},
                                                        {"message", ""},
                                                        {"author", "alice"},
                                                        {"time", 1700000000},
                                                        {"files", std::move(files)}});
        std::string id = hfhub::util::sha1_hex(text);
        write(dir / "commits" / (id + ".json"), text);
        return id;
    };
    std::string first = write_commit({}, {{"old.bin", lfs_entry(in_history)}});
    std::string head = write_commit({first}, {{"w.bin", lfs_entry(in_head)}});
    write(dir / "repo.json", json::serialize(json::object{{"type", "model"}, {"id", "alice/legacy"},
                                                          {"_id", std::string(24, 'c')}, {"createdAt", 1700000000}}));
    write(dir / "state.json", json::serialize(json::object{{"private", false},
                                                           {"branches", json::object{{"main", head}}},
                                                           {"tags", json::object{}},
                                                           {"discussions", json::array{}}}));
    BOOST_TEST_REQUIRE(!fs::exists(dir / "lfs-grants"));

    BOOST_TEST_REQUIRE(head_of(s, "models/alice/legacy") == head);
    BOOST_TEST((fetch("alice/legacy", "w.bin") == in_head));
    BOOST_TEST(batch_downloads("alice/legacy", in_head));
    BOOST_TEST(batch_downloads("alice/legacy", in_history));
    BOOST_TEST(batch(std::string("alice/legacy"), in_head, false).actions.empty());
    // Only what its commits reference: another repo's object stays out of reach.
    BOOST_TEST(!batch_downloads("alice/legacy", elsewhere));
    BOOST_TEST(commit("alice/legacy", "x.bin", elsewhere).status == 422u);
    // A copy of an object from its history commits.
    BOOST_TEST(commit("alice/legacy", "again.bin", in_history).status == 200u);
}

BOOST_AUTO_TEST_SUITE_END()
