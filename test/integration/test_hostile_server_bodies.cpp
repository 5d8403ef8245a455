// The hostile server's heads and bodies: huge or broken heads, endless or lying bodies, bytes
// that don't match the etag, and a slow drip.
#include "hostile_fixture.hpp"

using namespace hostile_fixtures;

BOOST_AUTO_TEST_SUITE(hostile_server)

// ---- heads and bodies -----------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(huge_headers_fail_typed, hostile_fixture) {
    const std::vector<std::string> kinds{"many", "one_long", "endless"};
    for (auto& kind : kinds) {
        BOOST_TEST_CONTEXT("headers: " << kind) {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/")) return false;
                c.close();
                if (!c.send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")) return true;
                if (kind == "many") {
                    std::string h;
                    for (int i = 0; i < 20000; ++i) h += "X-H" + std::to_string(i) + ": v\r\n";
                    c.send(h + "Content-Length: 2\r\n\r\n{}");
                } else if (kind == "one_long") {
                    c.send("X-Long: " + std::string(1 << 20, 'a') + "\r\nContent-Length: 2\r\n\r\n{}");
                } else {
                    c.endless("X-More: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 64ull << 20);
                }
                return true;
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_repo_info(cl, "alice/m"));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 4s);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(broken_heads_fail_typed, hostile_fixture) {
    const std::vector<std::string> heads{
        "garbage\r\n\r\n",
        "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/9.9 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} ",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n",
        "HTTP/1.1 200 OK\r\nBad Header Name: x\r\nContent-Length: 2\r\n\r\n{}",
        std::string("HTTP/1.1 200 OK\r\nX-Nul: a\0b\r\nContent-Length: 2\r\n\r\n{}", 52),
    };
    for (auto& head : heads) {
        BOOST_TEST_CONTEXT("answer '" << head.substr(0, 60) << "'") {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/")) return false;
                c.close();
                return c.send(head);
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_repo_info(cl, "alice/m"));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
        }
    }
}

BOOST_FIXTURE_TEST_CASE(endless_bodies_fail_typed, hostile_fixture) {
    const std::string filler(64 * 1024, ' ');
    // Metadata: a JSON answer that never ends, with no length, then chunked.
    for (bool chunked : {false, true}) {
        BOOST_TEST_CONTEXT("metadata, chunked " << chunked) {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (!r.path().starts_with("/api/")) return false;
                c.close();
                if (!chunked) {
                    c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n[");
                    c.endless(filler);
                } else {
                    c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                    c.endless("10000\r\n" + filler + "\r\n");
                }
                return true;
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_repo_info(cl, "alice/m"));
            CHECK_FAILS_WITH(o, client_errc::body_too_large, 8s);
        }
    }
    // Downloads: more bytes than the Hub announced, whatever the response says about its length.
    for (const std::string& framing : std::vector<std::string>{"close", "chunked", "huge_length"}) {
        for (bool to_local : {false, true}) {
            BOOST_TEST_CONTEXT("download, " << framing << ", local_dir " << to_local) {
                // A partial left complete by an earlier round would rightly finish the file.
                fs::remove_all(cache);
                fs::remove_all(local);
                auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                    if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
                    c.close();
                    const std::string& good = files["weights.bin"].content;
                    if (framing == "close") {
                        c.send("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + good);
                        c.endless(filler);
                    } else if (framing == "chunked") {
                        c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                        c.endless("10000\r\n" + filler + "\r\n");
                    } else {
                        c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n" + good);
                        c.endless(filler);
                    }
                    return true;
                });
                client cl(ioc.get_executor(), make_config(srv->url()));
                auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts(to_local)));
                CHECK_FAILS_WITH(o, client_errc::protocol_error, 4s);
                BOOST_TEST(!fs::exists(blob("weights.bin")));
                check_disk();
            }
        }
    }
    // An error answer whose body never ends.
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (!r.path().starts_with("/api/")) return false;
            c.close();
            c.send("HTTP/1.1 404 Not Found\r\nX-Error-Code: RepoNotFound\r\nConnection: close\r\n\r\n");
            c.endless(filler);
            return true;
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_repo_info(cl, "alice/m"));
        BOOST_TEST_INFO(o);
        BOOST_TEST(!o.hung);
        BOOST_TEST(!o.untyped);
        BOOST_TEST((o.code.category() == client_category()));
        BOOST_TEST(o.elapsed < 4s);
    }
}

