#include "server/auth.hpp"

#include "util/fs.hpp"
#include "util/hash.hpp"

#include <boost/json.hpp>

#include <stdexcept>

namespace hfhub::server {

namespace json = boost::json;

authenticator::authenticator() = default;

authenticator authenticator::from_file(const std::filesystem::path& p) {
    auto text = util::read_file(p);
    if (!text) throw std::runtime_error("cannot read tokens file " + p.string());
    return from_json(*text);
}

authenticator authenticator::from_json(std::string_view text) {
    authenticator a;
    a.open_ = false;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object() || !v.as_object().contains("users") || !v.at("users").is_array())
        throw std::runtime_error("tokens file: expected {\"users\":[...]}");
    for (auto& u : v.at("users").as_array()) {
        if (!u.is_object() || !u.as_object().contains("name") || !u.as_object().contains("token") ||
            !u.at("name").is_string() || !u.at("token").is_string())
            throw std::runtime_error("tokens file: each user needs a string name and token");
        account acc;
        acc.u.name = json::value_to<std::string>(u.at("name"));
        std::string token = json::value_to<std::string>(u.at("token"));
        if (token.empty()) throw std::runtime_error("tokens file: empty token for " + acc.u.name);
        acc.token_hash = util::sha256_hex(token);
        if (auto* orgs = u.as_object().if_contains("orgs"))
            for (auto& o : orgs->as_array()) acc.u.orgs.push_back(json::value_to<std::string>(o));
        a.accounts_.push_back(std::move(acc));
    }
    return a;
}

identity authenticator::identify(std::optional<std::string_view> header) const {
    if (open_) return {identity::kind::user, &local_};
    if (!header) return {};
    std::string_view h = *header;
    if (h.size() < 7 || (h.substr(0, 7) != "Bearer " && h.substr(0, 7) != "bearer "))
        return {identity::kind::invalid, nullptr};
    std::string hash = util::sha256_hex(h.substr(7));
    // Compare against every account so the time taken says nothing about which matched.
    const user* found = nullptr;
    for (auto& acc : accounts_)
        if (util::constant_time_equal(hash, acc.token_hash) && !found) found = &acc.u;
    if (!found) return {identity::kind::invalid, nullptr};
    return {identity::kind::user, found};
}

bool authenticator::may_write(const identity& id, std::string_view ns) const {
    if (open_) return true;
    if (id.what != identity::kind::user || !id.who) return false;
    if (id.who->name == ns) return true;
    for (auto& o : id.who->orgs)
        if (o == ns) return true;
    return false;
}

bool authenticator::has_user(std::string_view name) const {
    if (open_) return name == local_.name;
    for (auto& acc : accounts_)
        if (acc.u.name == name) return true;
    return false;
}

}  // namespace hfhub::server
