// The hostile server's JSON, ranges and LFS batch answers.
#include "hostile_fixture.hpp"

using namespace hostile_fixtures;

// ---- LFS batch ------------------------------------------------------------------------------

namespace {

// A Hub for uploads to alice/m: preupload says "lfs" for everything, the batch answer is the
// test's, PUTs and the commit succeed (and are counted).
struct upload_hub {
    std::function<std::string(const json::array& asked)> batch;
    std::string storage;  // the origin upload hrefs point at; empty: this server

    bool operator()(const hostile_request& r, hostile_conn& c) const {
        auto p = r.path();
        if (p == "/api/models/alice/m/preupload/main") {
            json::array files;
            json::value asked = json::parse(r.body);
            for (auto& f : asked.at("files").as_array())
                files.push_back(json::object{{"path", f.at("path")}, {"uploadMode", "lfs"}, {"shouldIgnore", false}});
            return c.send(http_answer(200, {}, json::serialize(json::object{{"files", files}, {"commitOid", commit_id}})));
        }
        if (p == "/alice/m.git/info/lfs/objects/batch")
            return c.send(http_answer(200, {{"Content-Type", "application/vnd.git-lfs+json"}},
                                      batch(json::parse(r.body).at("objects").as_array())));
        if (r.method == "PUT") return c.send(http_answer(200, {}, "")), true;
        if (p == "/api/models/alice/m/commit/main")
            return c.send(http_answer(200, {}, json::serialize(json::object{{"commitOid", std::string(40, 'c')},
                                                                            {"commitUrl", "x"}}))),
                   true;
        return false;
    }
};

std::string upload_action(const std::string& oid, std::uint64_t size, const std::string& href) {
    json::object o{{"oid", oid}, {"size", size}};
    o["actions"] = json::object{{"upload", json::object{{"href", href}}}};
    return json::serialize(json::object{{"objects", json::array{o}}});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hostile_server)

// ---- JSON -----------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(invalid_json_fails_typed, hostile_fixture) {
    const std::vector<std::string> infos{
        "{not json", "", "[]", "null", "{\"id\":\"alice/m\"}", "{\"id\":\"alice/m\",\"sha\":5}",
        "{\"id\":\"alice/m\",\"sha\":\"" + commit_id + "\"} trailing", std::string(100000, '[') + std::string(100000, ']'),
        "{\"id\":\"\xff\xfe\",\"sha\":\"" + commit_id + "\"}", "{\"id\":\"alice/m\",\"sha\":\"" + commit_id + "\",\"private\":\"yes\"}",
        "{\"id\":\"alice/m\",\"sha\":\"" + commit_id + "\",\"siblings\":[{\"rfilename\":7}]}"};
    for (auto& body : infos) {
        BOOST_TEST_CONTEXT("repo info '" << body.substr(0, 50) << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/models/alice/m/revision/")) return false;
                return c.send(http_answer(200, {{"Content-Type", "application/json"}}, body));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_repo_info(cl, "alice/m"));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            auto s = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
            CHECK_FAILS_WITH(s, client_errc::protocol_error, 3s);
            check_disk();
        }
    }
    const std::vector<std::string> trees{
        "{}", "[{\"type\":\"file\"}]", "[{\"type\":\"file\",\"path\":\"a\",\"size\":-1,\"oid\":\"x\"}]",
        "[{\"type\":\"file\",\"path\":\"a\",\"size\":\"12\",\"oid\":\"x\"}]",
        "[{\"type\":\"file\",\"path\":\"a\",\"size\":1.5,\"oid\":\"x\"}]",
        "[{\"type\":\"file\",\"path\":\"a\",\"size\":1,\"oid\":\"x\",\"lfs\":[]}]", "[1,2,3]", "[{\"type\":\"file\",",
    };
    for (auto& body : trees) {
        BOOST_TEST_CONTEXT("tree '" << body.substr(0, 60) << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/models/alice/m/tree/")) return false;
                return c.send(http_answer(200, {{"Content-Type", "application/json"}}, body));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            tree_query q;
            q.recursive = true;
            auto o = attempt(co_list_repo_tree(cl, "alice/m", q));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            auto s = attempt(co_snapshot_download(cl, "alice/m", snap_opts(true)));
            CHECK_FAILS_WITH(s, client_errc::protocol_error, 3s);
            check_disk();
        }
    }
}

