// The typed metadata calls (hub_api.hpp) across pages and batches, and against a canned server
// for answers the real one never gives (malformed bodies, odd Link headers).
#include "hub_api_fixture.hpp"

using namespace hub_api_fixtures;

namespace {

// Answers every request with what `respond(method, target, body)` returns (a whole HTTP/1.1
// response), one request per connection, on an ephemeral port.
class canned_server {
public:
    using responder = std::function<std::string(const std::string&, const std::string&, const std::string&)>;
    explicit canned_server(responder r) : respond_(std::move(r)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
        url_ = "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
        asio::co_spawn(ioc_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~canned_server() {
        ioc_.stop();
        thread_.join();
    }
    const std::string& url() const { return url_; }
    // "METHOD target\nbody" of each request so far.
    std::vector<std::string> requests() const {
        std::lock_guard lk(mu_);
        return requests_;
    }

    static std::string reply(const std::string& body, const std::string& extra_headers = {}, unsigned status = 200) {
        return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra_headers + "\r\n" + body;
    }

private:
    asio::awaitable<void> accept_loop() {
        while (true) {
            auto sock = co_await acceptor_.async_accept(asio::use_awaitable);
            asio::co_spawn(ioc_, serve(std::move(sock)), asio::detached);
        }
    }
    asio::awaitable<void> serve(asio::ip::tcp::socket sock) {
        try {
            std::string buf;
            std::size_t n = co_await asio::async_read_until(sock, asio::dynamic_buffer(buf), "\r\n\r\n", asio::use_awaitable);
            std::string head = buf.substr(0, n), body = buf.substr(n);
            std::string method = head.substr(0, head.find(' '));
            std::string target = head.substr(method.size() + 1, head.find(' ', method.size() + 1) - method.size() - 1);
            std::size_t length = 0;
            for (auto p = head.find("\r\n"); p != std::string::npos; p = head.find("\r\n", p + 2)) {
                std::string line = head.substr(p + 2, head.find("\r\n", p + 2) - p - 2);
                if (line.size() > 15 && ::strncasecmp(line.c_str(), "content-length:", 15) == 0)
                    length = std::stoul(line.substr(15));
            }
            if (body.size() < length)
                co_await asio::async_read(sock, asio::dynamic_buffer(body), asio::transfer_exactly(length - body.size()),
                                          asio::use_awaitable);
            {
                std::lock_guard lk(mu_);
                requests_.push_back(method + " " + target + "\n" + body);
            }
            std::string out = respond_(method, target, body);
            co_await asio::async_write(sock, asio::buffer(out), asio::use_awaitable);
            boost::system::error_code ignore;
            sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignore);
        } catch (const std::exception&) {
        }
    }

    responder respond_;
    asio::io_context ioc_;
    asio::ip::tcp::acceptor acceptor_;
    std::string url_;
    std::thread thread_;
    mutable std::mutex mu_;
    std::vector<std::string> requests_;
};


}  // namespace

BOOST_AUTO_TEST_SUITE(hub_api)

// A repo big enough that the server pages: 1000 entries a page, 100 with expand.
BOOST_AUTO_TEST_CASE(tree_and_paths_info_pagination_and_batching) {
    test_server s;
    s.create_repo("alice/big", alice_token);
    std::vector<std::string> ops;
    for (int i = 0; i < 2400; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "many/f%04d.txt", i);
        ops.push_back(test_server::add_file(name, std::to_string(i)));
    }
    for (int i = 0; i < 150; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "some/s%03d.txt", i);
        ops.push_back(test_server::add_file(name, "s"));
    }
    std::string head = must_commit(s, "models/alice/big", "main", ops, "Bulk");
    asio::io_context ioc;
    auto cfg = quick_config(s.url());
    cfg.token = alice_token;
    client c(ioc.get_executor(), cfg);

    tree_query all;
    all.recursive = true;
    auto entries = run(ioc, co_list_repo_tree(c, "alice/big", all));
    auto k = kinds(entries);
    BOOST_TEST(entries.size() == 2400u + 150u + 3u);  // + .gitattributes, many/, some/
    BOOST_TEST(std::set<std::string>(k.begin(), k.end()).size() == k.size());  // no page twice
    BOOST_TEST(must_file(entries, "many/f2399.txt").blob_id == git_blob_id("2399"));
    BOOST_TEST(find_file(entries, "some/s149.txt") != nullptr);
    auto pages = api_lines(s, "GET", "/api/models/alice/big/tree/", 3);
    BOOST_TEST(pages.size() == 3u);
    BOOST_TEST(api_lines(s, "GET", "cursor=", 2).size() == 2u);

    tree_query many;
    many.path = "many";
    BOOST_TEST(run(ioc, co_list_repo_tree(c, "alice/big", many)).size() == 2400u);

    tree_query some;
    some.path = "some";
    some.expand = true;
    auto expanded = run(ioc, co_list_repo_tree(c, "alice/big", some));
    BOOST_TEST_REQUIRE(expanded.size() == 150u);
    for (auto& e : expanded) {
        auto& f = std::get<repo_file>(e);
        BOOST_TEST_REQUIRE(f.last_commit.has_value());
        BOOST_TEST(f.last_commit->id == head);
        BOOST_TEST(f.last_commit->title == "Bulk");
    }
    BOOST_TEST(api_lines(s, "GET", "/some?", 2).size() == 2u);

    // 1200 paths: three POSTs of at most 500 (the server refuses more than 1000 at once).
    std::vector<std::string> paths;
    for (int i = 0; i < 1100; ++i) {
        char name[32];
        std::snprintf(name, sizeof name, "many/f%04d.txt", i * 2);
        paths.push_back(name);
    }
    for (int i = 0; i < 100; ++i) paths.push_back("nope/x" + std::to_string(i));
    auto info = run(ioc, co_get_paths_info(c, "alice/big", paths));
    BOOST_TEST(info.size() == 1100u);
    BOOST_TEST(std::get<repo_file>(info.front()).path == "many/f0000.txt");
    BOOST_TEST(std::get<repo_file>(info.back()).path == "many/f2198.txt");
    auto posts = api_lines(s, "POST", "/api/models/alice/big/paths-info/main", 3);
    BOOST_TEST(posts.size() == 3u);
    for (auto& p : posts) BOOST_TEST(p.at("status").to_number<int>() == 200);
}