BOOST_FIXTURE_TEST_CASE(content_length_that_lies_fails_typed, hostile_fixture) {
    const std::string& good = files["weights.bin"].content;
    // Longer than the body, then the connection closes: a cut-off body, retried, then typed.
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
            c.close();
            return c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(good.size() + 1000) + "\r\n\r\n" +
                          good.substr(0, good.size() - 10));
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::connection_failed, 4s);
        BOOST_TEST(!fs::exists(blob("weights.bin")));
        check_disk();
    }
    // Shorter than the file: the download says it came short.
    for (bool to_local : {false, true}) {
        BOOST_TEST_CONTEXT("short, local_dir " << to_local) {
            fs::remove_all(cache);
            fs::remove_all(local);
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
                return c.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + good);
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts(to_local)));
            CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
            BOOST_TEST(!fs::exists(blob("weights.bin")));
            BOOST_TEST(!fs::exists(local / "weights.bin"));
            check_disk();
        }
    }
}

BOOST_FIXTURE_TEST_CASE(sizes_no_file_can_have_fail_typed, hostile_fixture) {
    const std::string huge = "9999999999999999999";  // fits 64 bits unsigned, not a file offset
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method != "HEAD" || !is_resolve(r, "weights.bin")) return false;
            auto h = file_headers(files["weights.bin"]);
            h.erase(std::remove_if(h.begin(), h.end(), [](auto& kv) { return kv.first == "X-Linked-Size"; }), h.end());
            h.emplace_back("X-Linked-Size", huge);
            h.emplace_back("Content-Length", "0");
            return c.send(http_answer(200, h));
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
        BOOST_TEST(srv->count("GET") == 0u);
        check_disk();
    }
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (!r.path().starts_with("/api/models/alice/m/tree/")) return false;
            const std::string& w = files["weights.bin"].content;
            return c.send(http_answer(200, {}, "[{\"type\":\"file\",\"path\":\"weights.bin\",\"size\":" + huge +
                                                   ",\"oid\":\"" + util::git_blob_sha1(w) + "\",\"lfs\":{\"oid\":\"" +
                                                   util::sha256_hex(w) + "\",\"size\":" + huge + "}}]"));
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_snapshot_download(cl, "alice/m", snap_opts()));
        CHECK_FAILS_WITH(o, client_errc::protocol_error, 3s);
        BOOST_TEST(srv->count("GET", "/alice/m/resolve/") == 0u);
        check_disk();
    }
}

BOOST_FIXTURE_TEST_CASE(bytes_past_content_length_are_not_the_next_answer, hostile_fixture) {
    // The first answer carries a second, forged answer behind its Content-Length; a client that
    // kept the connection would read the forgery as the answer to its next request.
    const std::string forged_sha(40, 'f');
    std::atomic<int> calls{0};
    auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
        if (!r.path().starts_with("/api/models/alice/m/revision/")) return false;
        if (calls++ > 0) return false;
        std::string forged = json::serialize(json::object{{"id", "alice/m"}, {"sha", forged_sha}});
        return c.send(http_answer(200, {}, info_json()) + http_answer(200, {}, forged));
    });
    client cl(ioc.get_executor(), make_config(srv->url()));
    auto first = attempt(co_repo_info(cl, "alice/m"));
    BOOST_TEST(!first.code);
    std::string sha;
    auto second = attempt([&]() -> asio::awaitable<void> {
        repo_query q;
        std::string id = "alice/m";
        auto m = co_await co_repo_info(cl, id, q);
        sha = m.sha;
    }());
    BOOST_TEST_INFO(second);
    BOOST_TEST(!second.code);
    BOOST_TEST(sha == commit_id);
    BOOST_TEST(srv->count("GET", "/api/") == 2u);
}

