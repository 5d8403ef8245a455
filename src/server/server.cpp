#include <hfhub/server/server.hpp>

#include "server/session.hpp"
#include "util/hash.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>

namespace hfhub::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct server::impl : std::enable_shared_from_this<impl> {
    asio::io_context& ioc;
    options opts;
    std::shared_ptr<hub> h;
    std::shared_ptr<access_log> log;
    std::optional<asio::ssl::context> tls;
    tcp::acceptor api;
    tcp::acceptor storage;
    std::shared_ptr<session_shared> shared;
    std::string scheme;
    std::unique_ptr<asio::thread_pool> store_pool;
    asio::steady_timer sweep_timer;
    std::atomic<bool> sweeping_stopped{false};

    // Each acceptor lives on its own strand, so stop() can close it from any thread.
    impl(asio::io_context& io, options o)
        : ioc(io), opts(std::move(o)), api(asio::make_strand(io)), storage(asio::make_strand(io)),
          sweep_timer(asio::make_strand(io)) {}

    // Uploaded objects no commit took in go once older than keep_unreferenced: checked every
    // half of that (at least every 250 ms, at most every 10 minutes), on the store's threads.
    asio::awaitable<void> sweep_loop() {
        auto self = shared_from_this();
        using namespace std::chrono;
        auto keep = opts.keep_unreferenced;
        auto every = std::clamp<milliseconds>(keep / 2, milliseconds(250), minutes(10));
        for (;;) {
            sweep_timer.expires_after(every);
            auto [ec] = co_await sweep_timer.async_wait(asio::as_tuple(asio::use_awaitable));
            if (ec || sweeping_stopped) co_return;
            std::int64_t now = duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
            std::int64_t before = now - (duration_cast<seconds>(keep + milliseconds(999))).count();
            auto sweep = [h = h, before] {
                try {
                    h->sweep_unreferenced_lfs(before);
                } catch (const std::exception&) {
                    // A store that can't be read now is swept next time.
                }
            };
            if (store_pool) asio::post(*store_pool, sweep);
            else sweep();
        }
    }

    static void bind(tcp::acceptor& acc, const std::string& host, std::uint16_t port) {
        asio::ip::address addr = host == "localhost" ? asio::ip::make_address("127.0.0.1")
                                                     : asio::ip::make_address(host);
        tcp::endpoint ep(addr, port);
        acc.open(ep.protocol());
        acc.set_option(tcp::acceptor::reuse_address(true));
        acc.bind(ep);
        acc.listen(asio::socket_base::max_listen_connections);
    }

    std::string url_of(const tcp::acceptor& acc) const {
        std::string host = opts.host;
        if (host.find(':') != std::string::npos) host = "[" + host + "]";
        return scheme + "://" + host + ":" + std::to_string(acc.local_endpoint().port());
    }

    asio::awaitable<void> accept_loop(tcp::acceptor& acc, listener_kind kind) {
        auto self = shared_from_this();
        for (;;) {
            auto [ec, sock] = co_await acc.async_accept(asio::make_strand(ioc),
                                                        asio::as_tuple(asio::use_awaitable));
            if (ec) {
                if (ec == asio::error::operation_aborted || !acc.is_open()) co_return;
                continue;  // e.g. EMFILE: keep serving the connections we have
            }
            auto ex = sock.get_executor();
            if (tls)
                asio::co_spawn(ex, run_tls_session(std::move(sock), *tls, shared, kind), asio::detached);
            else
                asio::co_spawn(ex, run_plain_session(std::move(sock), shared, kind), asio::detached);
        }
    }
};