// A Link header without a space after ';' is followed; off-origin, looping or malformed next
// links are refused rather than guessed at.
BOOST_FIXTURE_TEST_CASE(link_header_variants, hub_fixture) {
    auto faults = [&](const std::string& link, unsigned times = 1) {
        json::object rule{{"method", "GET"}, {"match", "/api/models/alice/m/tree/"}, {"times", times},
                          {"headers", json::object{{"Link", link}}}};
        auto r = s.post("/admin/faults", json::serialize(json::object{{"rules", json::array{rule}}}));
        if (r.status != 200) throw std::runtime_error("faults: " + r.body);
    };
    auto root_size = go(co_list_repo_tree(c, "alice/m")).size();  // 6 entries, one page
    BOOST_TEST_REQUIRE(root_size == 6u);

    // The next page starts at the last entry: one entry comes twice, which shows it was fetched.
    std::string cursor = hfhub::util::percent_encode(hfhub::util::base64_encode(std::to_string(root_size - 1)), false);
    faults("<" + s.url() + "/api/models/alice/m/tree/main?recursive=false&expand=false&cursor=" + cursor + ">;rel=next");
    BOOST_TEST(go(co_list_repo_tree(c, "alice/m")).size() == root_size + 1);
    faults("<" + s.url() + "/api/models/alice/m/tree/main?cursor=" + cursor + R"(>; rel="prev", </api/models/alice/m/tree/main?cursor=)" +
           cursor + R"(>; rel="next")");
    BOOST_TEST(go(co_list_repo_tree(c, "alice/m")).size() == root_size + 1);  // relative, resolved

    auto protocol = make_error_code(client_errc::protocol_error);
    faults(R"(<http://other.invalid/api/models/alice/m/tree/main?cursor=x>; rel="next")");
    auto msg = message_of([&] { go(co_list_repo_tree(c, "alice/m")); });
    BOOST_TEST(msg.find("another origin") != std::string::npos, msg);
    faults("<" + s.url() + "/api/models/alice/m/tree/main?recursive=false&expand=false>; rel=\"next\"", 0);
    msg = message_of([&] { go(co_list_repo_tree(c, "alice/m")); });
    BOOST_TEST(msg.find("loop") != std::string::npos, msg);
    faults(R"(garbage; rel="next")");
    BOOST_TEST(error_of([&] { go(co_list_repo_tree(c, "alice/m")); }) == protocol);
    faults("<ftp://x/y>; rel=\"next\"");
    BOOST_TEST(error_of([&] { go(co_list_repo_tree(c, "alice/m")); }) == protocol);
}