// ---- ranges ---------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(full_answer_to_a_range_request_restarts_cleanly, hostile_fixture) {
    const std::string& good = files["weights.bin"].content;
    for (bool partial_was_right : {true, false}) {
        BOOST_TEST_CONTEXT("the partial held " << (partial_was_right ? "the right" : "wrong") << " bytes") {
            // A previous run left half the file; the server ignores Range and sends it all.
            fs::create_directories(repo_dir() / "blobs");
            fs::path partial = blob("weights.bin");
            partial += ".incomplete";
            std::string half = good.substr(0, good.size() / 2);
            if (!partial_was_right) half = std::string(half.size(), 'x');
            util::write_file_atomic(partial, half);
            auto srv = serve({});
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
            BOOST_TEST_INFO(o);
            BOOST_TEST(!o.code);
            BOOST_TEST(srv->requests().back().header("Range").value_or("") ==
                       "bytes=" + std::to_string(half.size()) + "-");
            BOOST_TEST(*util::read_file(blob("weights.bin")) == good);
            check_disk();
            fs::remove_all(cache);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(partial_answers_that_lie_fail_typed, hostile_fixture) {
    const std::string& good = files["weights.bin"].content;
    const std::size_t half = good.size() / 2;
    const std::vector<std::string> ranges{"bytes abc-def/ghi", "bytes 99999999999999999999999-1/2", "items 0-1/2",
                                          "bytes -5/40000", "", "bytes 5-10/40000"};
    for (auto& cr : ranges) {
        BOOST_TEST_CONTEXT("Content-Range '" << cr << "'") {
            fs::create_directories(repo_dir() / "blobs");
            fs::path partial = blob("weights.bin");
            partial += ".incomplete";
            util::write_file_atomic(partial, good.substr(0, half));
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
                header_list h;
                if (!cr.empty()) h.emplace_back("Content-Range", cr);
                return c.send(http_answer(206, h, good.substr(half)));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            BOOST_TEST(!fs::exists(blob("weights.bin")));
            // What stays for the next run is still a prefix of the file.
            if (fs::exists(partial)) BOOST_TEST(good.starts_with(*util::read_file(partial)));
            check_disk();
            fs::remove_all(cache);
        }
    }
    // Parallel parts answered with the whole file (a server or proxy without ranges): the
    // download falls back to one stream of the whole file, and the bytes still verify.
    auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
        if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
        return c.send(http_answer(200, {}, good));
    });
    client cl(ioc.get_executor(), make_config(srv->url()));
    auto d = dl_opts();
    d.parallel_threshold = 1024;
    d.chunk_size = 8192;
    auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", d));
    BOOST_TEST_INFO(o);
    BOOST_TEST_REQUIRE(!o.code);
    BOOST_TEST(util::read_file(blob("weights.bin")).value_or("") == good);
    bool ranged = false, whole = false;
    for (auto& r : srv->requests())
        if (r.method == "GET" && is_resolve(r, "weights.bin")) (r.header("Range") ? ranged : whole) = true;
    BOOST_TEST(ranged);  // parts were asked for first
    BOOST_TEST(whole);   // then the whole file, once
    check_disk();
    fs::remove_all(cache);

    // The same server lying with a 200 of other bytes: the fallback's hash still catches it.
    auto liar = serve([&](const hostile_request& r, hostile_conn& c) {
        if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
        std::string w = good;
        w[w.size() / 3] ^= 0x21;
        return c.send(http_answer(200, {}, w));
    });
    client cl2(ioc.get_executor(), make_config(liar->url()));
    auto o2 = attempt(co_hf_hub_download(cl2, "alice/m", "weights.bin", d));
    CHECK_FAILS_WITH(o2, client_errc::checksum_mismatch, 3s);
    BOOST_TEST(!fs::exists(blob("weights.bin")));
    check_disk();
}

