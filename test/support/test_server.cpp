#include "test_server.hpp"

#include "util/hash.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace hfhub::test {

namespace json = boost::json;

temp_dir::temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "hfhub-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

test_server::test_server(std::function<void(server::options&)> tweak, bool with_tokens)
    : root_(dir_.path() / "root"), log_(dir_.path() / "access.log") {
    server::options o;
    o.root = root_;
    o.access_log = log_;
    if (with_tokens) {
        auto tokens = dir_.path() / "tokens.json";
        std::ofstream(tokens) << R"({"users":[{"name":"alice","token":")" << alice_token
                              << R"(","orgs":["acme"]},{"name":"bob","token":")" << bob_token << R"(","orgs":[]}]})";
        o.tokens_file = tokens;
    }
    if (tweak) tweak(o);
    ioc_ = std::make_unique<boost::asio::io_context>(2);
    srv_ = std::make_unique<server::server>(*ioc_, o);
    srv_->start();
    url_ = srv_->base_url();
    storage_url_ = srv_->storage_url();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_->run(); });
}

test_server::~test_server() {
    srv_->stop();
    ioc_->stop();
    for (auto& t : threads_) t.join();
    srv_.reset();
    ioc_.reset();
}

http_response test_server::send(const std::string& method, const std::string& path, const std::string& body,
                                 const std::string& token, header_pairs extra) {
    if (!token.empty()) extra.emplace_back("Authorization", bearer(token));
    return http_request(method, url_ + path, body, extra);
}

http_response test_server::get(const std::string& path, const std::string& token) {
    return send("GET", path, {}, token);
}
http_response test_server::head(const std::string& path, const std::string& token) {
    return send("HEAD", path, {}, token);
}
http_response test_server::post(const std::string& path, const std::string& body, const std::string& token,
                                const std::string& content_type) {
    return send("POST", path, body, token, {{"Content-Type", content_type}});
}

void test_server::create_repo(const std::string& id, const std::string& token, bool is_private,
                              const std::string& type) {
    json::object body{{"name", id.substr(id.find('/') + 1)}, {"organization", id.substr(0, id.find('/'))},
                      {"type", type}, {"private", is_private}};
    auto r = post("/api/repos/create", json::serialize(body), token);
    if (r.status != 200) throw std::runtime_error("create_repo " + id + ": " + std::to_string(r.status) + " " + r.body);
}

http_response test_server::commit(const std::string& repo_path, const std::string& rev,
                                  const std::vector<std::string>& ops, const std::string& token,
                                  const std::string& summary, const std::string& query, const std::string& parent) {
    json::object header{{"summary", summary}, {"description", ""}};
    if (!parent.empty()) header["parentCommit"] = parent;
    std::string body = json::serialize(json::object{{"key", "header"}, {"value", header}}) + "\n";
    for (auto& op : ops) body += op + "\n";
    return send("POST", "/api/" + repo_path + "/commit/" + rev + query, body, token,
                {{"Content-Type", "application/x-ndjson"}});
}

std::string test_server::upload_lfs(const std::string& git_repo_path, const std::string& content,
                                    const std::string& token) {
    std::string sha = util::sha256_hex(content);
    json::object req{{"operation", "upload"},
                     {"transfers", json::array{"basic"}},
                     {"hash_algo", "sha256"},
                     {"objects", json::array{json::object{{"oid", sha}, {"size", content.size()}}}}};
    auto r = post("/" + git_repo_path + ".git/info/lfs/objects/batch", json::serialize(req), token,
                  "application/vnd.git-lfs+json");
    if (r.status != 200) throw std::runtime_error("lfs batch: " + std::to_string(r.status) + " " + r.body);
    auto obj = json::parse(r.body).at("objects").at(0).as_object();
    if (auto* actions = obj.if_contains("actions")) {
        std::string href = json::value_to<std::string>(actions->at("upload").at("href"));
        auto put = http_request("PUT", href, content);
        if (put.status != 200) throw std::runtime_error("lfs put: " + std::to_string(put.status) + " " + put.body);
    }
    return sha;
}

std::vector<std::string> test_server::log_lines() const {
    // A line is written after the answer's last byte is sent, so a client may hold the answer
    // before its line exists; wait (bounded) until no request is being answered.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (srv_->in_flight() != 0 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::vector<std::string> out;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

std::string test_server::add_file(const std::string& path, const std::string& content) {
    return json::serialize(json::object{
        {"key", "file"},
        {"value", json::object{{"content", util::base64_encode(content)}, {"path", path}, {"encoding", "base64"}}}});
}
std::string test_server::add_lfs(const std::string& path, const std::string& sha256, std::size_t size) {
    return json::serialize(json::object{
        {"key", "lfsFile"},
        {"value", json::object{{"path", path}, {"algo", "sha256"}, {"oid", sha256}, {"size", size}}}});
}
std::string test_server::delete_file(const std::string& path) {
    return json::serialize(json::object{{"key", "deletedFile"}, {"value", json::object{{"path", path}}}});
}
std::string test_server::delete_folder(const std::string& path) {
    return json::serialize(json::object{{"key", "deletedFolder"}, {"value", json::object{{"path", path}}}});
}

}  // namespace hfhub::test
