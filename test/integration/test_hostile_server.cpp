// The client against a server that misbehaves on purpose: every case must end in a typed
// error (or correct bytes) within a bound, with nothing written outside the cache or local_dir
// and no wrong bytes kept as a good file. Here: names in listings, and redirects.
#include "hostile_fixture.hpp"

using namespace hostile_fixtures;

BOOST_AUTO_TEST_SUITE(hostile_server)

BOOST_FIXTURE_TEST_CASE(well_behaved_server_downloads, hostile_fixture) {
    // The baseline the other cases bend: the fallback Hub serves correct files.
    hostile srv([&](const hostile_request& r, hostile_conn& c) {
        if (!behave(r, c)) c.send(http_answer(404, {}, "?"));
    });
    client cl(ioc.get_executor(), make_config(srv.url()));
    auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_TEST(!o.hung);
    BOOST_TEST(*util::read_file(cache / "models--alice--m" / "snapshots" / commit_id / "weights.bin") ==
               files["weights.bin"].content);
    auto l = attempt(co_hf_hub_download(cl, "alice/m", "config.json", dl_opts(true)));
    BOOST_TEST(!l.code);
    BOOST_TEST(*util::read_file(local / "config.json") == files["config.json"].content);
    check_disk();
}

// ---- names in listings ----------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(listing_names_that_escape_are_refused, hostile_fixture) {
    const std::vector<std::string> names{"../evil.txt",
                                         "../../evil.txt",
                                         "sub/../../../evil.txt",
                                         (canary / "abs.txt").string(),
                                         "/evil.txt",
                                         "..\\..\\evil.txt",
                                         "sub\\evil.txt",
                                         std::string("evil\0.txt", 9),
                                         "sub//evil.txt",
                                         "./evil.txt",
                                         ".git/config",
                                         ""};
    for (bool to_local : {false, true}) {
        for (auto& bad : names) {
            BOOST_TEST_CONTEXT("name '" << bad << "', local_dir " << to_local) {
                auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                    if (r.path().starts_with("/api/models/alice/m/tree/")) {
                        json::array arr{json::object{{"type", "file"}, {"path", bad}, {"size", 4},
                                                     {"oid", util::git_blob_sha1("EVIL")}}};
                        return c.send(http_answer(200, {}, json::serialize(arr)));
                    }
                    if (r.path().starts_with("/alice/m/resolve/")) {  // whatever is asked: the bad bytes
                        header_list h{{"X-Repo-Commit", commit_id}, {"ETag", "\"" + util::git_blob_sha1("EVIL") + "\""}};
                        if (r.method == "HEAD") h.emplace_back("Content-Length", "4");
                        return c.send(http_answer(200, h, r.method == "HEAD" ? "" : "EVIL"));
                    }
                    return false;
                });
                client cl(ioc.get_executor(), make_config(srv->url()));
                auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts(to_local)));
                CHECK_FAILS_WITH(o, client_errc::invalid_path, 3s);
                BOOST_TEST(srv->count("GET", "/alice/m/resolve/") == 0u);
                check_disk();
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(listing_etags_that_are_not_hashes_are_refused, hostile_fixture) {
    // The etag names the blob file and says how to verify it: only a real hash will do.
    const std::vector<std::string> etags{"../../../canary/evil", "/evil", "..", "not-a-hash",
                                         std::string(64, 'z'), ""};
    for (auto& bad : etags) {
        BOOST_TEST_CONTEXT("lfs oid '" << bad << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.path().starts_with("/api/models/alice/m/tree/")) {
                    json::array arr{json::object{{"type", "file"}, {"path", "w.bin"}, {"size", 4},
                                                 {"oid", util::git_blob_sha1("EVIL")},
                                                 {"lfs", json::object{{"oid", bad}, {"size", 4}}}}};
                    return c.send(http_answer(200, {}, json::serialize(arr)));
                }
                if (is_resolve(r, "w.bin")) return c.send(http_answer(200, {}, "EVIL"));
                return false;
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
            BOOST_TEST_INFO(o);
            BOOST_TEST(!o.hung);
            BOOST_TEST(!o.untyped);
            BOOST_TEST((o.code == make_error_code(client_errc::protocol_error) ||
                        o.code == make_error_code(client_errc::invalid_path)));
            BOOST_TEST(!fs::exists(repo_dir() / "snapshots" / commit_id / "w.bin"));
            check_disk();
        }
    }
}

