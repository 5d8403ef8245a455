#include "http/policy.hpp"

#include "util/hash.hpp"

#include <hfhub/client.hpp>

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <vector>
#include <strings.h>

namespace hfhub::http {
namespace {

namespace urls = boost::urls;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view ows = " \t";

std::string_view trim(std::string_view s, std::string_view ws = ows) {
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    auto e = s.find_last_not_of(ws);
    return s.substr(b, e - b + 1);
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// Digits only: no sign, no fraction, no exponent.
std::optional<std::uint64_t> parse_digits(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// A hint longer than this is nonsense; refusing it keeps the ms arithmetic far from overflow.
constexpr std::uint64_t max_hint_seconds = std::numeric_limits<std::uint32_t>::max();

std::optional<seconds> to_hint(std::optional<std::uint64_t> v) {
    if (!v || *v > max_hint_seconds) return std::nullopt;
    return seconds(static_cast<seconds::rep>(*v));
}

// Splits on `sep` outside double-quoted strings (which may contain backslash escapes).
std::vector<std::string_view> split_unquoted(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (quoted) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == sep) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    }
    out.push_back(s.substr(start));
    return out;
}

std::string default_port(std::string_view scheme) { return scheme == "https" ? "443" : "80"; }

// (scheme, host, port) with the scheme's default port filled in, all lower case.
struct origin {
    std::string scheme, host;
    std::uint16_t port = 0;
    bool operator==(const origin&) const = default;
};

origin origin_of(const urls::url_view_base& u) {
    origin o;
    o.scheme = lower(u.scheme());
    o.host = lower(u.encoded_host());
    if (u.has_port() && !u.port().empty())
        o.port = u.port_number();
    else
        o.port = o.scheme == "https" ? 443 : 80;
    return o;
}

redirect_decision fail(client_errc e) {
    redirect_decision d;
    d.what = redirect_decision::action::fail;
    d.error = make_error_code(e);
    return d;
}

struct ip_addr {
    bool v6 = false;
    std::array<unsigned char, 16> bytes{};
    std::size_t size() const { return v6 ? 16 : 4; }
};

std::optional<ip_addr> parse_ip(std::string_view s) {
    if (auto v4 = urls::parse_ipv4_address(s)) {
        ip_addr a;
        auto b = v4->to_bytes();
        std::copy(b.begin(), b.end(), a.bytes.begin());
        return a;
    }
    if (auto v6 = urls::parse_ipv6_address(s)) {
        ip_addr a;
        a.v6 = true;
        auto b = v6->to_bytes();
        std::copy(b.begin(), b.end(), a.bytes.begin());
        return a;
    }
    return std::nullopt;
}

bool prefix_equal(const ip_addr& a, const ip_addr& b, unsigned bits) {
    for (std::size_t i = 0; bits > 0; ++i) {
        unsigned take = std::min(bits, 8u);
        unsigned char mask = static_cast<unsigned char>(0xFF00u >> take);
        if ((a.bytes[i] & mask) != (b.bytes[i] & mask)) return false;
        bits -= take;
    }
    return true;
}

std::optional<unsigned> port_value(std::string_view p) {
    auto v = parse_digits(p);
    if (!v || *v == 0 || *v > 65535) return std::nullopt;
    return static_cast<unsigned>(*v);
}

// One NO_PROXY entry against an already normalized host (lower case, no brackets, no final dot).
bool entry_matches(std::string_view entry, const std::string& host, const std::optional<ip_addr>& host_ip,
                   std::optional<unsigned> port) {
    std::string e = lower(entry);
    if (e == "*") return true;

    // "[v6]:port", "host:port"; a bare IPv6 literal has several colons and no port.
    std::string_view name = e;
    std::string_view entry_port;
    if (name.starts_with('[')) {
        auto close = name.find(']');
        if (close == std::string_view::npos) return false;
        auto rest = name.substr(close + 1);
        auto inner = name.substr(1, close - 1);
        if (rest.starts_with(':')) {
            entry_port = rest.substr(1);
            name = inner;
        } else if (rest.empty()) {
            name = inner;
        } else if (!rest.starts_with('/')) {  // "[fe80::]/10" stays whole for the CIDR branch
            return false;
        }
    } else if (std::count(name.begin(), name.end(), ':') == 1) {
        auto colon = name.find(':');
        entry_port = name.substr(colon + 1);
        name = name.substr(0, colon);
    }
    if (!entry_port.empty()) {
        auto ep = port_value(entry_port);
        if (!ep || !port || *ep != *port) return false;
    }

    if (auto slash = name.find('/'); slash != std::string_view::npos) {
        // CIDR: only for IP hosts, never resolved.
        if (!host_ip) return false;
        std::string_view net = name.substr(0, slash);
        if (net.starts_with('[') && net.ends_with(']')) net = net.substr(1, net.size() - 2);
        auto bits = parse_digits(name.substr(slash + 1));
        auto net_ip = parse_ip(net);
        if (!bits || !net_ip || net_ip->v6 != host_ip->v6 || *bits > net_ip->size() * 8) return false;
        return prefix_equal(*net_ip, *host_ip, static_cast<unsigned>(*bits));
    }

    if (host_ip) {
        auto e_ip = parse_ip(name);
        return e_ip && e_ip->v6 == host_ip->v6 && e_ip->bytes == host_ip->bytes;
    }

    // Domains: "*.x.org", ".x.org" and "x.org" all mean x.org and its subdomains.
    if (name.starts_with("*.")) name.remove_prefix(1);
    while (name.starts_with('.')) name.remove_prefix(1);
    while (name.ends_with('.')) name.remove_suffix(1);
    if (name.empty()) return false;
    if (host == name) return true;
    return host.size() > name.size() && host.ends_with(name) && host[host.size() - name.size() - 1] == '.';
}

// Control characters become spaces, runs of spaces collapse; then at most `max` bytes, cut on a
// UTF-8 boundary and marked with "...".
std::string tidy(std::string_view s, std::size_t max) {
    std::string out;
    bool space = false;
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f || c == ' ') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += ch;
    }
    if (out.size() <= max) return out;
    std::size_t cut = max - 3;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    out += "...";
    return out;
}