BOOST_FIXTURE_TEST_CASE(resume_answered_at_another_offset_restarts, hostile_fixture) {
    // The first answer breaks off after 5 bytes; the resume is answered from byte 50, whose
    // Content-Range begins with the digits of 5. The client must restart, not splice.
    std::string body = random_bytes(100, 9);
    std::atomic<int> full{0};
    auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
        if (r.path() != "/blob") return false;
        if (r.header("Range")) {
            c.send(http_answer(206, {{"Content-Range", "bytes 50-99/100"}}, body.substr(50)));
            return true;
        }
        if (full++ == 0) {
            c.close();
            c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + body.substr(0, 5));
            return true;
        }
        return c.send(http_answer(200, {}, body));
    });
    client cl(ioc.get_executor(), make_config(srv->url()));
    std::string got;
    http_request req;
    req.url = srv->url() + "/blob";
    auto o = attempt(cl.co_stream(req, test::string_sink(got)));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_TEST(!o.hung);
    BOOST_TEST((got == body));
    BOOST_TEST(srv->count("GET", "/blob") >= 3u);
}

BOOST_FIXTURE_TEST_CASE(lfs_batch_answers_naming_other_objects_fail_typed, hostile_fixture) {
    const std::string a = random_bytes(3000, 1), b = random_bytes(3000, 2);
    auto ops = [&] {
        return std::vector<commit_operation>{commit_add::bytes("a.bin", a), commit_add::bytes("b.bin", b)};
    };
    commit_options co;
    co.commit_message = "hostile";
    struct script {
        std::string name;
        std::function<std::string(const json::array&, const std::string& self)> answer;
        std::error_code expect;
    };
    auto obj = [](const std::string& oid, std::uint64_t size, const std::string& href) {
        json::object o{{"oid", oid}, {"size", size}};
        o["actions"] = json::object{{"upload", json::object{{"href", href}}}};
        return o;
    };
    const std::vector<script> scripts{
        {"another object",
         [&](const json::array& asked, const std::string& self) {
             json::array out{obj(std::string(64, 'e'), 3000, self + "/put/e")};
             for (std::size_t i = 1; i < asked.size(); ++i)
                 out.push_back(obj(std::string(asked[i].at("oid").as_string()), 3000, self + "/put/x"));
             return json::serialize(json::object{{"objects", out}});
         },
         make_error_code(client_errc::protocol_error)},
        {"the same object twice, the other left out",
         [&](const json::array& asked, const std::string& self) {
             std::string first(asked[0].at("oid").as_string());
             return json::serialize(json::object{
                 {"objects", json::array{obj(first, 3000, self + "/put/1"), obj(first, 3000, self + "/put/2")}}});
         },
         make_error_code(client_errc::protocol_error)},
        {"an oid that is a path",
         [&](const json::array&, const std::string& self) {
             return upload_action("../../../canary/evil", 3000, self + "/put/e");
         },
         make_error_code(client_errc::protocol_error)},
        {"not JSON",
         [&](const json::array&, const std::string&) { return std::string("{\"objects\": [ {\"oid\": "); },
         make_error_code(client_errc::protocol_error)},
        {"an upload href to a file: URL",
         [&](const json::array& asked, const std::string&) {
             json::array out;
             for (auto& x : asked) out.push_back(obj(std::string(x.at("oid").as_string()), 3000, "file:///etc/passwd"));
             return json::serialize(json::object{{"objects", out}});
         },
         make_error_code(client_errc::invalid_url)},
        {"an error for one object",
         [&](const json::array& asked, const std::string&) {
             json::array out;
             for (auto& x : asked)
                 out.push_back(json::object{{"oid", x.at("oid")},
                                            {"size", 3000},
                                            {"error", json::object{{"code", 422}, {"message", "no"}}}});
             return json::serialize(json::object{{"objects", out}});
         },
         make_error_code(hub_errc::unprocessable)},
    };
    for (auto& s : scripts) {
        BOOST_TEST_CONTEXT("batch answer: " << s.name) {
            std::string self;
            upload_hub hub;
            hub.batch = [&](const json::array& asked) { return s.answer(asked, self); };
            auto srv = serve(hub);
            self = srv->url();
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_create_commit(cl, "alice/m", ops(), co));
            BOOST_TEST_INFO(o);
            BOOST_TEST(!o.hung);
            BOOST_TEST(!o.untyped);
            BOOST_TEST(o.code == s.expect);
            BOOST_TEST(o.elapsed < 3s);
            BOOST_TEST(srv->count("PUT") == 0u);  // nothing sent before the whole answer was checked
            BOOST_TEST(srv->count("POST", "/api/models/alice/m/commit/") == 0u);
            check_disk();
        }
    }
}

