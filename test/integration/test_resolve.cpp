// /resolve: headers, ranges, HEAD, the LFS redirect and its signed storage URL, revisions, and
// the error codes clients branch on.
#include "hub_helpers.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <fstream>
#include <sstream>

using namespace hfhub::test;

namespace {

const std::string R = "models/alice/r";
const std::string text = "0123456789abcdefghij\n";  // 21 bytes

struct repo_fixture {
    test_server s;
    std::string c1;
    std::string lfs_data = pattern_bytes(5000, 7);
    std::string lfs_sha;
    repo_fixture() {
        s.create_repo("alice/r", alice_token);
        lfs_sha = s.upload_lfs("alice/r", lfs_data, alice_token);
        c1 = must_commit(s, R, "main",
                         {test_server::add_file("file.txt", text), test_server::add_file("a/b/deep.txt", "deep"),
                          test_server::add_lfs("weights.bin", lfs_sha, lfs_data.size())});
    }
    std::string signing_key() {
        std::ifstream in(s.root() / "signing.key");
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string port_of(const std::string& url) { return url.substr(url.rfind(':') + 1); }

}  // namespace

BOOST_AUTO_TEST_SUITE(resolve)

BOOST_FIXTURE_TEST_CASE(regular_file_headers, repo_fixture) {
    auto r = s.get("/alice/r/resolve/main/file.txt");
    BOOST_TEST_REQUIRE(r.status == 200u);
    BOOST_TEST(r.body == text);
    BOOST_TEST(r.header("etag") == "\"" + git_blob_id(text) + "\"");
    BOOST_TEST(r.header("content-length") == std::to_string(text.size()));
    BOOST_TEST(r.header("accept-ranges") == "bytes");
    BOOST_TEST(r.header("x-repo-commit") == c1);
    BOOST_TEST(!r.has_header("location"));
}

BOOST_FIXTURE_TEST_CASE(head_has_no_body_but_the_length, repo_fixture) {
    auto h = s.head("/alice/r/resolve/main/file.txt");
    BOOST_TEST(h.status == 200u);
    BOOST_TEST(h.header("content-length") == std::to_string(text.size()));
    BOOST_TEST(h.header("etag") == "\"" + git_blob_id(text) + "\"");
    BOOST_TEST(h.header("x-repo-commit") == c1);
    // On the wire: nothing after the header block.
    auto raw = split_raw(raw_exchange(s.url(), "HEAD /alice/r/resolve/main/file.txt HTTP/1.1\r\nHost: x\r\n"
                                               "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"));
    BOOST_TEST(raw.body_bytes == 0u);
    BOOST_TEST(raw.head.find("Content-Length: " + std::to_string(text.size()) + "\r\n") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(ranges, repo_fixture) {
    auto ranged = [&](const std::string& range) {
        return s.send("GET", "/alice/r/resolve/main/file.txt", {}, {}, {{"Range", range}});
    };
    auto r = ranged("bytes=2-5");
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body == text.substr(2, 4));
    BOOST_TEST(r.header("content-range") == "bytes 2-5/21");
    BOOST_TEST(r.header("content-length") == "4");
    r = ranged("bytes=10-");
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body == text.substr(10));
    BOOST_TEST(r.header("content-range") == "bytes 10-20/21");
    r = ranged("bytes=3-999");  // clipped to the end
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.header("content-range") == "bytes 3-20/21");
    r = ranged("bytes=-4");  // suffix
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body == text.substr(17));
    BOOST_TEST(r.header("content-range") == "bytes 17-20/21");
    r = ranged("bytes=-100");  // suffix longer than the file: all of it
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.body == text);
    BOOST_TEST(r.header("content-range") == "bytes 0-20/21");
    for (std::string bad : {"bytes=21-", "bytes=100-200", "bytes=-0"}) {
        r = ranged(bad);
        BOOST_TEST(r.status == 416u, bad);
        BOOST_TEST(r.header("content-range") == "bytes */21", bad);
    }
    // A HEAD with a range: 206 headers, no body.
    r = s.send("HEAD", "/alice/r/resolve/main/file.txt", {}, {}, {{"Range", "bytes=0-0"}});
    BOOST_TEST(r.status == 206u);
    BOOST_TEST(r.header("content-range") == "bytes 0-0/21");
    BOOST_TEST(r.header("content-length") == "1");
}

