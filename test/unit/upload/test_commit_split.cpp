// commit_fsm, many commits: where multi_commit cuts, and how the parts follow each other.
#include "commit_fsm_rows.hpp"

#include "util/hash.hpp"

using namespace hfhub;
using namespace hfhub::upload;
using namespace hfhub::upload::test_rows;

namespace {

payload_op file(std::string path, std::size_t bytes) {
    return {payload_op::kind::file, std::move(path), std::string(bytes, 'x'), {}, std::nullopt};
}
payload_op lfs(const std::string& path) { return {payload_op::kind::lfs_file, path, {}, "5ha-" + path, 10}; }
payload_op del(std::string path) { return {payload_op::kind::deleted_file, std::move(path), {}, {}, std::nullopt}; }
payload_op del_folder(std::string path) {
    return {payload_op::kind::deleted_folder, std::move(path), {}, {}, std::nullopt};
}

commit_request request(std::vector<payload_op> ops, bool create_pr = false) {
    commit_request cr;
    cr.header = {"msg", "why", std::string("p0")};
    cr.ops = std::move(ops);
    cr.revision = "main";
    cr.create_pr = create_pr;
    cr.head_before = create_pr ? "" : "h0";
    cr.touched = {"ignored by the parts"};
    return cr;
}

// The paths of each part, "a,b|c".
std::string shape(const std::vector<commit_request>& parts) {
    std::string s;
    for (std::size_t k = 0; k < parts.size(); ++k) {
        if (k) s += "|";
        for (std::size_t i = 0; i < parts[k].ops.size(); ++i) s += (i ? "," : "") + parts[k].ops[i].path;
    }
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upload_commit_split)

BOOST_AUTO_TEST_CASE(where_the_parts_are_cut) {
    struct {
        const char* name;
        std::vector<payload_op> ops;
        std::size_t max_files;
        std::uint64_t max_bytes;
        std::string parts;
    } cases[] = {
        {"by count", {file("a", 1), file("b", 1), file("c", 1)}, 2, 100, "a,b|c"},
        {"by count, exactly full", {file("a", 1), file("b", 1)}, 2, 100, "a,b"},
        {"by inline bytes", {file("a", 60), file("b", 40), file("c", 1)}, 10, 100, "a,b|c"},
        {"LFS files weigh nothing inline", {file("a", 100), lfs("w"), lfs("v")}, 10, 100, "a,w,v"},
        {"one file over the byte limit is a part alone", {file("big", 500), file("a", 1)}, 10, 100, "big|a"},
        {"deletes first, in their order", {file("a", 1), del("x"), lfs("w"), del_folder("d")}, 2, 100, "x,d|a,w"},
        {"zero files a part: one each", {file("a", 1), file("b", 1)}, 0, 100, "a|b"},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.name) {
            BOOST_TEST(shape(split_commit(request(c.ops), c.max_files, c.max_bytes)) == c.parts);
        }
}

BOOST_AUTO_TEST_CASE(each_part_is_a_commit_of_its_own) {
    auto parts = split_commit(request({del("x"), file("a", 3), lfs("w")}), 2, 100);
    BOOST_TEST_REQUIRE(parts.size() == 2u);
    BOOST_TEST(parts[0].header.summary == "msg (part 1 of 2)");
    BOOST_TEST(parts[1].header.summary == "msg (part 2 of 2)");
    BOOST_TEST(parts[0].header.description == "why");
    BOOST_TEST(parts[0].header.parent_commit.value_or("-") == "p0");
    BOOST_TEST(parts[1].header.parent_commit.value_or("-") == "-");
    BOOST_TEST(parts[0].head_before == "h0");
    BOOST_TEST(parts[1].head_before == "");  // the first part's commit, once known
    // What each part touches and leaves: recomputed from its own operations.
    BOOST_TEST(parts[0].touched == (std::vector<std::string>{"x", "a"}), boost::test_tools::per_element());
    using expectations = std::vector<std::pair<std::string, std::string>>;
    BOOST_TEST((parts[0].expected == expectations{{"x", ""}, {"a", "f:" + util::git_blob_sha1("xxx")}}));
    BOOST_TEST((parts[1].expected == expectations{{"w", "5ha-w"}}));
}

BOOST_AUTO_TEST_CASE(multi_commit_splits_only_what_exceeds_a_limit) {
    struct {
        const char* name;
        bool multi;
        std::size_t max_files;
        std::uint64_t max_bytes;
        std::size_t parts;
        std::string summary;
    } cases[] = {
        {"off", false, 1, 1, 1, "msg"},
        {"on, within both limits", true, 3, 3, 1, "msg"},
        {"on, too many files", true, 2, 100, 2, "msg (part 1 of 2)"},
        {"on, too many bytes", true, 10, 2, 2, "msg (part 1 of 2)"},
        {"on, a byte a part", true, 10, 1, 3, "msg (part 1 of 3)"},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.name) {
            commit_limits l;
            l.multi_commit = c.multi;
            l.max_files = c.max_files;
            l.max_regular_bytes = c.max_bytes;
            commit_fsm fsm(request({file("a", 1), file("b", 1), file("c", 1)}), l);
            BOOST_TEST(fsm.parts() == c.parts);
            commit_action a = fsm.resume(ev::start{});
            BOOST_TEST(a.request->header.summary == c.summary);
        }
}

BOOST_AUTO_TEST_CASE(parts_follow_each_other) {
    commit_limits l;
    l.multi_commit = true;
    l.max_files = 1;
    commit_fsm fsm(request({file("a", 1), file("b", 1), file("c", 1)}), l);
    commit_action a = run(fsm, {{ev::start{}, {kind::send, "p0"}}, {ev::sent{answered("c1")}, {kind::send, "-"}}});
    BOOST_TEST(a.request->head_before == "c1");  // a lost answer is looked for above part 1
    a = run(fsm, {{ev::sent{answered("c2")}, {kind::send, "-"}}});
    BOOST_TEST(a.request->head_before == "c2");
    BOOST_TEST(a.request->revision == "main");
    a = run(fsm, {{ev::sent{answered("c3")}, {kind::done, "c3"}}});
    BOOST_TEST(a.info.commits == 3u);
    BOOST_TEST(a.info.url == "u/c3");
}

BOOST_AUTO_TEST_CASE(one_commit_keeps_its_answer_whole) {
    commit_fsm fsm(request({file("a", 1)}), commit_limits());
    commit_info got = answered("c1", 4);
    got.url = "from the answer";
    fsm.resume(ev::start{});
    commit_action a = fsm.resume(ev::sent{got});
    BOOST_TEST(a.info.commits == 1u);
    BOOST_TEST(a.info.url == "from the answer");
    BOOST_TEST(a.info.pr_num.value_or(0) == 4u);
}

BOOST_AUTO_TEST_CASE(later_parts_go_to_the_pull_request_the_first_opened) {
    struct {
        const char* name;
        bool create_pr;
        std::optional<unsigned> pr;
        std::string revision;
        bool still_create_pr;
    } cases[] = {
        {"a pull request opened", true, 7, "refs/pr/7", false},
        {"asked for one, none named", true, std::nullopt, "main", true},
        {"a branch commit", false, std::nullopt, "main", false},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.name) {
            commit_limits l;
            l.multi_commit = true;
            l.max_files = 1;
            commit_fsm fsm(request({file("a", 1), file("b", 1), file("c", 1)}, c.create_pr), l);
            fsm.resume(ev::start{});
            commit_action a = fsm.resume(ev::sent{answered("c1", c.pr)});
            BOOST_TEST(a.request->revision == c.revision);
            BOOST_TEST(a.request->create_pr == c.still_create_pr);
            a = fsm.resume(ev::sent{answered("c2")});
            BOOST_TEST(a.request->revision == c.revision);
            a = fsm.resume(ev::sent{answered("c3")});
            BOOST_TEST((a.info.pr_num == c.pr));  // the first part's answer, with the last oid
            BOOST_TEST(a.info.oid == "c3");
        }
}

BOOST_AUTO_TEST_CASE(each_part_may_resolve_one_lost_answer) {
    commit_limits l;
    l.multi_commit = true;
    l.max_files = 1;
    commit_fsm fsm(request({file("a", 1), file("b", 1)}), l);
    auto lost = [] { return ev::send_failed{client_side(client_errc::timeout)}; };
    // Part 1 under a named parent that is no longer the head: lost, not landed, not resent.
    run(fsm, {{ev::start{}, {kind::send, "p0"}},
              {lost(), {kind::read_head, "main"}},
              {ev::head{"h0"}, {kind::read_head, "main"}},
              {ev::head{"h0"}, {kind::fail, "", client_errc::timeout}}});
    // Without a named parent: part 1 is resent once, and part 2 still has its own chance.
    commit_request cr = request({file("a", 1), file("b", 1)});
    cr.header.parent_commit.reset();
    commit_fsm again(std::move(cr), l);
    run(again, {{ev::start{}, {kind::send, "-"}},
                {lost(), {kind::read_head, "main"}},
                {ev::head{"h0"}, {kind::read_head, "main"}},
                {ev::head{"h0"}, {kind::send, "h0"}},
                {ev::sent{answered("c1")}, {kind::send, "-"}},
                // Part 2's lost answer is looked for above part 1.
                {lost(), {kind::read_head, "main"}},
                {ev::head{"c2"}, {kind::list_commits, "main"}},
                {ev::log{{entry("c2", "msg (part 2 of 2)")}}, {kind::read_signature, "c2:b"}},
                {ev::signature{{{"b", "f:" + util::git_blob_sha1("x")}}}, {kind::done, "c2"}}});
}

BOOST_AUTO_TEST_CASE(a_part_found_landed_gets_the_commits_url) {
    commit_limits l;
    l.multi_commit = true;
    l.max_files = 1;
    commit_fsm fsm(request({file("a", 1), file("b", 1)}), l);
    commit_action a = run(fsm, {{ev::start{}, {kind::send, "p0"}},
                                {ev::sent{answered("c1")}, {kind::send, "-"}},
                                {ev::send_failed{hub(hub_errc::server_error, 502)}, {kind::read_head, "main"}},
                                {ev::head{"c2"}, {kind::list_commits, "main"}},
                                {ev::log{{entry("c2", "msg (part 2 of 2)")}}, {kind::read_signature, "c2:b"}},
                                {ev::signature{{{"b", "f:" + util::git_blob_sha1("x")}}}, {kind::done, "c2"}}});
    BOOST_TEST(a.info.url == "");  // the first part's url is not the landed commit's: the driver makes it
    BOOST_TEST(a.info.commits == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