// Bodies the local server never sends: each is a protocol_error naming what was wrong.
BOOST_AUTO_TEST_CASE(malformed_answers_are_protocol_errors) {
    std::string deep(20000, '[');
    std::map<std::string, std::pair<std::string, std::string>> answers = {  // target prefix → (body, headers)
        {"/api/models/x/notjson/", {"<html>oops</html>", ""}},
        {"/api/models/x/truncated/", {R"({"id":"x/truncated","sha":"ab)", ""}},
        {"/api/models/x/nosha/", {R"({"id":"x/nosha"})", ""}},
        {"/api/models/x/badsha/", {R"({"id":"x/badsha","sha":5})", ""}},
        {"/api/models/x/array/", {R"([1,2])", ""}},
        {"/api/models/x/deep/", {deep, ""}},
        {"/api/models/x/sibs/", {R"({"id":"x/sibs","sha":"s","siblings":[{"rfilename":"a"},{"size":3}]})", ""}},
        {"/api/models/x/sibsize/", {R"({"id":"x","sha":"s","siblings":[{"rfilename":"a","size":-4}]})", ""}},
        {"/api/models/x/ok/", {R"({"id":"x/ok","sha":"s","gated":"manual","private":true,"extra":{"z":[1]},
            "siblings":[{"rfilename":"a","size":3.0,"blobId":"b","lfs":{"sha256":"h","size":3,"pointerSize":9}}]})",
                               ""}},
        {"/api/models/x/tree/tree/main?", {R"([{"type":"file","path":"a","oid":"o","size":1},{"type":"submodule","path":"s"},
            {"type":"directory","path":"d","oid":"t","size":0}])", "Link: </api/models/x/tree/tree/main/page2>;rel=next\r\n"}},
        {"/api/models/x/tree/tree/main/page2", {R"([{"type":"file","path":"b","oid":"o2","size":2,"lfs":{"oid":"h","size":2}}])", ""}},
        {"/api/models/x/badtree/tree/main", {R"([{"type":"file","path":"a","oid":"o"}])", ""}},
        {"/api/models/x/badpage/tree/main?", {R"([])", "Link: </api/models/x/badpage/tree/main/2>; rel=\"next\"\r\n"}},
        {"/api/models/x/badpage/tree/main/2", {R"({"not":"an array"})", ""}},
        {"/api/models/x/refs/refs", {R"({"branches":[{"name":"main","ref":"refs/heads/main"}],"tags":[]})", ""}},
        {"/api/models/x/norefs/refs", {R"({"tags":[]})", ""}},
        {"/api/models/x/commits/commits/main", {R"([{"id":"c","title":"t","date":"d","authors":[{"user":7}]}])", ""}},
        {"/api/whoami-v2", {R"({"type":"user","orgs":[]})", ""}},
    };
    canned_server fake([&](const std::string&, const std::string& target, const std::string&) {
        for (auto& [prefix, a] : answers)
            if (target.starts_with(prefix)) return canned_server::reply(a.first, a.second);
        return canned_server::reply(R"({"error":"no such canned answer"})", "X-Error-Code: RepoNotFound\r\n", 404);
    });
    asio::io_context ioc;
    client c(ioc.get_executor(), quick_config(fake.url()));
    auto info_error = [&](const std::string& id) {
        return message_of([&] { run(ioc, co_repo_info(c, "x/" + id)); });
    };
    auto is_protocol = [](const std::string& what, const std::string& mentions) {
        return what.starts_with("protocol_error") && what.find(mentions) != std::string::npos;
    };
    BOOST_TEST(is_protocol(info_error("notjson"), "malformed JSON"), info_error("notjson"));
    BOOST_TEST(is_protocol(info_error("truncated"), "malformed JSON"), info_error("truncated"));
    BOOST_TEST(is_protocol(info_error("nosha"), "'sha'"), info_error("nosha"));
    BOOST_TEST(is_protocol(info_error("badsha"), "'sha'"), info_error("badsha"));
    BOOST_TEST(is_protocol(info_error("array"), "not a JSON object"), info_error("array"));
    BOOST_TEST(is_protocol(info_error("deep"), "JSON"), info_error("deep"));
    BOOST_TEST(is_protocol(info_error("sibs"), "siblings[1].rfilename"), info_error("sibs"));
    BOOST_TEST(is_protocol(info_error("sibsize"), "siblings[0].size"), info_error("sibsize"));
    BOOST_TEST(info_error("nosha").find(fake.url() + "/api/models/x/nosha/revision/main") != std::string::npos);

    auto ok = run(ioc, co_repo_info(c, "x/ok"));
    BOOST_TEST(ok.gated == "manual");
    BOOST_TEST(ok.is_private);
    BOOST_TEST_REQUIRE(ok.siblings.size() == 1u);
    BOOST_TEST(ok.siblings[0].size == 3u);
    BOOST_TEST(ok.siblings[0].lfs.value().pointer_size == 9u);

    // Unknown entry types are skipped; the relative next link is followed.
    auto tree = run(ioc, co_list_repo_tree(c, "x/tree"));
    BOOST_TEST(kinds(tree) == (std::vector<std::string>{"f:a", "d:d", "f:b"}));
    BOOST_TEST(must_file(tree, "b").lfs.value().sha256 == "h");
    BOOST_TEST(must_file(tree, "b").etag() == "h");
    auto bad_tree = message_of([&] { run(ioc, co_list_repo_tree(c, "x/badtree")); });
    BOOST_TEST(is_protocol(bad_tree, "tree[0].size"), bad_tree);
    auto bad_page = message_of([&] { run(ioc, co_list_repo_tree(c, "x/badpage")); });
    BOOST_TEST(is_protocol(bad_page, "not a JSON array"), bad_page);
    auto refs = message_of([&] { run(ioc, co_list_repo_refs(c, "x/refs")); });
    BOOST_TEST(is_protocol(refs, "branches[0].targetCommit"), refs);
    auto norefs = message_of([&] { run(ioc, co_list_repo_refs(c, "x/norefs")); });
    BOOST_TEST(is_protocol(norefs, "'branches'"), norefs);
    auto commits = message_of([&] { run(ioc, co_list_repo_commits(c, "x/commits")); });
    BOOST_TEST(is_protocol(commits, "commits[0].authors[0].user"), commits);
    auto who = message_of([&] { run(ioc, co_whoami(c)); });
    BOOST_TEST(is_protocol(who, "'name'"), who);
    BOOST_TEST(error_of([&] { run(ioc, co_repo_info(c, "x/unknown")); }) == make_error_code(hub_errc::repo_not_found));

    // The form body of paths-info, as the Python client sends it.
    canned_server echo([](const std::string&, const std::string&, const std::string&) { return canned_server::reply("[]"); });
    client c2(ioc.get_executor(), quick_config(echo.url()));
    repo_query q;
    q.revision = "refs/pr/2";
    BOOST_TEST(run(ioc, co_get_paths_info(c2, "x/y", {"a b.txt", "dir/c&d=e.txt", "folder/"}, q, true)).empty());
    BOOST_TEST(echo.requests() == std::vector<std::string>{"POST /api/models/x/y/paths-info/refs%2Fpr%2F2\n"
                                                          "paths=a%20b.txt&paths=dir%2Fc%26d%3De.txt&paths=folder&expand=true"});
}

BOOST_AUTO_TEST_SUITE_END()