BOOST_FIXTURE_TEST_CASE(lfs_redirect_to_storage, repo_fixture) {
    for (std::string method : {"HEAD", "GET"}) {
        auto r = s.send(method, "/alice/r/resolve/main/weights.bin", {}, alice_token);
        BOOST_TEST_REQUIRE(r.status == 302u, method);
        BOOST_TEST(r.header("x-linked-etag") == "\"" + lfs_sha + "\"");
        BOOST_TEST(r.header("x-linked-size") == std::to_string(lfs_data.size()));
        BOOST_TEST(r.header("x-repo-commit") == c1);
        std::string loc = r.header("location");
        BOOST_TEST(loc.starts_with(s.storage_url() + "/"), loc);
        BOOST_TEST(port_of(s.storage_url()) != port_of(s.url()));
    }
    std::string loc = s.head("/alice/r/resolve/main/weights.bin").header("location");
    // Followed with no Authorization at all.
    auto g = http_request("GET", loc);
    BOOST_TEST_REQUIRE(g.status == 200u, g.body);
    BOOST_TEST(g.body == lfs_data);
    BOOST_TEST(g.header("content-length") == std::to_string(lfs_data.size()));
    BOOST_TEST(g.header("accept-ranges") == "bytes");
    BOOST_TEST(g.header("etag") == "\"" + lfs_sha + "\"");
    auto part = http_request("GET", loc, {}, {{"Range", "bytes=100-199"}});
    BOOST_TEST(part.status == 206u);
    BOOST_TEST(part.body == lfs_data.substr(100, 100));
    BOOST_TEST(part.header("content-range") == "bytes 100-199/" + std::to_string(lfs_data.size()));
    auto tail = http_request("GET", loc, {}, {{"Range", "bytes=-10"}});
    BOOST_TEST(tail.status == 206u);
    BOOST_TEST(tail.body == lfs_data.substr(lfs_data.size() - 10));
}

BOOST_FIXTURE_TEST_CASE(storage_signature_is_checked, repo_fixture) {
    std::string loc = s.head("/alice/r/resolve/main/weights.bin").header("location");
    auto sig_at = loc.rfind("&sig=");
    BOOST_TEST_REQUIRE(sig_at != std::string::npos);
    // Tampered signature (one hex digit changed).
    std::string bad = loc;
    char& last = bad.back();
    last = last == '0' ? '1' : '0';
    BOOST_TEST(http_request("GET", bad).status == 403u);
    // No signature, and a signature moved to another object.
    BOOST_TEST(http_request("GET", loc.substr(0, sig_at)).status == 403u);
    std::string other = loc;
    auto at = other.find(lfs_sha);
    other.replace(at, 64, hfhub::util::sha256_hex("other"));
    BOOST_TEST(http_request("GET", other).status == 403u);
    // A later expiry without re-signing.
    auto exp_at = loc.find("exp=");
    std::string exp = loc.substr(exp_at + 4, sig_at - exp_at - 4);
    std::string later = loc;
    later.replace(exp_at + 4, exp.size(), std::to_string(std::stoll(exp) + 100000));
    BOOST_TEST(http_request("GET", later).status == 403u);

    // Correctly signed with the server's key: valid until `exp`, refused after.
    std::string key = signing_key();
    auto signed_url = [&](std::int64_t e) {
        std::string msg = "/lfs/" + lfs_sha + "?commit=" + c1 + "&exp=" + std::to_string(e);
        return s.storage_url() + msg + "&sig=" + hfhub::util::hmac_sha256_hex(key, msg);
    };
    auto fresh = http_request("GET", signed_url(unix_now() + 600));
    BOOST_TEST(fresh.status == 200u);
    BOOST_TEST(fresh.body == lfs_data);
    BOOST_TEST(http_request("GET", signed_url(unix_now() - 5)).status == 403u);
}

