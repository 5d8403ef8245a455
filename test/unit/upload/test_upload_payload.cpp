// The pure parts of a commit: the NDJSON payload byte for byte, path rules, batching, and
// upload_folder's plan (allow/ignore/delete patterns with Python semantics).
#include "upload/payload.hpp"

#include <hfhub/commit.hpp>
#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace hfhub;
using namespace hfhub::upload;

namespace {
std::error_code path_error(const std::string& p, bool folder = false) {
    try {
        path_in_repo(p, folder);
    } catch (const hfhub::error& e) {
        return e.code();
    }
    return {};
}
using strings = std::vector<std::string>;
}  // namespace

BOOST_AUTO_TEST_SUITE(upload_payload)

BOOST_AUTO_TEST_CASE(payload_is_ndjson_byte_for_byte) {
    payload_header h{"Upload \"x\" \xc3\xa9", "line1\nline2", std::string("0123456789abcdef0123456789abcdef01234567")};
    std::vector<payload_op> ops{
        {payload_op::kind::file, "app.py", std::string("print(1)\n\0x", 11), {}, std::nullopt},
        {payload_op::kind::lfs_file, "w.bin", {}, std::string(64, 'a'), 123},
        {payload_op::kind::lfs_file, "copy.bin", {}, std::string(64, 'b'), std::nullopt},
        {payload_op::kind::deleted_file, "old.txt", {}, {}, std::nullopt},
        {payload_op::kind::deleted_folder, "logs", {}, {}, std::nullopt},
        {payload_op::kind::deleted_folder, "runs/", {}, {}, std::nullopt},
    };
    std::string want =
        R"({"key":"header","value":{"summary":"Upload \"x\" é","description":"line1\nline2","parentCommit":"0123456789abcdef0123456789abcdef01234567"}})"
        "\n"
        R"({"key":"file","value":{"content":"cHJpbnQoMSkKAHg=","path":"app.py","encoding":"base64"}})"
        "\n"
        R"({"key":"lfsFile","value":{"path":"w.bin","algo":"sha256","oid":")" + std::string(64, 'a') + R"(","size":123}})"
        "\n"
        R"({"key":"lfsFile","value":{"path":"copy.bin","algo":"sha256","oid":")" + std::string(64, 'b') + R"("}})"
        "\n"
        R"({"key":"deletedFile","value":{"path":"old.txt"}})"
        "\n"
        R"({"key":"deletedFolder","value":{"path":"logs/"}})"
        "\n"
        R"({"key":"deletedFolder","value":{"path":"runs/"}})"
        "\n";
    BOOST_TEST(commit_payload(h, ops) == want);
}

BOOST_AUTO_TEST_CASE(payload_without_parent_has_no_parent_field) {
    std::string got = commit_payload({"s", "", std::nullopt}, {});
    BOOST_TEST(got == "{\"key\":\"header\",\"value\":{\"summary\":\"s\",\"description\":\"\"}}\n");
}