server::server(asio::io_context& ioc, options opts) : impl_(std::make_shared<impl>(ioc, std::move(opts))) {
    auto& m = *impl_;
    if (m.opts.root.empty()) throw std::runtime_error("server: a root folder is required");
    if (m.opts.tls_cert.has_value() != m.opts.tls_key.has_value())
        throw std::runtime_error("server: --tls-cert and --tls-key go together");
    std::filesystem::create_directories(m.opts.root);
    if (m.opts.tls_cert) {
        m.tls.emplace(asio::ssl::context::tls_server);
        m.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1);
        m.tls->use_certificate_chain_file(m.opts.tls_cert->string());
        m.tls->use_private_key_file(m.opts.tls_key->string(), asio::ssl::context::pem);
    }
    m.scheme = m.tls ? "https" : "http";
    authenticator auth = m.opts.tokens_file ? authenticator::from_file(*m.opts.tokens_file) : authenticator();
    impl::bind(m.api, m.opts.host, m.opts.port);
    impl::bind(m.storage, m.opts.host, m.opts.storage_port);
    hub_config cfg;
    cfg.base_url = m.url_of(m.api);
    cfg.storage_url = m.url_of(m.storage);
    cfg.multipart_threshold = m.opts.multipart_threshold;
    cfg.multipart_chunk = std::max<std::uint64_t>(m.opts.multipart_chunk, 1);
    cfg.xet_by_default = m.opts.xet_by_default;
    cfg.xet_token_ttl = m.opts.xet_token_ttl;
    cfg.keep_unreferenced = m.opts.keep_unreferenced;
    if (auto clock = m.opts.clock)
        cfg.clock = [clock] {
            return std::chrono::duration_cast<std::chrono::seconds>(clock().time_since_epoch()).count();
        };
    m.h = std::make_shared<hub>(m.opts.root, std::move(auth), cfg);
    if (m.opts.faults_file) {
        std::ifstream in(*m.opts.faults_file);
        if (!in) throw std::runtime_error("cannot read the faults file " + m.opts.faults_file->string());
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        try {
            m.h->faults().replace(fault_injector::parse(text));
        } catch (const std::invalid_argument& e) {
            throw std::runtime_error(m.opts.faults_file->string() + ": " + e.what());
        }
    }
    m.log = m.opts.access_log ? std::make_shared<access_log>(*m.opts.access_log) : std::make_shared<access_log>();
    m.shared = std::make_shared<session_shared>(m.h, m.log, m.opts);
    m.shared->id_prefix = util::random_hex(4) + "-";
    if (m.opts.store_threads) {
        m.store_pool = std::make_unique<asio::thread_pool>(m.opts.store_threads);
        m.shared->store_ex = m.store_pool->get_executor();
    }
}

server::~server() {
    boost::system::error_code ec;
    impl_->api.close(ec);
    impl_->storage.close(ec);
    impl_->sweeping_stopped = true;
    impl_->sweep_timer.cancel();
    // Store work under way finishes (a commit lands whole or not at all); its answer then
    // goes to an io_context that is stopped or gone, and is dropped.
    if (impl_->store_pool) impl_->store_pool->join();
}

void server::start() {
    auto& m = *impl_;
    asio::co_spawn(m.api.get_executor(), m.accept_loop(m.api, listener_kind::api), asio::detached);
    asio::co_spawn(m.storage.get_executor(), m.accept_loop(m.storage, listener_kind::storage), asio::detached);
    if (m.opts.keep_unreferenced.count() > 0)
        asio::co_spawn(m.sweep_timer.get_executor(), m.sweep_loop(), asio::detached);
}

void server::stop(std::function<void()> on_drained) {
    auto& m = *impl_;
    {
        std::lock_guard lk(m.shared->drain_mu);
        m.shared->on_drained = std::move(on_drained);
    }
    m.shared->stopping = true;
    m.shared->close_idle();
    auto self = impl_;
    m.sweeping_stopped = true;
    asio::post(m.sweep_timer.get_executor(), [self] { self->sweep_timer.cancel(); });
    for (auto* acc : {&m.api, &m.storage})
        asio::post(acc->get_executor(), [self, acc] {
            boost::system::error_code ec;
            acc->close(ec);
        });
    if (m.shared->in_flight == 0) {
        std::function<void()> cb;
        {
            std::lock_guard lk(m.shared->drain_mu);
            cb = std::exchange(m.shared->on_drained, {});
        }
        if (cb) cb();
    }
}

std::string server::base_url() const { return impl_->h->config().base_url; }
std::string server::storage_url() const { return impl_->h->config().storage_url; }
bool server::open_mode() const { return impl_->h->auth().open(); }
std::size_t server::in_flight() const { return impl_->shared->in_flight; }

}  // namespace hfhub::server