BOOST_FIXTURE_TEST_CASE(revisions, repo_fixture) {
    std::string c2 = must_commit(s, R, "main", {test_server::add_file("file.txt", "changed")});
    BOOST_TEST_REQUIRE(s.send("POST", "/api/" + R + "/branch/dev", R"({"startingPoint":")" + c1 + "\"}", alice_token,
                              {{"Content-Type", "application/json"}})
                           .status == 200u);
    BOOST_TEST_REQUIRE(s.post("/api/" + R + "/tag/" + c1, R"({"tag":"v1"})", alice_token).status == 200u);
    auto pr = s.post("/api/" + R + "/discussions", R"({"title":"p","pullRequest":true})", alice_token);
    BOOST_TEST_REQUIRE(pr.status == 200u, pr.body);
    std::string num = std::to_string(parse_json(pr).at("num").as_int64());
    std::string c3 = must_commit(s, R, "refs/pr/" + num, {test_server::add_file("file.txt", "in the pr")});

    struct expect {
        std::string rev, body, commit;
    };
    for (auto& e : std::vector<expect>{{"main", "changed", c2},
                                       {"dev", text, c1},
                                       {"v1", text, c1},
                                       {c1, text, c1},
                                       {c2, "changed", c2},
                                       {"refs%2Fpr%2F" + num, "in the pr", c3},
                                       {"refs/pr/" + num, "in the pr", c3},
                                       {"refs%2Fheads%2Fdev", text, c1}}) {
        auto r = s.get("/alice/r/resolve/" + e.rev + "/file.txt");
        BOOST_TEST(r.status == 200u, e.rev);
        BOOST_TEST(r.body == e.body, e.rev);
        BOOST_TEST(r.header("x-repo-commit") == e.commit, e.rev);
    }
    // Subfolders, under a revision spelled with slashes.
    auto d = s.get("/alice/r/resolve/refs%2Fpr%2F" + num + "/a/b/deep.txt");
    BOOST_TEST(d.status == 200u);
    BOOST_TEST(d.body == "deep");
    // A percent-encoded slash inside the file path is the same path.
    d = s.get("/alice/r/resolve/main/a%2Fb%2Fdeep.txt");
    BOOST_TEST(d.body == "deep");
}

BOOST_FIXTURE_TEST_CASE(error_codes, repo_fixture) {
    for (std::string method : {"GET", "HEAD"}) {
        auto r = s.send(method, "/alice/r/resolve/main/missing.txt", {});
        BOOST_TEST(r.status == 404u, method);
        BOOST_TEST(r.header("x-error-code") == "EntryNotFound", method);
        BOOST_TEST(r.header("x-repo-commit") == c1, method);
        BOOST_TEST(!r.header("x-error-message").empty());
        // A folder is not a file.
        r = s.send(method, "/alice/r/resolve/main/a/b", {});
        BOOST_TEST(r.status == 404u);
        BOOST_TEST(r.header("x-error-code") == "EntryNotFound");

        r = s.send(method, "/alice/r/resolve/nope/file.txt", {});
        BOOST_TEST(r.status == 404u, method);
        BOOST_TEST(r.header("x-error-code") == "RevisionNotFound", method);
        BOOST_TEST(!r.has_header("x-repo-commit"));
        r = s.send(method, "/alice/r/resolve/" + std::string(40, 'a') + "/file.txt", {});
        BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");
        r = s.send(method, "/alice/r/resolve/refs%2Fpr%2F9/file.txt", {});
        BOOST_TEST(r.header("x-error-code") == "RevisionNotFound");

        r = s.send(method, "/alice/missing/resolve/main/file.txt", {}, alice_token);
        BOOST_TEST(r.status == 404u);
        BOOST_TEST(r.header("x-error-code") == "RepoNotFound");
        r = s.send(method, "/alice/missing/resolve/main/file.txt", {});
        BOOST_TEST(r.status == 401u);
        BOOST_TEST(r.header("x-error-code") == "RepoNotFound");
        // Same repo under another type.
        r = s.send(method, "/datasets/alice/r/resolve/main/file.txt", {}, alice_token);
        BOOST_TEST(r.header("x-error-code") == "RepoNotFound");
    }
    // An invalid token is refused, with Hub's message, even on a public repo.
    auto bad = s.get("/alice/r/resolve/main/file.txt", "hf_wrong");
    BOOST_TEST(bad.status == 401u);
    BOOST_TEST(bad.header("x-error-message") == "Invalid credentials in Authorization header");
}

