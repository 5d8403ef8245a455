// The server under hostile clients: slowloris, oversized heads and bodies, malformed NDJSON,
// commits naming objects the committer may not use, path traversal in every route that takes a
// path or a repo id, and tokens used outside their namespace. Each case checks the status and
// that the store is unchanged (heads, trees, files under the server root).
#include "hub_helpers.hpp"
#include "transport_util.hpp"

#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <map>
#include <memory>
#include <set>

using namespace hfhub::test;
using namespace hfhub::test::transport;
namespace fs = std::filesystem;

namespace {

// Every file under the root (but the scratch dir) with its size and bytes' hash.
std::map<std::string, std::string> store_state(const fs::path& root) {
    std::map<std::string, std::string> out;
    for (auto& e : fs::recursive_directory_iterator(root)) {
        auto rel = fs::relative(e.path(), root).generic_string();
        if (rel == "tmp" || rel.starts_with("tmp/")) continue;
        if (e.is_directory()) {
            out[rel + "/"] = "dir";
            continue;
        }
        out[rel] = hfhub::util::sha256_hex(read_text(e.path()));
    }
    return out;
}

void check_unchanged(const std::map<std::string, std::string>& before, const fs::path& root, const std::string& what) {
    auto after = store_state(root);
    for (auto& [k, v] : after)
        if (!before.contains(k)) BOOST_ERROR(what << ": new in the store: " << k);
        else if (before.at(k) != v) BOOST_ERROR(what << ": changed in the store: " << k);
    for (auto& [k, v] : before)
        if (!after.contains(k)) BOOST_ERROR(what << ": gone from the store: " << k);
}

bool refused(unsigned status) { return status == 400 || status == 403 || status == 404 || status == 422; }

std::string batch_body(const std::string& op, const std::string& oid, std::size_t size) {
    return json::serialize(json::object{{"operation", op},
                                        {"transfers", json::array{"basic"}},
                                        {"hash_algo", "sha256"},
                                        {"objects", json::array{json::object{{"oid", oid}, {"size", size}}}}});
}

// alice/pub (public) with a regular and an LFS file, alice/secret (private) with an LFS file
// nobody else has, and bob/mine.
struct world {
    test_server s;
    std::string weights = transport::pattern_bytes(5000, 11), secret = transport::pattern_bytes(4000, 12);
    std::string secret_sha;

