// The crash test's checks of what a restarted server serves and what its root holds.
#include "crash_checker.hpp"

#include "util/hash.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <set>

namespace hfhub::crash {

namespace fs = std::filesystem;
namespace json = boost::json;

std::map<std::string, std::string> checker::branches(const std::string& repo) {
    auto info = call("GET", api(base, repo));
    BOOST_TEST_REQUIRE(info.status == 200u, repo << " info: " << info.body);
    auto refs = call("GET", api(base, repo) + "/refs");
    BOOST_TEST_REQUIRE(refs.status == 200u, repo << " refs: " << refs.body);
    std::map<std::string, std::string> out;
    json::value parsed = json::parse(refs.body);  // outlives the loop
    for (auto& b : parsed.at("branches").as_array())
        out[json::value_to<std::string>(b.at("name"))] = json::value_to<std::string>(b.at("targetCommit"));
    BOOST_TEST_REQUIRE(out.count("main") == 1u, repo << " has no main branch: " << refs.body);
    BOOST_TEST(json::value_to<std::string>(json::parse(info.body).at("sha")) == out["main"],
               repo << ": info sha differs from refs main");
    return out;
}

tree checker::list(const std::string& repo, const std::string& rev) {
    tree out;
    std::string url = api(base, repo) + "/tree/" + rev + "?recursive=true&limit=25";
    for (int pages = 0; !url.empty(); ++pages) {
        BOOST_TEST_REQUIRE(pages < 1000, "tree pagination does not end");
        auto r = call("GET", url);
        BOOST_TEST_REQUIRE(r.status == 200u, repo << " tree " << rev << ": " << r.body);
        json::value page = json::parse(r.body);
        for (auto& v : page.as_array()) {
            if (v.at("type") != "file") continue;
            entry e{json::value_to<std::string>(v.at("oid")), v.at("size").to_number<std::uint64_t>(), {}};
            if (auto* l = v.as_object().if_contains("lfs")) {
                e.lfs = json::value_to<std::string>(l->at("oid"));
                BOOST_TEST(l->at("size").to_number<std::uint64_t>() == e.size);
            }
            std::string path = json::value_to<std::string>(v.at("path"));
            BOOST_TEST(out.count(path) == 0u, "listed twice: " << path);
            out[path] = e;
        }
        url = next_link(r);
    }
    return out;
}

void checker::check_bytes(const std::string& repo, const std::string& rev, const std::string& commit, const tree& files) {
    for (auto& [path, e] : files) {
        auto r = call("GET", base + "/" + repo + "/resolve/" + rev + "/" + path);
        BOOST_TEST(r.header("x-repo-commit") == commit, repo << "@" << rev << " " << path);
        std::string body;
        if (e.lfs.empty()) {
            BOOST_TEST_REQUIRE(r.status == 200u, repo << "@" << rev << " " << path << ": " << r.body);
            BOOST_TEST(r.header("etag") == "\"" + e.oid + "\"", path);
            body = std::move(r.body);
            BOOST_TEST(hfhub::util::git_blob_sha1(body) == e.oid, repo << "@" << rev << " " << path << " is corrupt");
        } else {
            BOOST_TEST_REQUIRE(r.status == 302u, repo << "@" << rev << " " << path << ": " << r.body);
            BOOST_TEST(r.header("x-linked-etag") == "\"" + e.lfs + "\"", path);
            BOOST_TEST(r.header("x-linked-size") == std::to_string(e.size), path);
            auto d = call("GET", r.header("location"));
            BOOST_TEST_REQUIRE(d.status == 200u, repo << "@" << rev << " " << path << " storage: " << d.body);
            body = std::move(d.body);
            BOOST_TEST(hfhub::util::sha256_hex(body) == e.lfs, repo << "@" << rev << " " << path << " is corrupt");
        }
        BOOST_TEST(body.size() == e.size, repo << "@" << rev << " " << path << " size");
        ++files_checked;
        bytes_checked += body.size();
    }
}

std::vector<std::string> checker::history(const std::string& repo, const std::string& rev) {
    std::vector<std::string> out;
    std::string url = api(base, repo) + "/commits/" + rev + "?limit=500";
    for (int pages = 0; !url.empty(); ++pages) {
        BOOST_TEST_REQUIRE(pages < 1000, "commit pagination does not end");
        auto r = call("GET", url);
        BOOST_TEST_REQUIRE(r.status == 200u, repo << " commits " << rev << ": " << r.body);
        json::value page = json::parse(r.body);
        for (auto& v : page.as_array()) out.push_back(json::value_to<std::string>(v.at("id")));
        url = next_link(r);
    }
    return out;
}

void checker::check_stream(stream& s, const std::map<std::string, std::string>& refs) {
    auto it = refs.find(s.branch);
    BOOST_TEST_REQUIRE((it != refs.end()), s.repo << " lost branch " << s.branch);
    const std::string head = it->second;
    BOOST_TEST_REQUIRE(hfhub::util::is_hex(head, 40), s.repo << "@" << s.branch << " head " << head);
    auto hist = history(s.repo, s.branch);
    BOOST_TEST_REQUIRE(!hist.empty());
    BOOST_TEST(hist.front() == head);

    // The head is the last acknowledged commit, or the one whose answer was lost.
    if (head != s.head) {
        bool in_flight = s.in_flight && hist.size() >= 2 && hist[1] == s.head;
        BOOST_TEST_REQUIRE(in_flight, s.repo << "@" << s.branch << " head " << head
                                             << " is neither the last acknowledged commit " << s.head
                                             << " nor a child of it sent in flight");
        s.head = head;
        s.files = *s.in_flight;
        s.acked.push_back(head);
        ++s.recovered;
    }
    s.in_flight.reset();

    std::set<std::string> reachable(hist.begin(), hist.end());
    for (auto& id : s.acked)
        BOOST_TEST(reachable.count(id) == 1u, s.repo << "@" << s.branch << " lost acknowledged commit " << id);

    tree listed = list(s.repo, s.branch);
    for (auto& [path, e] : s.files) {
        auto l = listed.find(path);
        if (l == listed.end()) BOOST_ERROR(s.repo << "@" << s.branch << " lost " << path);
        else BOOST_TEST((l->second == e), s.repo << "@" << s.branch << " " << path << " is " << describe(l->second)
                                               << ", expected " << describe(e));
    }
    for (auto& [path, e] : listed)
        BOOST_TEST(s.files.count(path) == 1u, s.repo << "@" << s.branch << " has unexpected " << path);
    check_bytes(s.repo, s.branch, head, listed);

    // Acknowledged LFS uploads are still stored: the batch asks for no upload. Batches of
    // 256, as clients send them (the server takes at most 1000 objects a call).
    for (std::size_t from = 0; from < s.objects.size(); from += 256) {
        json::array objs;
        for (std::size_t i = from; i < std::min(s.objects.size(), from + 256); ++i)
            objs.push_back(json::object{{"oid", s.objects[i].sha}, {"size", s.objects[i].size}});
        auto r = call("POST", base + "/" + s.repo + ".git/info/lfs/objects/batch",
                      json::serialize(json::object{{"operation", "upload"},
                                                   {"transfers", json::array{"basic"}},
                                                   {"objects", std::move(objs)}}),
                      {{"Content-Type", "application/vnd.git-lfs+json"}});
        BOOST_TEST_REQUIRE(r.status == 200u, r.body);
        json::value answer = json::parse(r.body);
        for (auto& o : answer.at("objects").as_array())
            BOOST_TEST(!o.as_object().contains("actions"),
                       s.repo << " lost acknowledged LFS object " << json::serialize(o.at("oid")));
    }
}

void checker::check_created(const created_repo& c) {
    auto info = call("GET", api(base, c.id));
    if (!c.acked && info.status == 404) return;  // its creation never finished: fine
    BOOST_TEST_REQUIRE(info.status == 200u, c.id << (c.acked ? " (acknowledged)" : " (in flight)") << ": "
                                                 << info.body);
    auto refs = branches(c.id);
    tree listed = list(c.id, "main");
    BOOST_TEST(listed.size() == 2u, c.id << " has " << listed.size() << " files");
    BOOST_TEST(listed.count(".gitattributes") == 1u, c.id);
    auto it = listed.find("README.md");
    BOOST_TEST_REQUIRE((it != listed.end()), c.id << " lost README.md");
    BOOST_TEST((it->second == regular_entry(c.readme)), c.id << " README.md is " << describe(it->second));
    check_bytes(c.id, "main", refs["main"], listed);
}

void check_disk(const fs::path& root, std::size_t& commit_files) {
    for (auto& e : fs::recursive_directory_iterator(root)) {
        if (!e.is_regular_file()) continue;
        std::string name = e.path().filename().string();
        BOOST_TEST(name.find(".tmp.") == std::string::npos, "temp file left over: " << e.path());
        if (e.path().parent_path().filename() == "commits" && name.ends_with(".json")) {
            std::ifstream in(e.path(), std::ios::binary);
            std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            BOOST_TEST(hfhub::util::sha1_hex(text) + ".json" == name, "torn commit file " << e.path());
            ++commit_files;
        }
    }
}

bool tmp_is_empty(const fs::path& root) {
    std::error_code ec;
    auto it = fs::directory_iterator(root / "tmp", ec);
    if (ec) return true;
    bool empty = it == fs::directory_iterator();
    for (; it != fs::directory_iterator(); ++it) BOOST_TEST_MESSAGE("left in tmp: " << it->path());
    return empty;
}

std::string log_tail(const fs::path& log) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return text.size() > 4000 ? text.substr(text.size() - 4000) : text;
}

}  // namespace hfhub::crash