BOOST_FIXTURE_TEST_CASE(head_errors_have_no_body, repo_fixture) {
    // HEAD answers of every kind must end at the header block, or keep-alive clients desync.
    for (std::string path : {"/alice/r/resolve/main/missing.txt", "/alice/r/resolve/nope/file.txt",
                             "/alice/missing/resolve/main/file.txt", "/alice/r/resolve/main/%2e%2e/x",
                             "/alice/r/resolve/main/weights.bin", "/no/such/route"}) {
        auto raw = split_raw(
            raw_exchange(s.url(), "HEAD " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        BOOST_TEST(raw.body_bytes == 0u, path << " sent " << raw.body_bytes << " body bytes");
        BOOST_TEST(raw.head.find("Content-Length: ") != std::string::npos, path);
    }
}

BOOST_FIXTURE_TEST_CASE(special_characters_in_paths, repo_fixture) {
    const std::vector<std::string> names = {"with space.txt", "plus+sign.txt", "percent%25.txt", "hash#.txt",
                                            "q?.txt",         "\xC3\xBCn\xC3\xAF.txt", "dir with space/x.txt"};
    std::vector<std::string> ops;
    for (auto& n : names) ops.push_back(test_server::add_file(n, "content of " + n));
    std::string c = must_commit(s, R, "main", ops);
    for (auto& n : names) {
        // Clients keep "/" and escape the rest.
        auto r = s.get("/alice/r/resolve/main/" + hfhub::util::percent_encode(n, true));
        BOOST_TEST(r.status == 200u, n);
        BOOST_TEST(r.body == "content of " + n, n);
    }
    // "+" in a path is a plus, not a space.
    BOOST_TEST(s.get("/alice/r/resolve/main/plus+sign.txt").body == "content of plus+sign.txt");
    BOOST_TEST(s.get("/alice/r/resolve/main/with+space.txt").status == 404u);
    // A missing non-ASCII name: the error still parses and names the commit.
    auto miss = s.get("/alice/r/resolve/main/" + hfhub::util::percent_encode("\xC3\xA9t\xC3\xA9.txt", true));
    BOOST_TEST(miss.status == 404u);
    BOOST_TEST(miss.header("x-error-code") == "EntryNotFound");
    BOOST_TEST(miss.header("x-repo-commit") == c);
    // Listing and paging inside a folder whose name needs escaping.
    must_commit(s, R, "main", {test_server::add_file("dir with space/y.txt", "y"), test_server::add_file("dir with space/z.txt", "z")});
    auto first = s.get("/api/" + R + "/tree/main/dir%20with%20space?limit=2");
    BOOST_TEST_REQUIRE(first.status == 200u, first.body);
    auto next = next_link(first);
    BOOST_TEST_REQUIRE(next.has_value());
    auto second = http_request("GET", *next);
    BOOST_TEST_REQUIRE(second.status == 200u, second.body);
    auto page = parse_json(second);
    BOOST_TEST_REQUIRE(page.as_array().size() == 1u);
    BOOST_TEST(jstr(page.as_array()[0], "path") == "dir with space/z.txt");
}

BOOST_FIXTURE_TEST_CASE(empty_file, repo_fixture) {
    must_commit(s, R, "main", {test_server::add_file("empty.txt", "")});
    auto r = s.get("/alice/r/resolve/main/empty.txt");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body.empty());
    BOOST_TEST(r.header("content-length") == "0");
    BOOST_TEST(r.header("etag") == "\"e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\"");  // git's empty blob
    // JS probes sizes with "bytes=0-0" and reads the total from Content-Range.
    r = s.send("GET", "/alice/r/resolve/main/empty.txt", {}, {}, {{"Range", "bytes=0-0"}});
    BOOST_TEST(r.body.empty());
    BOOST_TEST(r.header("content-range") == "bytes */0");
}

BOOST_FIXTURE_TEST_CASE(raw_serves_the_pointer, repo_fixture) {
    auto r = s.get("/alice/r/raw/main/weights.bin");
    BOOST_TEST(r.status == 200u);
    BOOST_TEST(r.body == lfs_pointer_text(lfs_sha, lfs_data.size()));
    BOOST_TEST(r.header("etag") == "\"" + git_blob_id(r.body) + "\"");
}

BOOST_AUTO_TEST_SUITE_END()
