// hfhub serve: the local Hub, until SIGINT or SIGTERM.
#include "cli/commands.hpp"

#include <hfhub/server/server.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>

#include <charconv>
#include <chrono>
#include <string_view>
#include <iostream>
#include <thread>
#include <vector>

namespace hfhub::cli {

namespace po = boost::program_options;

namespace {
// "24h", "30m", "10s", "500ms", "0": a duration for --keep-unreferenced.
std::chrono::milliseconds parse_duration(const std::string& text, const char* flag) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
    std::uint64_t ms_per = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : unit == "h" ? 3600000
                         : unit == "d" ? 86400000 : (unit.empty() && v == 0) ? 1 : 0;
    if (ec != std::errc() || end == text.data() || ms_per == 0 || v > (1ull << 40) / ms_per)
        throw po::error(std::string("invalid value '") + text + "' for --" + flag +
                        " (a number with ms, s, m, h or d, like 24h; 0 keeps forever)");
    return std::chrono::milliseconds(v * ms_per);
}

// program_options reads "-1" into an unsigned as a huge number; parse counts strictly.
std::uint64_t parse_count(const std::string& text, std::uint64_t max, const char* flag) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v > max)
        throw po::error(std::string("invalid value '") + text + "' for --" + flag + " (0.." + std::to_string(max) +
                        ")");
    return v;
}
}  // namespace

int serve(int argc, char** argv) {
    server::options o;
    std::string root, tokens, cert, key, log, faults;
    std::string port = "0", storage_port = "0", threads_text;
    // One I/O thread by default: measured, two threads sharing one io_context cost about 1.6x
    // the CPU per small request (bench/README.md). Commits and uploads' hashing and joining run
    // on --store-threads instead.
    unsigned threads = 1;
    std::string store_threads_text, keep_text = "24h", xet_ttl_text = "1h";
    po::options_description desc(
        "usage: hfhub serve [options]\n\n"
        "Runs a Hub-compatible server: the API on --port, LFS bytes on a second origin.\n"
        "Prints 'listening on <url>' once bound; stops gracefully on SIGINT/SIGTERM.\n\n"
        "examples:\n"
        "  hfhub serve --root ./hub-data\n"
        "  hfhub serve --root /srv/hub --port 8080 --tokens tokens.json\n"
        "  HF_ENDPOINT=http://127.0.0.1:8080 hf download acme/model\n\n"
        "options");
    desc.add_options()
        ("help,h", "show this help")
        ("root", po::value(&root)->default_value("hfhub-data"), "storage folder, created if absent")
        ("host", po::value(&o.host)->default_value("127.0.0.1"), "address to bind")
        ("port", po::value(&port)->default_value("0"), "API port; 0 picks a free one")
        ("storage-port", po::value(&storage_port)->default_value("0"), "LFS storage port; 0 picks a free one")
        ("tokens", po::value(&tokens), "JSON users file: {\"users\":[{\"name\",\"token\",\"orgs\"}]}; "
                                       "without it, open single-user mode")
        ("tls-cert", po::value(&cert), "PEM certificate chain: serve HTTPS")
        ("tls-key", po::value(&key), "PEM private key for --tls-cert")
        ("access-log", po::value(&log), "append one JSON object per request to this file")
        ("faults", po::value(&faults), "fault-injection rules (JSON; see docs/serve.md)")
        ("threads", po::value(&threads_text), "I/O threads (default 1)")
        ("store-threads", po::value(&store_threads_text),
         "threads for commits and for hashing and joining uploads (default 2; 0 runs them on the I/O threads)")
        ("multipart-threshold", po::value(&o.multipart_threshold), "LFS objects at least this big upload in parts")
        ("multipart-chunk", po::value(&o.multipart_chunk), "part size for multipart uploads")
        ("keep-unreferenced", po::value(&keep_text), "keep uploaded LFS objects no commit references this long "
                                                     "(e.g. 24h, 30m, 10s; 0: forever; default 24h), then remove them")
        ("xet", po::bool_switch(&o.xet_by_default), "new repos store large files with Xet (see docs/serve.md); "
                                                    "a repo's settings (xetEnabled) still choose per repo")
        ("xet-token-ttl", po::value(&xet_ttl_text), "how long a Xet access token stays valid (e.g. 1h, 30s; default 1h)");
    po::variables_map vm;
    try {
        // No positional options: a stray word is an error rather than silently ignored.
        po::positional_options_description none;
        po::store(po::command_line_parser(argc, argv).options(desc).positional(none).run(), vm);
        po::notify(vm);
        o.port = static_cast<std::uint16_t>(parse_count(port, 65535, "port"));
        o.storage_port = static_cast<std::uint16_t>(parse_count(storage_port, 65535, "storage-port"));
        if (!threads_text.empty()) threads = static_cast<unsigned>(parse_count(threads_text, 1024, "threads"));
        if (threads == 0) threads = 1;
        o.keep_unreferenced = parse_duration(keep_text, "keep-unreferenced");
        auto ttl = std::chrono::duration_cast<std::chrono::seconds>(parse_duration(xet_ttl_text, "xet-token-ttl"));
        if (ttl.count() <= 0) throw po::error("--xet-token-ttl must be at least 1s");
        o.xet_token_ttl = ttl;
        if (!store_threads_text.empty())
            o.store_threads = static_cast<unsigned>(parse_count(store_threads_text, 1024, "store-threads"));
    } catch (const po::error& e) {
        std::cerr << "hfhub serve: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    o.root = root;
    if (!tokens.empty()) o.tokens_file = tokens;
    if (!cert.empty()) o.tls_cert = cert;
    if (!key.empty()) o.tls_key = key;
    if (!log.empty()) o.access_log = log;
    if (!faults.empty()) o.faults_file = faults;

    boost::asio::io_context ioc(static_cast<int>(threads));
    // Before anything is announced: a SIGTERM sent as soon as the URL is printed must stop us
    // gracefully, not kill us with the default action.
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    std::unique_ptr<server::server> srv;
    try {
        srv = std::make_unique<server::server>(ioc, o);
    } catch (const std::exception& e) {
        std::cerr << "hfhub serve: " << e.what() << "\n";
        return 1;
    }
    srv->start();
    if (srv->open_mode())
        std::cerr << "hfhub serve: no --tokens given: open single-user mode, everyone is user 'local'\n";
    std::cerr << "hfhub serve: LFS storage on " << srv->storage_url() << ", data in " << o.root.string() << "\n";
    std::cout << "listening on " << srv->base_url() << std::endl;

    boost::asio::steady_timer deadline(ioc);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (ec) return;
        // Let requests in flight finish, but not forever.
        deadline.expires_after(std::chrono::seconds(10));
        deadline.async_wait([&](const boost::system::error_code& e) {
            if (!e) ioc.stop();
        });
        srv->stop([&] { boost::asio::post(ioc, [&] { ioc.stop(); }); });
    });

    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
    std::cerr << "hfhub serve: stopped\n";
    return 0;
}

}  // namespace hfhub::cli