BOOST_FIXTURE_TEST_CASE(lfs_upload_to_another_origin_gets_no_token, hostile_fixture) {
    const std::string content = random_bytes(3000, 3);
    hostile storage([&](const hostile_request&, hostile_conn& c) { c.send(http_answer(200, {}, "")); });
    upload_hub hub;
    hub.batch = [&](const json::array& asked) {
        return upload_action(std::string(asked[0].at("oid").as_string()), 3000, storage.url() + "/put/object");
    };
    auto srv = serve(hub);
    client cl(ioc.get_executor(), make_config(srv->url()));
    commit_options co;
    auto o = attempt(co_upload_file(cl, "alice/m", commit_add::bytes("w.bin", content), co));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_TEST(storage.count("PUT") == 1u);
    BOOST_TEST(storage.requests().at(0).body == content);
    BOOST_TEST(with_token(storage) == 0u);
    BOOST_TEST(with_token(*srv) >= 2u);  // preupload, batch and commit went to the Hub with it
}

// The batch answer may put verify on another origin too: it gets the action's own headers,
// never the user's token, even though the client was asked to send the token to verify.
BOOST_FIXTURE_TEST_CASE(lfs_verify_on_another_origin_gets_only_the_actions_headers, hostile_fixture) {
    const std::string content = random_bytes(3000, 4);
    hostile storage([&](const hostile_request&, hostile_conn& c) { c.send(http_answer(200, {}, "")); });
    upload_hub hub;
    hub.batch = [&](const json::array& asked) {
        json::object o{{"oid", asked[0].at("oid")}, {"size", 3000}};
        o["actions"] = json::object{
            {"upload", json::object{{"href", storage.url() + "/put/object"},
                                    {"header", json::object{{"X-Upload-Signature", "up-sig"}}}}},
            {"verify", json::object{{"href", storage.url() + "/verify"},
                                    {"header", json::object{{"X-Verify-Signature", "verify-sig"}}}}}};
        return json::serialize(json::object{{"objects", json::array{o}}});
    };
    auto srv = serve(hub);
    client cl(ioc.get_executor(), make_config(srv->url()));
    commit_options co;
    co.token = token;  // an explicit token is held back off-origin too
    auto o = attempt(co_upload_file(cl, "alice/m", commit_add::bytes("w.bin", content), co));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_REQUIRE_EQUAL(storage.count("POST", "/verify"), 1u);
    BOOST_REQUIRE_EQUAL(storage.count("PUT"), 1u);
    for (auto& r : storage.requests()) {
        if (r.method == "POST") BOOST_TEST(r.header("X-Verify-Signature").value_or("") == "verify-sig");
        if (r.method == "PUT") BOOST_TEST(r.header("X-Upload-Signature").value_or("") == "up-sig");
        BOOST_TEST(!r.header("Authorization"), r.method << " " << r.target << " carried Authorization");
    }
    BOOST_TEST(with_token(storage) == 0u);
    BOOST_TEST(with_token(*srv) >= 2u);
}


BOOST_AUTO_TEST_SUITE_END()
