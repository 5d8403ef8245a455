// An hfhub::server in-process on port 0, over a fresh temp root, with two users:
// alice (org acme) and bob. Stopped and removed when the fixture goes.
#pragma once

#include "http_client.hpp"

#include <hfhub/server/server.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace hfhub::test {

inline const std::string alice_token = "hf_alice_0123456789abcdef";
inline const std::string bob_token = "hf_bob_0123456789abcdef";

class temp_dir {
public:
    temp_dir();
    ~temp_dir();
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

class test_server {
public:
    // `tweak` may change the options before the server starts (root and tokens are set).
    explicit test_server(std::function<void(server::options&)> tweak = {}, bool with_tokens = true);
    ~test_server();

    const std::string& url() const { return url_; }
    const std::string& storage_url() const { return storage_url_; }
    const std::filesystem::path& root() const { return root_; }
    const std::filesystem::path& access_log() const { return log_; }
    server::server& get() { return *srv_; }

    // Requests against the API origin; `path` starts with '/'.
    http_response get(const std::string& path, const std::string& token = {});
    http_response head(const std::string& path, const std::string& token = {});
    http_response post(const std::string& path, const std::string& body, const std::string& token = {},
                       const std::string& content_type = "application/json");
    http_response send(const std::string& method, const std::string& path, const std::string& body,
                       const std::string& token = {}, header_pairs extra = {});

    // Helpers that check their own success (they throw std::runtime_error otherwise).
    void create_repo(const std::string& id, const std::string& token, bool is_private = false,
                     const std::string& type = "model");
    // Commits NDJSON op lines (after a generated header line) to `rev`; returns the raw response.
    http_response commit(const std::string& repo_path, const std::string& rev, const std::vector<std::string>& ops,
                         const std::string& token, const std::string& summary = "test commit",
                         const std::string& query = {}, const std::string& parent = {});
    // Uploads `content` as an LFS object through batch + basic PUT; returns its sha256.
    std::string upload_lfs(const std::string& git_repo_path, const std::string& content, const std::string& token);
    // The access log's lines in order, once no request is being answered (waits at most 2 s).
    std::vector<std::string> log_lines() const;

    // NDJSON op lines.
    static std::string add_file(const std::string& path, const std::string& content);
    static std::string add_lfs(const std::string& path, const std::string& sha256, std::size_t size);
    static std::string delete_file(const std::string& path);
    static std::string delete_folder(const std::string& path);

private:
    temp_dir dir_;
    std::filesystem::path root_;
    std::filesystem::path log_;
    std::unique_ptr<boost::asio::io_context> ioc_;
    std::unique_ptr<server::server> srv_;
    std::vector<std::thread> threads_;
    std::string url_;
    std::string storage_url_;
};

}  // namespace hfhub::test