bool text_like(std::string_view content_type) {
    auto ct = lower(trim(content_type));
    return ct.empty() || ct.starts_with("text/") || ct.find("json") != std::string::npos ||
           ct.find("xml") != std::string::npos;
}

constexpr std::size_t max_plain_message = 500;
constexpr std::size_t max_message = 1000;

}  // namespace

// ---- ranges --------------------------------------------------------------------------------

std::optional<content_range> parse_content_range(std::string_view value) {
    value = trim(value);
    constexpr std::string_view unit = "bytes ";
    if (!value.starts_with(unit)) return std::nullopt;
    value.remove_prefix(unit.size());
    auto dash = value.find('-');
    auto slash = value.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) return std::nullopt;
    auto first = parse_digits(value.substr(0, dash));
    auto last = parse_digits(value.substr(dash + 1, slash - dash - 1));
    if (!first || !last || *last < *first) return std::nullopt;
    content_range r{*first, *last, std::nullopt};
    auto complete = value.substr(slash + 1);
    if (complete != "*") {
        r.complete = parse_digits(complete);
        if (!r.complete || r.last >= *r.complete) return std::nullopt;
    }
    return r;
}

// ---- retries ---------------------------------------------------------------------------------

std::optional<seconds> parse_retry_after(std::string_view value) { return to_hint(parse_digits(trim(value))); }

std::optional<seconds> parse_ratelimit_reset(std::string_view value) {
    // A structured-field list: `"policy";r=0;t=12, "other";r=5;t=60`. When several policies are
    // exhausted the quota returns only once all have reset, so the longest wait wins.
    std::optional<std::uint64_t> best;
    for (auto member : split_unquoted(value, ',')) {
        auto pieces = split_unquoted(member, ';');
        std::optional<std::uint64_t> r, t;
        bool ok = true;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            auto piece = trim(pieces[i]);
            auto eq = piece.find('=');
            if (i == 0 && (piece.starts_with('"') || eq == std::string_view::npos)) continue;  // the policy name
            if (eq == std::string_view::npos) continue;                                      // a boolean parameter
            auto key = lower(trim(piece.substr(0, eq)));
            auto val = trim(piece.substr(eq + 1));
            if (key == "r" || key == "t") {
                auto n = parse_digits(val);
                if (!n) {
                    ok = false;
                    break;
                }
                (key == "r" ? r : t) = n;
            }
        }
        if (ok && r && t && *r == 0 && (!best || *t > *best)) best = t;
    }
    return to_hint(best);
}