// ---- bytes against the etag -----------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(bytes_that_do_not_match_the_etag_are_never_kept, hostile_fixture) {
    auto wrong = [](const std::string& s) {
        std::string w = s;
        w[w.size() / 2] ^= 0x55;
        return w;
    };
    struct variant {
        std::string file;
        bool to_local;
        bool parallel;
        bool snapshot;
    };
    const std::vector<variant> variants{{"weights.bin", false, false, false}, {"weights.bin", true, false, false},
                                        {"config.json", false, false, false}, {"config.json", true, false, true},
                                        {"weights.bin", false, true, false},  {"weights.bin", false, false, true}};
    for (auto& v : variants) {
        BOOST_TEST_CONTEXT(v.file << ", local_dir " << v.to_local << ", parallel " << v.parallel << ", snapshot "
                                  << v.snapshot) {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.method != "GET" || !is_resolve(r, v.file)) return false;
                std::string body = wrong(files[v.file].content);
                if (auto range = r.header("Range")) {
                    // "bytes=a-b"
                    auto a = std::stoull(range->substr(6));
                    auto b = std::stoull(range->substr(range->find('-') + 1));
                    return c.send(http_answer(206,
                                              {{"Content-Range", "bytes " + std::to_string(a) + "-" +
                                                                     std::to_string(b) + "/" + std::to_string(body.size())}},
                                              body.substr(a, b - a + 1)));
                }
                return c.send(http_answer(200, {}, body));
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            outcome o;
            if (v.snapshot) {
                auto so = snap_opts(v.to_local);
                so.allow_patterns = {v.file};
                o = attempt(co_snapshot_download(cl, "alice/m", so));
            } else {
                auto d = dl_opts(v.to_local);
                if (v.parallel) {
                    d.parallel_threshold = 1024;
                    d.chunk_size = 8192;
                }
                o = attempt(co_hf_hub_download(cl, "alice/m", v.file, d));
            }
            CHECK_FAILS_WITH(o, client_errc::checksum_mismatch, 3s);
            BOOST_TEST(!fs::exists(blob(v.file)));
            BOOST_TEST(!fs::exists(repo_dir() / "snapshots" / commit_id / v.file));
            BOOST_TEST(!fs::exists(local / v.file));
            for (auto& rel : listing(tmp.path()))
                BOOST_TEST(!rel.ends_with(".incomplete"), "a partial of wrong bytes was kept: " << rel);
            check_disk();
        }
    }
}

// ---- slow drip ------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(slow_drip_ends_in_bounded_time, hostile_fixture) {
    // A head that never ends, one byte at a time.
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (r.method != "HEAD") return false;
            c.close();
            std::string head = "HTTP/1.1 200 OK\r\n";
            while (c.drip(head, 20ms)) head = "X-Pad: aaaaaaaa\r\n";
            return true;
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts()));
        CHECK_FAILS_WITH(o, client_errc::timeout, 5s);
        check_disk();
    }
    // A body that trickles: it never stops being "active", but it never gets anywhere.
    for (bool to_local : {false, true}) {
        BOOST_TEST_CONTEXT("download body, local_dir " << to_local) {
            auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
                if (r.method != "GET" || !is_resolve(r, "weights.bin")) return false;
                c.close();
                const std::string& good = files["weights.bin"].content;
                if (c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(good.size()) + "\r\n\r\n"))
                    c.drip(good, 20ms);
                return true;
            });
            client cl(ioc.get_executor(), make_config(srv->url()));
            auto o = attempt(co_hf_hub_download(cl, "alice/m", "weights.bin", dl_opts(to_local)));
            CHECK_FAILS_WITH(o, client_errc::timeout, 6s);
            BOOST_TEST(!fs::exists(blob("weights.bin")));
            check_disk();
        }
    }
    // A metadata answer that trickles forever.
    {
        auto srv = serve([&](const hostile_request& r, hostile_conn& c) {
            if (!r.path().starts_with("/api/")) return false;
            c.close();
            if (c.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
                while (c.drip("1\r\n \r\n", 5ms)) {
                }
            return true;
        });
        client cl(ioc.get_executor(), make_config(srv->url()));
        auto o = attempt(co_repo_info(cl, "alice/m"));
        CHECK_FAILS_WITH(o, client_errc::timeout, 6s);
    }
}

BOOST_AUTO_TEST_SUITE_END()