BOOST_AUTO_TEST_CASE(path_rules_follow_python) {
    BOOST_TEST(path_in_repo("/a/b.txt") == "a/b.txt");
    BOOST_TEST(path_in_repo("./a/b.txt") == "a/b.txt");
    BOOST_TEST(path_in_repo("logs/", true) == "logs");
    BOOST_TEST(path_error(".") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(path_error("..") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(path_error("../x") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(path_error("a/../x") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(path_error(".git/config") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(path_error("a/.cache/x") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(path_error("a//b") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(path_error("") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(path_error("a\\b") == make_error_code(client_errc::invalid_path));
    BOOST_TEST(!path_error(".gitattributes"));
    BOOST_TEST(!path_error("a/.cachex/y"));
}

BOOST_AUTO_TEST_CASE(batches_cover_everything_once) {
    using ranges = std::vector<std::pair<std::size_t, std::size_t>>;
    BOOST_TEST((batches(0, 256) == ranges{}));
    BOOST_TEST((batches(256, 256) == ranges{{0, 256}}));
    BOOST_TEST((batches(257, 256) == ranges{{0, 256}, {256, 257}}));
    BOOST_TEST((batches(600, 256) == ranges{{0, 256}, {256, 512}, {512, 600}}));
    BOOST_TEST((batches(3, 0) == ranges{{0, 1}, {1, 2}, {2, 3}}));  // a zero size still progresses
}

BOOST_AUTO_TEST_CASE(pull_request_numbers_and_endpoints) {
    BOOST_TEST(pr_number("http://x/alice/m/discussions/12").value_or(0) == 12u);
    BOOST_TEST(!pr_number("http://x/alice/m/discussions/").has_value());
    BOOST_TEST(!pr_number("http://x/alice/m/discussions/1a").has_value());
    BOOST_TEST(!pr_number("http://x/alice/m").has_value());
    BOOST_TEST(fix_endpoint("https://huggingface.co/api/x", "http://127.0.0.1:9") == "http://127.0.0.1:9/api/x");
    BOOST_TEST(fix_endpoint("https://huggingface.com/x", "http://e") == "https://huggingface.com/x");
    BOOST_TEST(fix_endpoint("https://cdn.example/x", "http://e") == "https://cdn.example/x");
}

struct plan_case {
    strings allow, ignore, del;
    std::string prefix;
    strings want_upload, want_delete;
};

BOOST_AUTO_TEST_CASE(folder_plan_table) {
    strings local = {"README.md", "a/x.bin", "a/y.txt", "b/z.txt", ".git/HEAD", "sub/.git/config",
                     ".cache/huggingface/download/x.metadata", "c\\w.txt"};
    strings remote = {".gitattributes", "README.md", "a/old.bin", "a/x.bin", "keep.txt", "m/.gitattributes", "m/a.txt", "m/old.log"};
    std::vector<plan_case> cases = {
        // no patterns: everything but .git and .cache/huggingface, sorted, '\' → '/'
        {{}, {}, {}, "", {"README.md", "a/x.bin", "a/y.txt", "b/z.txt", "c/w.txt"}, {}},
        // '*' spans '/'
        {{"*.txt"}, {}, {}, "", {"a/y.txt", "b/z.txt", "c/w.txt"}, {}},
        // a trailing '/' means everything under the folder
        {{"a/"}, {}, {}, "", {"a/x.bin", "a/y.txt"}, {}},
        {{}, {"a/*", "*.md"}, {}, "", {"b/z.txt", "c/w.txt"}, {}},
        // delete: matched against remote paths; re-added files and the top .gitattributes are
        // kept (as in Python, a nested one is an ordinary file)
        {{"a/*"}, {}, {"*.bin", "*.gitattributes"}, "", {"a/x.bin", "a/y.txt"}, {"a/old.bin", "m/.gitattributes"}},
        {{}, {}, {"*"}, "", {"README.md", "a/x.bin", "a/y.txt", "b/z.txt", "c/w.txt"}, {"a/old.bin", "keep.txt", "m/.gitattributes", "m/a.txt", "m/old.log"}},
        // under path_in_repo: delete patterns are relative to it, its .gitattributes is kept
        {{"README.md"}, {}, {"*.log", ".gitattributes"}, "m", {"README.md"}, {"m/old.log"}},
        {{"README.md"}, {}, {"*"}, "/m/", {"README.md"}, {"m/a.txt", "m/old.log"}},
        // ignore patterns never bring back .git or .cache/huggingface
        {{}, {"logs/"}, {}, "ckpt", {"README.md", "a/x.bin", "a/y.txt", "b/z.txt", "c/w.txt"}, {}},
    };
    for (std::size_t i = 0; i < cases.size(); ++i) {
        auto& k = cases[i];
        folder_options o;
        o.allow_patterns = k.allow;
        o.ignore_patterns = k.ignore;
        o.delete_patterns = k.del;
        o.path_in_repo = k.prefix;
        auto plan = plan_folder(local, remote, o);
        BOOST_TEST_CONTEXT("case " << i) {
            BOOST_TEST(plan.upload == k.want_upload, boost::test_tools::per_element());
            BOOST_TEST(plan.delete_paths == k.want_delete, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