bool is_retryable_status(unsigned status) {
    switch (status) {
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504: return true;
    default: return false;
    }
}

retry_schedule::retry_schedule(const retry_config& cfg, std::uint64_t seed) : cfg_(cfg), rng_(seed) {}

std::optional<milliseconds> retry_schedule::next(const failure& f) {
    if (!f.idempotent) return std::nullopt;
    if (f.status && !is_retryable_status(*f.status)) return std::nullopt;
    if (retries_ >= cfg_.max_retries) return std::nullopt;

    std::optional<seconds> hint;
    if (f.status) {
        if (*f.status == 429) hint = parse_ratelimit_reset(f.ratelimit);
        if (!hint) hint = parse_retry_after(f.retry_after);
    }

    milliseconds wait;
    if (hint) {
        wait = *hint;  // the server knows best: no cap, no jitter
    } else {
        double delay = static_cast<double>(cfg_.base_delay.count()) * std::ldexp(1.0, static_cast<int>(std::min(retries_, 62u)));
        delay = std::min(delay, static_cast<double>(cfg_.max_delay.count()));
        // Jitter spreads clients that failed together; [0.5, 1.0] keeps at least half the delay.
        std::uniform_real_distribution<double> jitter(0.5, 1.0);
        wait = milliseconds(static_cast<milliseconds::rep>(std::llround(delay * jitter(rng_))));
    }
    if (wait > cfg_.request_budget - waited_) return std::nullopt;
    ++retries_;
    waited_ += wait;
    return wait;
}

// ---- redirects -------------------------------------------------------------------------------

bool same_origin(std::string_view a, std::string_view b) {
    auto ua = urls::parse_absolute_uri(a);
    auto ub = urls::parse_absolute_uri(b);
    if (!ua || !ub || !ua->has_authority() || !ub->has_authority()) return false;
    return origin_of(*ua) == origin_of(*ub);
}

redirect_decision decide_redirect(std::string_view current, std::string_view location, unsigned hops,
                                  unsigned max_hops, redirect_mode mode) {
    redirect_decision d;
    if (mode == redirect_mode::none) return d;
    location = trim(location);
    if (location.empty()) return d;  // a 3xx without a Location is the final answer
    if (hops >= max_hops) return fail(client_errc::too_many_redirects);

    auto cur = urls::parse_uri(current);
    auto ref = urls::parse_uri_reference(location);
    if (!cur || !ref) return fail(client_errc::invalid_url);
    auto cur_scheme = lower(cur->scheme());
    if (cur_scheme != "http" && cur_scheme != "https") return fail(client_errc::invalid_url);

    // Metadata probes never follow an absolute Location (the CDN): the 3xx itself is the answer,
    // so there is nothing to vet.
    bool relative = !ref->has_scheme() && !ref->has_authority();
    if (mode == redirect_mode::relative_only && !relative) return d;

    urls::url target(*cur);
    if (!target.resolve(*ref)) return fail(client_errc::invalid_url);
    target.remove_fragment();
    auto scheme = lower(target.scheme());
    if (scheme != "http" && scheme != "https") return fail(client_errc::invalid_url);
    if (!target.has_authority() || target.encoded_host().empty()) return fail(client_errc::invalid_url);
    if (target.has_port() && !target.port().empty() && target.port_number() == 0)
        return fail(client_errc::invalid_url);
    if (cur_scheme == "https" && scheme == "http") return fail(client_errc::insecure_redirect);

    if (mode == redirect_mode::relative_only) {
        // Protocol 1.2: the Location's query is dropped, the original one kept.
        if (cur->has_query())
            target.set_encoded_query(cur->encoded_query());
        else
            target.remove_query();
    }

    d.what = redirect_decision::action::follow;
    d.url = std::string(target.buffer());
    d.keep_auth = origin_of(*cur) == origin_of(target);
    return d;
}

// ---- proxies ---------------------------------------------------------------------------------

bool no_proxy_matches(std::string_view no_proxy, std::string_view host, std::string_view port) {
    std::string h = lower(trim(host));
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    while (!h.empty() && h.back() == '.') h.pop_back();
    if (h.empty()) return false;
    auto host_ip = parse_ip(h);
    auto p = port_value(trim(port));

    std::size_t i = 0;
    while (i < no_proxy.size()) {
        auto end = no_proxy.find_first_of(", \t", i);
        if (end == std::string_view::npos) end = no_proxy.size();
        auto entry = no_proxy.substr(i, end - i);
        i = end + 1;
        if (!entry.empty() && entry_matches(entry, h, host_ip, p)) return true;
    }
    return false;
}