    explicit world(std::function<void(hfhub::server::options&)> tweak = {}) : s(std::move(tweak)) {
        s.create_repo("alice/pub", alice_token);
        auto w = s.upload_lfs("alice/pub", weights, alice_token);
        must_commit(s, "models/alice/pub", "main",
                    {test_server::add_file("a.txt", "hello\n"), test_server::add_lfs("w.bin", w, weights.size())});
        s.create_repo("alice/secret", alice_token, true);
        secret_sha = s.upload_lfs("alice/secret", secret, alice_token);
        must_commit(s, "models/alice/secret", "main", {test_server::add_lfs("s.bin", secret_sha, secret.size())});
        s.create_repo("bob/mine", bob_token);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_clients)

BOOST_AUTO_TEST_CASE(slowloris_is_dropped_and_others_are_served) {
    // A short head deadline; dribblers never go idle long enough for a per-read timeout.
    test_server s([](hfhub::server::options& o) { o.read_timeout = std::chrono::milliseconds(800); });
    constexpr int n = 40;
    std::vector<std::unique_ptr<raw_conn>> conns;
    for (int i = 0; i < n; ++i) {
        conns.push_back(std::make_unique<raw_conn>(s.url()));
        conns.back()->send("GET /api/whoami-v2 HTTP/1.1\r\nHost: " + conns.back()->host() + "\r\n");
    }
    auto t0 = clock_type::now();
    std::vector<long long> closed_at(n, -1);
    bool served_promptly = false;
    long long served_ms = -1;
    int round = 0;
    while (ms_since(t0) < 4000) {
        for (int i = 0; i < n; ++i) {
            if (closed_at[i] >= 0) continue;
            auto st = conns[i]->read_some(std::chrono::milliseconds(0));
            bool gone = st == raw_conn::status::eof;
            if (!gone) {
                try {
                    conns[i]->send("X-Slow-" + std::to_string(round) + ": y\r\n");
                } catch (const std::exception&) {
                    gone = true;
                }
            }
            if (gone) closed_at[i] = ms_since(t0);
        }
        if (round == 2) {  // in the thick of it, a normal client
            auto t1 = clock_type::now();
            auto r = s.get("/api/whoami-v2", alice_token);
            served_ms = ms_since(t1);
            served_promptly = r.status == 200 && served_ms < 500;
        }
        ++round;
        if (std::all_of(closed_at.begin(), closed_at.end(), [](long long t) { return t >= 0; })) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    BOOST_TEST(served_promptly, "a well-behaved request took " << served_ms << " ms");
    for (int i = 0; i < n; ++i) {
        BOOST_TEST(closed_at[i] >= 0, "connection " << i << " was never dropped");
        BOOST_TEST(closed_at[i] >= 500);  // not before the deadline
        BOOST_TEST(closed_at[i] < 3000);
        BOOST_TEST(conns[i]->buf.find("200 OK") == std::string::npos);  // no dribbler got an answer
    }
    BOOST_TEST(s.get("/api/whoami-v2", alice_token).status == 200u);
}

BOOST_AUTO_TEST_CASE(oversized_request_line_and_headers) {
    test_server s([](hfhub::server::options& o) { o.max_header_bytes = 8 * 1024; });
    {
        raw_conn c(s.url());
        c.send("GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nHost: " + c.host() + "\r\n\r\n");
        auto r = c.read_head();
        BOOST_TEST((r.status == 431u || r.status == 400u || r.status == 414u), r.status);
    }
    {
        raw_conn c(s.url());
        c.send("GET /api/whoami-v2 HTTP/1.1\r\nHost: " + c.host() + "\r\nX-Big: " + std::string(20000, 'b') +
               "\r\n\r\n");
        BOOST_TEST(c.read_head().status == 431u);
    }
    {
        raw_conn c(s.url());  // many small headers add up too
        std::string req = "GET /api/whoami-v2 HTTP/1.1\r\nHost: " + c.host() + "\r\n";
        for (int i = 0; i < 2000; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
        c.send(req + "\r\n");
        BOOST_TEST(c.read_head().status == 431u);
    }
    BOOST_TEST(s.get("/api/whoami-v2", alice_token).status == 200u);
}

BOOST_AUTO_TEST_CASE(oversized_bodies_are_refused_unread) {
    world w([](hfhub::server::options& o) {
        o.max_body_bytes = 1 << 20;
        o.max_upload_bytes = 2 << 20;
    });
    auto before = store_state(w.s.root());
    auto head_for = [&](raw_conn& c, const std::string& method, const std::string& target, std::uint64_t len) {
        return method + " " + target + " HTTP/1.1\r\nHost: " + c.host() + "\r\nAuthorization: Bearer " + alice_token +
               "\r\nContent-Type: application/x-ndjson\r\nContent-Length: " + std::to_string(len) + "\r\n\r\n";
    };
    {
        // Only the head goes out: the answer must come without the server waiting for the body.
        raw_conn c(w.s.url());
        c.send(head_for(c, "POST", "/api/models/alice/pub/commit/main", (1 << 20) + 1));
        auto t0 = clock_type::now();
        BOOST_TEST(c.read_head(std::chrono::milliseconds(2000)).status == 413u);
        BOOST_TEST(ms_since(t0) < 1000);
    }
    {
        raw_conn c(w.s.url());  // a 10 GB claim
        c.send(head_for(c, "POST", "/api/repos/create", 10'000'000'000ull));
        BOOST_TEST(c.read_head(std::chrono::milliseconds(2000)).status == 413u);
    }
    {
        // Chunked, so no length up front: refused once the limit is crossed.
        raw_conn c(w.s.url());
        c.send("POST /api/models/alice/pub/commit/main HTTP/1.1\r\nHost: " + c.host() + "\r\nAuthorization: Bearer " +
               alice_token + "\r\nTransfer-Encoding: chunked\r\n\r\n");
        std::string piece(256 << 10, 'x');
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
        try {
            for (int i = 0; i < 6; ++i) c.send(size_line + piece + "\r\n");
        } catch (const std::exception&) {
            // the server may stop reading once it has refused
        }
        BOOST_TEST(c.read_head().status == 413u);
    }
    {
        // A storage upload beyond max_upload_bytes, with a valid signed URL.
        std::string big_oid = std::string(64, 'c');
        auto b = w.s.post("/alice/pub.git/info/lfs/objects/batch", batch_body("upload", big_oid, 3 << 20), alice_token,
                          "application/vnd.git-lfs+json");
        BOOST_TEST_REQUIRE(b.status == 200u);
        auto obj = json::parse(b.body).at("objects").at(0).as_object();
        BOOST_TEST_REQUIRE(obj.contains("actions"));
        auto href = json::value_to<std::string>(obj.at("actions").at("upload").at("href"));
        raw_conn c(href);
        c.send("PUT " + parse_url(href).target + " HTTP/1.1\r\nHost: " + c.host() +
               "\r\nContent-Length: " + std::to_string(3 << 20) + "\r\n\r\n");
        BOOST_TEST(c.read_head(std::chrono::milliseconds(2000)).status == 413u);
    }
    check_unchanged(before, w.s.root(), "oversized bodies");
    BOOST_TEST(w.s.get("/api/whoami-v2", alice_token).status == 200u);
}

BOOST_AUTO_TEST_CASE(malformed_ndjson_commits_change_nothing) {
    world w;
    std::string head = head_of(w.s, "models/alice/pub");
    auto before = store_state(w.s.root());
    std::string hdr = R"({"key":"header","value":{"summary":"x"}})";
    std::vector<std::pair<std::string, std::string>> bodies{
        {"not json", "this is not json\n"},
        {"no header", test_server::add_file("x.txt", "x") + "\n"},
        {"truncated line", hdr + "\n" + R"({"key":"file","value":{"path":"x.txt","content":)" + "\n"},
        {"array line", hdr + "\n[1,2,3]\n"},
        {"unknown key", hdr + "\n" + R"({"key":"chmod","value":{"path":"a.txt"}})" + "\n"},
        {"value not an object", hdr + "\n" + R"({"key":"file","value":"a.txt"})" + "\n"},
        {"path not a string", hdr + "\n" + R"({"key":"file","value":{"path":7,"content":"eA=="}})" + "\n"},
        {"bad base64", hdr + "\n" + R"({"key":"file","value":{"path":"x.txt","content":"!!!"}})" + "\n"},
        {"bad encoding", hdr + "\n" + R"({"key":"file","value":{"path":"x.txt","content":"x","encoding":"rot13"}})" +
                             "\n"},
        {"bad oid", hdr + "\n" + R"({"key":"lfsFile","value":{"path":"x.bin","oid":"zz","size":3}})" + "\n"},
        {"negative size", hdr + "\n" + R"({"key":"lfsFile","value":{"path":"x.bin","oid":")" + std::string(64, 'a') +
                              R"(","size":-5}})" + "\n"},
        {"good op after a bad one", hdr + "\n" + test_server::add_file("ok.txt", "ok") + "\n{oops\n"},
        {"NUL in a line", hdr + "\n" + std::string("{\"key\":\"file\",\0}", 17) + "\n"},
        {"delete of a missing file", hdr + "\n" + test_server::delete_file("nope.txt") + "\n"},
    };
    for (auto& [name, body] : bodies) {
        auto r = w.s.send("POST", "/api/models/alice/pub/commit/main", body, alice_token,
                          {{"Content-Type", "application/x-ndjson"}});
        BOOST_TEST((r.status == 400u || r.status == 404u || r.status == 422u), name << ": " << r.status << " " << r.body);
    }
    BOOST_TEST(head_of(w.s, "models/alice/pub") == head);
    BOOST_TEST(file_list(w.s, "models/alice/pub") == (std::vector<std::string>{".gitattributes", "a.txt", "w.bin"}),
               boost::test_tools::per_element());
    check_unchanged(before, w.s.root(), "malformed NDJSON");
}

BOOST_AUTO_TEST_CASE(commit_naming_a_missing_lfs_object) {
    world w;
    std::string head = head_of(w.s, "models/alice/pub");
    auto before = store_state(w.s.root());
    std::string ghost = hfhub::util::sha256_hex("never uploaded");
    auto r = w.s.commit("models/alice/pub", "main", {test_server::add_lfs("ghost.bin", ghost, 14)}, alice_token);
    BOOST_TEST((r.status == 400u || r.status == 404u || r.status == 422u), r.status << " " << r.body);
    // A wrong size for an object that exists is refused too.
    auto w_sha = hfhub::util::sha256_hex(w.weights);
    auto r2 = w.s.commit("models/alice/pub", "main", {test_server::add_lfs("w2.bin", w_sha, 1)}, alice_token);
    BOOST_TEST((r2.status == 400u || r2.status == 422u), r2.status << " " << r2.body);
    BOOST_TEST(head_of(w.s, "models/alice/pub") == head);
    check_unchanged(before, w.s.root(), "missing LFS object");
}

BOOST_AUTO_TEST_CASE(private_lfs_objects_do_not_leak_across_repos) {
    world w;
    std::string bob_head = head_of(w.s, "models/bob/mine", "main", bob_token);
    // Bob knows (or guesses) the oid of alice's private object, but not its bytes.
    auto c = w.s.commit("models/bob/mine", "main", {test_server::add_lfs("stolen.bin", w.secret_sha, w.secret.size())},
                        bob_token);
    BOOST_TEST(refused(c.status), c.status << " " << c.body);
    BOOST_TEST(head_of(w.s, "models/bob/mine", "main", bob_token) == bob_head);
    BOOST_TEST(w.s.get("/bob/mine/resolve/main/stolen.bin").status == 404u);

    // Claiming it through the batch API must not skip the upload (that would prove nothing)...
    auto up = w.s.post("/bob/mine.git/info/lfs/objects/batch", batch_body("upload", w.secret_sha, w.secret.size()),
                       bob_token, "application/vnd.git-lfs+json");
    BOOST_TEST(up.status == 200u);
    auto obj = json::parse(up.body).at("objects").at(0).as_object();
    BOOST_TEST(obj.contains("actions"), "the batch API told bob a private object is already there: " << up.body);
    auto c2 = w.s.commit("models/bob/mine", "main",
                         {test_server::add_lfs("stolen.bin", w.secret_sha, w.secret.size())}, bob_token);
    BOOST_TEST(refused(c2.status), c2.status << " " << c2.body);
    // ...and a download through his own repo must not hand out a URL for it.
    auto dl = w.s.post("/bob/mine.git/info/lfs/objects/batch", batch_body("download", w.secret_sha, w.secret.size()),
                       bob_token, "application/vnd.git-lfs+json");
    if (dl.status == 200u) {
        auto d = json::parse(dl.body).at("objects").at(0).as_object();
        BOOST_TEST(!d.contains("actions"), "bob got a download URL for alice's private object: " << dl.body);
    } else {
        BOOST_TEST(refused(dl.status));
    }
    // Nor through alice's repo, which he can't see.
    auto dl2 = w.s.post("/alice/secret.git/info/lfs/objects/batch",
                        batch_body("download", w.secret_sha, w.secret.size()), bob_token,
                        "application/vnd.git-lfs+json");
    BOOST_TEST(dl2.status == 404u);
    BOOST_TEST(head_of(w.s, "models/bob/mine", "main", bob_token) == bob_head);

    // Someone who has the bytes proves it by uploading them, and then may commit them.
    BOOST_TEST(w.s.upload_lfs("bob/mine", w.secret, bob_token) == w.secret_sha);
    auto c3 = w.s.commit("models/bob/mine", "main", {test_server::add_lfs("own.bin", w.secret_sha, w.secret.size())},
                         bob_token);
    BOOST_TEST(c3.status == 200u, c3.body);
    // Alice may still copy an object already in her own repo's history (as the client's copies do).
    auto w_sha = hfhub::util::sha256_hex(w.weights);
    auto c4 = w.s.commit("models/alice/pub", "main", {test_server::add_lfs("w-copy.bin", w_sha, w.weights.size())},
                         alice_token);
    BOOST_TEST(c4.status == 200u, c4.body);
}

BOOST_AUTO_TEST_CASE(path_traversal_in_every_route) {
    world w;
    // A file next to the root that no request may reach.
    fs::path outside = w.s.root().parent_path() / "outside.txt";
    std::ofstream(outside) << "OUTSIDE";
    std::string pub_head = head_of(w.s, "models/alice/pub");
    auto before = store_state(w.s.root());

    const std::vector<std::string> evil_url{"..%2f..%2foutside.txt",
                                            "../../outside.txt",
                                            "%2e%2e/%2e%2e/outside.txt",
                                            "%2e%2e%2f%2e%2e%2foutside.txt",
                                            "%2fetc%2fpasswd",
                                            "..%5c..%5coutside.txt",
                                            "a.txt%00.png",
                                            "sub/%2e%2e/%2e%2e/%2e%2e/outside.txt"};
    for (auto& p : evil_url) {
        for (std::string route : {"/alice/pub/resolve/main/", "/alice/pub/raw/main/", "/api/models/alice/pub/tree/main/"}) {
            auto r = w.s.get(route + p, alice_token);
            BOOST_TEST((r.status == 400u || r.status == 404u), route + p << ": " << r.status);
            BOOST_TEST(r.body.find("OUTSIDE") == std::string::npos);
            BOOST_TEST(r.body.find("root:") == std::string::npos);
        }
        // The same in the repo id and the revision.
        for (std::string target : {"/api/models/" + p + "/pub", "/api/models/alice/" + p, "/" + p + "/resolve/main/a.txt",
                                   "/alice/pub/resolve/" + p + "/a.txt", "/api/models/alice/pub/revision/" + p,
                                   "/api/models/alice/pub/tree/" + p}) {
            auto r = w.s.get(target, alice_token);
            BOOST_TEST((r.status == 400u || r.status == 404u), target << ": " << r.status);
            BOOST_TEST(r.body.find("OUTSIDE") == std::string::npos);
        }
    }
    const std::vector<std::string> evil_path{"../outside.txt", "../../outside.txt", "/../outside.txt", "a/../../x",
                                             "..\\..\\outside.txt", "a\\..\\..\\x", std::string("a\0b", 3), "",
                                             ".", "..", "a/./b"};
    for (auto& p : evil_path) {
        json::array paths{json::value(p)};
        auto pi = w.s.post("/api/models/alice/pub/paths-info/main", json::serialize(json::object{{"paths", paths}}),
                           alice_token);
        BOOST_TEST((pi.status == 400u || (pi.status == 200u && json::parse(pi.body).as_array().empty())),
                   "paths-info " << json::serialize(json::value(p)) << ": " << pi.status << " " << pi.body);
        json::object pre{{"files", json::array{json::object{{"path", p}, {"size", 3}, {"sample", "eHl6"}}}}};
        auto pu = w.s.post("/api/models/alice/pub/preupload/main", json::serialize(pre), alice_token);
        BOOST_TEST((pu.status == 400u || pu.status == 422u), "preupload " << json::serialize(json::value(p)) << ": "
                                                                          << pu.status << " " << pu.body);
        for (auto op : {test_server::add_file(p, "x"), test_server::delete_file(p), test_server::delete_folder(p),
                        test_server::add_lfs(p, hfhub::util::sha256_hex(w.weights), w.weights.size())}) {
            auto c = w.s.commit("models/alice/pub", "main", {op}, alice_token);
            BOOST_TEST((c.status == 400u || c.status == 404u || c.status == 422u),
                       "commit " << op << ": " << c.status << " " << c.body);
        }
    }
    // LFS routes: the repo part of the git URL, and the storage origin's object ids.
    for (std::string target : {"/..%2f..%2foutside.git/info/lfs/objects/batch", "/alice/..%2fsecret.git/info/lfs/objects/batch",
                               "/%2e%2e/pub.git/info/lfs/objects/batch", "/alice/%2e%2e.git/info/lfs/objects/batch"}) {
        auto r = w.s.post(target, batch_body("download", hfhub::util::sha256_hex(w.weights), w.weights.size()),
                          alice_token, "application/vnd.git-lfs+json");
        BOOST_TEST((r.status == 400u || r.status == 404u), target << ": " << r.status << " " << r.body);
    }
    for (std::string target : {"/lfs/..%2f..%2foutside.txt", "/lfs/../../outside.txt", "/lfs/%2e%2e", "/upload/..%2fx"}) {
        auto r = http_request("GET", w.s.storage_url() + target);
        BOOST_TEST((r.status == 400u || r.status == 403u || r.status == 404u), target << ": " << r.status);
        BOOST_TEST(r.body.find("OUTSIDE") == std::string::npos);
    }
    // Repo creation with names that climb or nest.
    for (const std::string& name : std::vector<std::string>{"..", ".", "../evil", "a/b", "%2e%2e", "..\\evil",
                                                            std::string("a\0b", 3), "/abs", ""}) {
        for (std::string org : {"alice", ".."}) {
            json::object body{{"name", name}, {"organization", org}, {"type", "model"}};
            auto r = w.s.post("/api/repos/create", json::serialize(body), alice_token);
            BOOST_TEST((r.status == 400u || r.status == 403u || r.status == 422u),
                       "create " << org << "/" << json::serialize(json::value(name)) << ": " << r.status << " " << r.body);
        }
    }
    BOOST_TEST(head_of(w.s, "models/alice/pub") == pub_head);
    BOOST_TEST(read_text(outside) == "OUTSIDE");
    check_unchanged(before, w.s.root(), "path traversal");

    // An absolute path in a commit means the repo's root (as the Hub's clients strip the '/'):
    // it lands inside the repo or is refused, never outside.
    auto abs = w.s.commit("models/alice/pub", "main", {test_server::add_file("/tmp/hfhub-abs-probe.txt", "x")},
                          alice_token);
    BOOST_TEST((abs.status == 200u || abs.status == 422u), abs.status);
    BOOST_TEST(!fs::exists("/tmp/hfhub-abs-probe.txt"));
    if (abs.status == 200u) {
        auto files = file_list(w.s, "models/alice/pub");
        BOOST_TEST((std::find(files.begin(), files.end(), "tmp/hfhub-abs-probe.txt") != files.end()));
    }
}

BOOST_AUTO_TEST_CASE(tokens_for_the_wrong_namespace) {
    world w;
    BOOST_TEST_REQUIRE(w.s.post("/api/models/alice/pub/branch/dev", "{}", alice_token).status == 200u);
    BOOST_TEST_REQUIRE(w.s.post("/api/models/alice/pub/tag/main", R"({"tag":"v1"})", alice_token).status == 200u);
    std::string head = head_of(w.s, "models/alice/pub");
    auto before = store_state(w.s.root());
    auto create = [&](const std::string& ns, const std::string& name) {
        json::object body{{"name", name}, {"organization", ns}, {"type", "model"}};
        return w.s.post("/api/repos/create", json::serialize(body), bob_token).status;
    };
    BOOST_TEST(create("alice", "bobs") == 403u);
    BOOST_TEST(create("acme", "bobs") == 403u);  // an org alice is in, bob isn't
    {
        // The same through a full name in "name".
        json::object body{{"name", "alice/bobs2"}, {"type", "model"}};
        BOOST_TEST(refused(w.s.post("/api/repos/create", json::serialize(body), bob_token).status));
    }
    auto c = w.s.commit("models/alice/pub", "main", {test_server::add_file("bob.txt", "bob was here")}, bob_token);
    BOOST_TEST(c.status == 403u);
    auto cs = w.s.commit("models/alice/secret", "main", {test_server::add_file("bob.txt", "x")}, bob_token);
    BOOST_TEST(cs.status == 404u);  // private: not even its existence
    auto del = w.s.send("DELETE", "/api/repos/delete",
                        json::serialize(json::object{{"name", "pub"}, {"organization", "alice"}, {"type", "model"}}),
                        bob_token, {{"Content-Type", "application/json"}});
    BOOST_TEST(del.status == 403u);
    BOOST_TEST(w.s.post("/api/models/alice/pub/branch/bobs", "{}", bob_token).status == 403u);
    BOOST_TEST(w.s.send("DELETE", "/api/models/alice/pub/branch/dev", {}, bob_token).status == 403u);
    BOOST_TEST(w.s.post("/api/models/alice/pub/tag/main", R"({"tag":"bobs"})", bob_token).status == 403u);
    BOOST_TEST(w.s.send("DELETE", "/api/models/alice/pub/tag/v1", {}, bob_token).status == 403u);
    auto set = w.s.send("PUT", "/api/models/alice/pub/settings", R"({"private":true})", bob_token,
                        {{"Content-Type", "application/json"}});
    BOOST_TEST(set.status == 403u);
    // A batch for main (a PR's names no ref, and anyone may open a PR: test_hub_workflows).
    auto for_main = json::parse(batch_body("upload", std::string(64, 'd'), 10)).as_object();
    for_main["ref"] = json::object{{"name", "main"}};
    auto up = w.s.post("/alice/pub.git/info/lfs/objects/batch", json::serialize(for_main), bob_token,
                       "application/vnd.git-lfs+json");
    BOOST_TEST(up.status == 403u);
    auto pre = w.s.post("/api/models/alice/pub/preupload/main",
                        R"({"files":[{"path":"x.txt","size":1,"sample":"eA=="}]})", bob_token);
    BOOST_TEST(pre.status == 403u);
    // No token, or a made-up one, can't write either.
    BOOST_TEST(w.s.commit("models/alice/pub", "main", {test_server::add_file("x", "x")}, "").status == 401u);
    BOOST_TEST(w.s.commit("models/alice/pub", "main", {test_server::add_file("x", "x")}, "hf_forged_token").status ==
               401u);
    BOOST_TEST(head_of(w.s, "models/alice/pub") == head);
    check_unchanged(before, w.s.root(), "wrong namespace");
}

BOOST_AUTO_TEST_SUITE_END()
