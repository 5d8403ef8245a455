// Who a request is, and what it may touch. Tokens are kept only as hashes and compared in
// constant time; they are never logged.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hfhub::server {

struct user {
    std::string name;
    std::vector<std::string> orgs;
};

struct identity {
    enum class kind { anonymous, user, invalid } what = kind::anonymous;
    const user* who = nullptr;
};

class authenticator {
public:
    // Open single-user mode: everyone is `local`, with every right.
    authenticator();
    // `{"users":[{"name":"alice","token":"hf_...","orgs":["acme"]}]}`; throws on a bad file.
    static authenticator from_file(const std::filesystem::path& p);
    static authenticator from_json(std::string_view text);

    bool open() const { return open_; }
    identity identify(std::optional<std::string_view> authorization) const;
    bool may_write(const identity& id, std::string_view ns) const;
    bool may_read_private(const identity& id, std::string_view ns) const { return may_write(id, ns); }
    bool has_user(std::string_view name) const;

private:
    struct account {
        user u;
        std::string token_hash;
    };
    bool open_ = true;
    std::vector<account> accounts_;
    user local_{"local", {}};
};

}  // namespace hfhub::server