std::optional<proxy_choice> select_proxy(const proxy_config& cfg, std::string_view scheme, std::string_view host,
                                         std::string_view port) {
    auto s = lower(scheme);
    std::string_view proxy;
    if (s == "https")
        proxy = cfg.https;
    else if (s == "http")
        proxy = cfg.http;
    else
        return std::nullopt;
    proxy = trim(proxy);
    if (proxy.empty()) return std::nullopt;
    std::string eff_port = port.empty() ? default_port(s) : std::string(port);
    if (no_proxy_matches(cfg.no_proxy, host, eff_port)) return std::nullopt;

    // The proxy URL may hold a password: diagnostics name the variable, never the value.
    auto bad = [&](const char* why) {
        return hfhub::error(make_error_code(client_errc::invalid_url),
                            diagnostics{.client_message = std::string(why) + " (the proxy for " + s + " URLs)"});
    };
    std::string text(proxy);
    if (text.find("://") == std::string::npos) text = "http://" + text;  // "proxy:3128" means plain HTTP
    auto u = urls::parse_uri(text);
    if (!u) throw bad("malformed proxy URL");
    if (lower(u->scheme()) != "http") throw bad("unsupported proxy scheme: only http:// proxies are supported");
    if (u->encoded_host().empty()) throw bad("proxy URL without a host");

    proxy_choice c;
    c.scheme = "http";
    c.host = u->host_address();  // IPv6 without brackets, ready for the resolver
    if (u->has_port() && !u->port().empty()) {
        if (!port_value(u->port())) throw bad("invalid proxy port");
        c.port = std::string(u->port());
    } else {
        c.port = "80";  // like urllib3 for an http:// proxy (curl would use 1080)
    }
    if (u->has_userinfo()) {
        std::string user = u->user();
        std::string password = u->password();
        if (!user.empty() || !password.empty())
            c.authorization = "Basic " + util::base64_encode(user + ":" + password);
    }
    return c;
}

// ---- errors ----------------------------------------------------------------------------------

std::string request_id_of(const header_fields& h) {
    if (auto id = find_header(h, "X-Request-Id")) return std::string(*id);
    if (auto tid = find_header(h, "X-Amzn-Trace-Id")) return std::string(*tid);
    return {};
}

std::string server_message(std::string_view x_error_message, std::string_view content_type, std::string_view body) {
    std::vector<std::string> parts;
    auto add = [&](std::string_view s) {
        auto t = tidy(s, max_message);
        if (!t.empty() && std::find(parts.begin(), parts.end(), t) == parts.end()) parts.push_back(std::move(t));
    };
    auto add_value = [&](const boost::json::value& v) {
        if (v.is_string())
            add(v.get_string());
        else if (!v.is_null())
            add(boost::json::serialize(v));
    };
    add(x_error_message);

    auto b = trim(body, " \t\r\n");
    if (b.starts_with('{')) {
        boost::system::error_code ec;
        auto v = boost::json::parse(b, ec);
        if (!ec && v.is_object()) {
            const auto& o = v.get_object();
            if (auto* e = o.if_contains("error")) {
                if (e->is_array())
                    for (const auto& item : e->get_array()) add_value(item);
                else
                    add_value(*e);
            }
            if (auto* e = o.if_contains("error_description")) add_value(*e);
            if (auto* e = o.if_contains("errors"); e && e->is_array()) {
                for (const auto& item : e->get_array())
                    if (item.is_object())
                        if (auto* m = item.get_object().if_contains("message")) add_value(*m);
            }
        }
    }
    if (parts.empty() && text_like(content_type)) add(tidy(b, max_plain_message));

    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += "; ";
        out += p;
    }
    return tidy(out, max_message);
}

}  // namespace hfhub::http

namespace hfhub {

// Here rather than in client.cpp: the sans-io readers of answers need it too.
std::optional<std::string_view> find_header(const header_fields& h, std::string_view name) {
    for (auto& [k, v] : h)
        if (k.size() == name.size() && ::strncasecmp(k.data(), name.data(), k.size()) == 0) return std::string_view(v);
    return std::nullopt;
}

}  // namespace hfhub
