// Repo ids, cache folder names, paths in repos, and the Link header of paginated listings.
#include "hub/link_header.hpp"

#include <hfhub/error.hpp>
#include <hfhub/repo.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

using namespace hfhub;

namespace {

// The error code `f` throws (an empty code when it doesn't), and its message.
template <class F>
std::error_code error_of(F&& f, std::string* what = nullptr) {
    try {
        f();
    } catch (const hfhub::error& e) {
        if (what) *what = e.what();
        return e.code();
    }
    return {};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(repo_names)

BOOST_AUTO_TEST_CASE(repo_types) {
    BOOST_TEST(to_string(repo_type::model) == "model");
    BOOST_TEST(to_string(repo_type::dataset) == "dataset");
    BOOST_TEST(to_string(repo_type::space) == "space");
    BOOST_TEST(plural(repo_type::model) == "models");
    BOOST_TEST(plural(repo_type::dataset) == "datasets");
    BOOST_TEST(plural(repo_type::space) == "spaces");
    BOOST_TEST(url_prefix(repo_type::model) == "");
    BOOST_TEST(url_prefix(repo_type::dataset) == "datasets/");
    BOOST_TEST(url_prefix(repo_type::space) == "spaces/");
    BOOST_TEST((parse_repo_type("model") == repo_type::model));
    BOOST_TEST((parse_repo_type("models") == repo_type::model));
    BOOST_TEST((parse_repo_type("dataset") == repo_type::dataset));
    BOOST_TEST((parse_repo_type("datasets") == repo_type::dataset));
    BOOST_TEST((parse_repo_type("space") == repo_type::space));
    BOOST_TEST((parse_repo_type("spaces") == repo_type::space));
    for (std::string bad : {"", "Model", "kernel", "modelss", "datasets/", " model"})
        BOOST_TEST(!parse_repo_type(bad).has_value(), "'" << bad << "'");
}

BOOST_AUTO_TEST_CASE(valid_repo_ids) {
    std::vector<std::string> ok = {"gpt2", "org/name", "a", "a/b", "A.b_c-d/e.F", "google-bert/bert-base-uncased",
                                   "a.b/c_d"};
    const std::string longest(96, 'n');  // the limit of each part
    ok.push_back("x1/" + longest);
    ok.push_back(longest + "/x");
    for (auto& id : ok) BOOST_TEST(!error_of([&] { validate_repo_id(id); }), id);
}

BOOST_AUTO_TEST_CASE(invalid_repo_ids) {
    std::vector<std::string> bad = {"",      "/",     "a/",       "/a",       "a/b/c",  "a//b",   "a--b",
                                    "a/b--c", "a..b", "x/a..b",   "-a",       "a-",     ".a",     "a.",
                                    "a/.b",  "a b",  "a/b c",    "caf\xc3\xa9", "a\\b", "a:b",   "a/b?c",
                                    "a\nb",  "a%2Fb", std::string(97, 'n'), "x/" + std::string(97, 'n'),
                                    std::string("a\0b", 3), "..", "a/.."};
    for (auto& id : bad) {
        std::string what;
        auto ec = error_of([&] { validate_repo_id(id); }, &what);
        BOOST_TEST(ec == make_error_code(client_errc::invalid_repo_id), "'" << id << "'");
        if (id.find('\0') == std::string::npos)  // what() is a C string
            BOOST_TEST(what.find("'" + id + "'") != std::string::npos, what);  // names the id
    }
}

BOOST_AUTO_TEST_CASE(folder_names) {
    BOOST_TEST(repo_folder_name(repo_type::model, "gpt2") == "models--gpt2");
    BOOST_TEST(repo_folder_name(repo_type::model, "google-bert/bert-base-uncased") ==
               "models--google-bert--bert-base-uncased");
    BOOST_TEST(repo_folder_name(repo_type::dataset, "org/data.v2") == "datasets--org--data.v2");
    BOOST_TEST(repo_folder_name(repo_type::space, "a_b/c-d") == "spaces--a_b--c-d");
}

BOOST_AUTO_TEST_CASE(valid_repo_paths) {
    std::vector<std::string> ok = {"a",          "a/b.txt", "dir/sub/file.bin", ".gitattributes", "a..b",
                                   "...",        "..a",     "a/.hidden",        "sp ace/x y.txt", "caf\xc3\xa9.txt",
                                   "a%2Fb",      ".gitignore", "x/.github/y", std::string(4000, 'p')};
    for (auto& p : ok) BOOST_TEST(!error_of([&] { validate_repo_path(p); }), p);
}

BOOST_AUTO_TEST_CASE(invalid_repo_paths) {
    std::vector<std::string> bad = {"",       "/",          "/a",   "//a",  "./a",   ".",       "..",
                                    "a/",     "a//b",       "../a", "a/..", "a/../b", "a/./b", "a\\b",
                                    ".git",   "x/.git/y",   ".git/config", "a\nb", "a\tb", std::string("a\0b", 3),
                                    "a\x7f", std::string(5000, 'p')};
    for (auto& p : bad) {
        std::string what;
        auto ec = error_of([&] { validate_repo_path(p); }, &what);
        BOOST_TEST(ec == make_error_code(client_errc::invalid_path), "'" << p << "'");
        BOOST_TEST(what.find("invalid path") != std::string::npos, what);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(link_header)

BOOST_AUTO_TEST_CASE(next_links) {
    struct row {
        std::string header;
        std::optional<std::string> next;
    };
    std::vector<row> rows = {
        {R"(<https://h/api/x?cursor=abc>; rel="next")", "https://h/api/x?cursor=abc"},
        {R"(<https://h/a>;rel="next")", "https://h/a"},  // no space after ';'
        {R"(<https://h/a>;rel=next)", "https://h/a"},
        {R"(<https://h/a> ; REL = "Next")", "https://h/a"},
        {R"(<https://h/p>; rel="prev", <https://h/n>; rel="next")", "https://h/n"},
        {R"(<https://h/n>; title="a;b,c"; rel="next")", "https://h/n"},
        {R"(<https://h/n>; rel="last next")", "https://h/n"},
        {R"(</api/x?p=2>; rel="next")", "/api/x?p=2"},  // relative: the caller resolves it
        {R"(<https://h/a,b>; rel="next")", "https://h/a,b"},
        {R"(<https://h/p>; rel="prev")", std::nullopt},
        {R"(<https://h/p>; rel="nextpage")", std::nullopt},
        {R"(<https://h/p>)", std::nullopt},
        {"", std::nullopt},
    };
    for (auto& r : rows) {
        bool malformed = true;
        auto got = hub::next_link(r.header, malformed);
        BOOST_TEST(!malformed, r.header);
        BOOST_TEST((got == r.next), r.header << " -> " << got.value_or("(none)"));
    }
}

BOOST_AUTO_TEST_CASE(malformed_links) {
    for (std::string h : {"https://h/a; rel=\"next\"", "<https://h/a; rel=\"next\"", "<https://h/a> rel=\"next\"",
                          "<https://h/a>; rel=\"next", "<>; rel=\"next\"", "<https://h/a>; rel=\"next\" x"}) {
        bool malformed = false;
        auto got = hub::next_link(h, malformed);
        BOOST_TEST(malformed, h);
        BOOST_TEST(!got.has_value(), h);
    }
}

BOOST_AUTO_TEST_SUITE_END()