BOOST_FIXTURE_TEST_CASE(probe_etags_that_escape_are_refused, hostile_fixture) {
    for (const std::string& bad : std::vector<std::string>{"../../canary/evil", "..", "a/b", "a\\b", std::string(300, 'a')}) {
        for (bool to_local : {false, true}) {
            BOOST_TEST_CONTEXT("etag '" << bad.substr(0, 40) << "', local_dir " << to_local) {
                auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                    if (!is_resolve(r, "config.json")) return false;
                    header_list h{{"X-Repo-Commit", commit_id}, {"ETag", "\"" + bad + "\""}};
                    if (r.method == "HEAD") h.emplace_back("Content-Length", "4");
                    return c.send(http_answer(200, h, r.method == "HEAD" ? "" : "EVIL"));
                });
                client cl(ioc.get_executor(), make_config(srv->url()));
                auto o = attempt(co_hf_hub_download(cl, "alice/m", "config.json", dl_opts(to_local)));
                CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
                BOOST_TEST(srv->count("GET") == 0u);
                check_disk();
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(repo_info_sha_that_is_no_commit_is_refused, hostile_fixture) {
    // The sha names the snapshot folder.
    for (const std::string& bad : std::vector<std::string>{"../../canary", "..", "/tmp", "main", std::string(40, 'G')}) {
        BOOST_TEST_CONTEXT("sha '" << bad << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/models/alice/m/revision/")) return false;
                return c.send(http_answer(200, {}, json::serialize(json::object{{"id", "alice/m"}, {"sha", bad}})));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            check_disk();
        }
    }
}

// ---- redirects ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(redirect_loops_end_typed, hostile_fixture) {
    {
        // The metadata probe follows relative redirects only; a loop of them still ends.
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method != "HEAD") return false;
            return c.send(http_answer(302, {{"Location", r.target}, {"Content-Length", "0"}}));
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::too_many_redirects, 3s);
        BOOST_TEST(srv->count("HEAD") <= 6u);
    }
    {
        // The download follows absolute redirects: two storage URLs pointing at each other.
        hostile* self = nullptr;
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method == "HEAD" && is_resolve(r, "weights.bin")) {
                auto h = file_headers(files["weights.bin"]);
                h.emplace_back("Location", self->url() + "/cdn/a");
                h.emplace_back("Content-Length", "0");
                return c.send(http_answer(302, h));
            }
            if (r.path() == "/cdn/a") return c.send(http_answer(307, {{"Location", self->url() + "/cdn/b"}}));
            if (r.path() == "/cdn/b") return c.send(http_answer(301, {{"Location", "/cdn/a"}}));
            return false;
        });
        self = srv.get();
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::too_many_redirects, 3s);
        BOOST_TEST(srv->count("GET", "/cdn/") <= 6u);
    }
    check_disk();
}

BOOST_FIXTURE_TEST_CASE(redirects_to_other_schemes_fail_typed, hostile_fixture) {
    const std::vector<std::string> targets{"file:///etc/passwd", "ftp://127.0.0.1/weights.bin",
                                           "gopher://127.0.0.1:70/x", "javascript:alert(1)",
                                           "data:text/plain,EVIL", "http://", "http://:0/x"};
    for (auto& target : targets) {
        for (bool from_probe : {true, false}) {
            BOOST_TEST_CONTEXT("Location '" << target << "' from the " << (from_probe ? "probe" : "download")) {
                auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                    if (!is_resolve(r, "weights.bin")) return false;
                    if (from_probe != (r.method == "HEAD")) return false;
                    auto h = file_headers(files["weights.bin"]);
                    h.emplace_back("Location", target);
                    h.emplace_back("Content-Length", "0");
                    return c.send(http_answer(302, h));
                });
                client cl(ioc.get_executor(), make_config(srv->url()));
                auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
                CHECK_FAILS_WITH(o, client_errc::invalid_url, 3s);
                check_disk();
            }
        }
    }
}

BOOST_FIXTURE_TEST_CASE(token_never_reaches_another_origin, hostile_fixture) {
    // B is another origin (another port): it serves the bytes, and redirects back to A once.
    hostile* a_ptr = nullptr;
    hostile b([&](const hostile_request& r, hostile_conn& c) {
        if (r.path() == "/bounce") {
            c.send(http_answer(302, {{"Location", a_ptr->url() + "/store/weights.bin"}}));
            return;
        }
        c.send(http_answer(200, {}, files["weights.bin"].content));
    });
    bool probe_redirects = true;
    auto a = serve([&](const hostile_request& r, hostile_conn& c) {
        if (r.path() == "/store/weights.bin") return c.send(http_answer(200, {}, files["weights.bin"].content)), true;
        if (!is_resolve(r, "weights.bin")) return false;
        if (r.method == "HEAD" && !probe_redirects) return false;
        auto h = file_headers(files["weights.bin"]);
        h.emplace_back("Location", b.url() + (probe_redirects ? "/weights.bin" : "/bounce"));
        h.emplace_back("Content-Length", "0");
        return c.send(http_answer(302, h));
    });
    a_ptr = a.get();
    client cl(ioc.get_executor(), make_config(a->url()));

    // The probe's absolute Location is where the bytes are: fetched without the token.
    auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
    BOOST_TEST_INFO(o);
    BOOST_TEST(!o.code);
    BOOST_TEST(with_token(*a) >= 1u);  // the Hub itself did get it
    BOOST_TEST(b.count("GET") == 1u);
    BOOST_TEST(with_token(b) == 0u);

    // The GET itself redirected off-origin, and back: neither hop carries the token.
    probe_redirects = false;
    auto before = with_token(*a);
    auto o2 = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", [&] {
        auto d = dl_opts(true);
        return d;
    }()));
    BOOST_TEST_INFO(o2);
    BOOST_TEST(!o2.code);
    BOOST_TEST(b.count("GET", "/bounce") == 1u);
    BOOST_TEST(with_token(b) == 0u);
    BOOST_TEST(a->count("GET", "/store/") == 1u);
    BOOST_TEST(with_token(*a) == before + 2);  // the HEAD and the first GET; not the hop back
    BOOST_TEST(*util::read_file(local / "weights.bin") == files["weights.bin"].content);
    check_disk();
}

BOOST_AUTO_TEST_SUITE_END()
