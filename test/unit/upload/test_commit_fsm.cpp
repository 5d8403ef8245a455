// commit_fsm, one commit: send, rebase onto a moved parent, and the lost answer ("did it land?").
// Every row walks one branch; changing that branch changes an action the row names.
#include "commit_fsm_rows.hpp"

#include <stdexcept>

using namespace hfhub;
using namespace hfhub::upload;
using namespace hfhub::upload::test_rows;

namespace {

const std::string P = "p0000000000000000000000000000000000000000";  // the parent the caller named
const std::string H = "h0000000000000000000000000000000000000000";  // the head it prepared against
const std::string N = "n0000000000000000000000000000000000000000";  // a head someone else moved to

struct row {
    const char* name;
    std::optional<std::string> parent;
    std::string head_before;
    bool create_pr = false;
    bool rebase = false;
    unsigned max_rebases = 5;
    std::vector<step> steps;
};

commit_request request(const row& r) {
    commit_request cr;
    cr.header = {"msg", "", r.parent};
    cr.ops.push_back({payload_op::kind::file, "a.txt", "A", {}, std::nullopt});
    cr.revision = "main";
    cr.create_pr = r.create_pr;
    cr.head_before = r.head_before;
    cr.touched = {"a.txt", "b.txt"};
    cr.expected = {{"a.txt", "f:aaa"}, {"gone.txt", ""}};
    return cr;
}

const std::error_code stale = hub_errc::precondition_failed;
const std::error_code broke = client_errc::connection_failed;
const path_signature ours{{"a.txt", "f:aaa"}};           // what our commit leaves
const path_signature theirs{{"a.txt", "f:zzz"}};         // someone else's content
const path_signature sig_a{{"a.txt", "f:1"}, {"b.txt", "f:2"}};
const path_signature sig_b{{"a.txt", "f:1"}, {"b.txt", "f:3"}};

ev::send_failed lost() { return ev::send_failed{client_side(client_errc::connection_failed)}; }
ev::send_failed conflict() { return ev::send_failed{hub(hub_errc::precondition_failed, 412)}; }

// Answered, refused, and rebased or not.
std::vector<row> send_rows() {
    return {
        {"answered", P, H, false, false, 5,
         {{ev::start{}, {kind::send, P}}, {ev::sent{answered("c1")}, {kind::done, "c1"}}}},
        {"refused, not lost", std::nullopt, H, false, false, 5,
         {{ev::start{}, {kind::send, "-"}},
          {ev::send_failed{hub(hub_errc::forbidden, 403)}, {kind::fail, "", hub_errc::forbidden}}}},
        {"stale parent, rebase off", P, H, false, false, 5,
         {{ev::start{}, {kind::send, P}}, {conflict(), {kind::fail, "", stale}}}},
        {"stale, no parent to rebase", std::nullopt, H, false, true, 5,
         {{ev::start{}, {kind::send, "-"}}, {conflict(), {kind::fail, "", stale}}}},
        {"rebase: head still the parent", P, H, false, true, 5,
         {{ev::start{}, {kind::send, P}}, {conflict(), {kind::read_head, "main"}}, {ev::head{P}, {kind::fail, "", stale}}}},
        {"rebase: untouched paths, resent on the new head", P, H, false, true, 5,
         {{ev::start{}, {kind::send, P}},
          {conflict(), {kind::read_head, "main"}},
          {ev::head{N}, {kind::read_signature, P + ":a.txt,b.txt"}},
          {ev::signature{sig_a}, {kind::read_signature, N + ":a.txt,b.txt"}},
          {ev::signature{sig_a}, {kind::send, N}},
          {ev::sent{answered("c2")}, {kind::done, "c2"}}}},
        {"rebase: a touched path changed", P, H, false, true, 5,
         {{ev::start{}, {kind::send, P}},
          {conflict(), {kind::read_head, "main"}},
          {ev::head{N}, {kind::read_signature, P + ":a.txt,b.txt"}},
          {ev::signature{sig_a}, {kind::read_signature, N + ":a.txt,b.txt"}},
          {ev::signature{sig_b}, {kind::fail, "", stale}}}},
        {"rebase: the limit reached", P, H, false, true, 1,
         {{ev::start{}, {kind::send, P}},
          {conflict(), {kind::read_head, "main"}},
          {ev::head{N}, {kind::read_signature, P + ":a.txt,b.txt"}},
          {ev::signature{sig_a}, {kind::read_signature, N + ":a.txt,b.txt"}},
          {ev::signature{sig_a}, {kind::send, N}},
          {conflict(), {kind::fail, "", stale}}}},
    };
}

// The answer lost: did it land?
std::vector<row> lost_rows() {
    return {
        {"lost, but a pull request: not looked for", std::nullopt, H, true, false, 5,
         {{ev::start{}, {kind::send, "-"}}, {lost(), {kind::fail, "", broke}}}},
        {"lost, head unknown: not looked for", std::nullopt, "", false, false, 5,
         {{ev::start{}, {kind::send, "-"}}, {lost(), {kind::fail, "", broke}}}},
        {"lost, head unmoved: sent once more, pinned", std::nullopt, H, false, false, 5,
         {{ev::start{}, {kind::send, "-"}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{H}, {kind::read_head, "main"}},
          {ev::head{H}, {kind::send, H}},
          {ev::sent{answered("c3")}, {kind::done, "c3"}}}},
        {"lost, and it landed", std::nullopt, H, false, false, 5,
         {{ev::start{}, {kind::send, "-"}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{N}, {kind::list_commits, "main"}},
          {ev::log{{entry(N, "msg"), entry(H, "msg")}}, {kind::read_signature, N + ":a.txt,gone.txt"}},
          {ev::signature{ours}, {kind::done, N}}}},
        {"lost: other titles skipped, the search stops at our head", std::nullopt, H, false, false, 5,
         {{ev::start{}, {kind::send, "-"}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{N}, {kind::list_commits, "main"}},
          {ev::log{{entry(N, "other"), entry(H, "msg"), entry("old", "msg")}}, {kind::read_head, "main"}},
          {ev::head{N}, {kind::send, N}}}},
        {"lost: same title, other content, then ours further down", std::nullopt, H, false, false, 5,
         {{ev::start{}, {kind::send, "-"}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{N}, {kind::list_commits, "main"}},
          {ev::log{{entry(N, "msg"), entry("m1", "msg"), entry(H, "x")}}, {kind::read_signature, N + ":a.txt,gone.txt"}},
          {ev::signature{theirs}, {kind::read_signature, "m1:a.txt,gone.txt"}},
          {ev::signature{ours}, {kind::done, "m1"}}}},
        {"lost, not landed, the named parent moved: not resent", P, H, false, false, 5,
         {{ev::start{}, {kind::send, P}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{H}, {kind::read_head, "main"}},
          {ev::head{N}, {kind::fail, "", broke}}}},
        {"lost, not landed, the named parent still the head: resent", P, P, false, false, 5,
         {{ev::start{}, {kind::send, P}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{P}, {kind::read_head, "main"}},
          {ev::head{P}, {kind::send, P}}}},
        {"lost twice: the second is not looked for", std::nullopt, H, false, false, 5,
         {{ev::start{}, {kind::send, "-"}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{H}, {kind::read_head, "main"}},
          {ev::head{H}, {kind::send, H}},
          {lost(), {kind::fail, "", broke}}}},
        {"resent and stale: the first attempt landed late", std::nullopt, H, false, false, 5,
         {{ev::start{}, {kind::send, "-"}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{H}, {kind::read_head, "main"}},
          {ev::head{H}, {kind::send, H}},
          {conflict(), {kind::read_head, "main"}},
          {ev::head{N}, {kind::list_commits, "main"}},
          {ev::log{{entry(N, "msg")}}, {kind::read_signature, N + ":a.txt,gone.txt"}},
          {ev::signature{ours}, {kind::done, N}}}},
        {"resent and stale, nothing of ours landed", std::nullopt, H, false, false, 5,
         {{ev::start{}, {kind::send, "-"}},
          {lost(), {kind::read_head, "main"}},
          {ev::head{H}, {kind::read_head, "main"}},
          {ev::head{H}, {kind::send, H}},
          {conflict(), {kind::read_head, "main"}},
          {ev::head{H}, {kind::fail, "", stale}}}},
    };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(upload_commit_fsm)

BOOST_AUTO_TEST_CASE(every_branch_of_one_commit) {
    std::vector<row> all = send_rows();
    for (row& r : lost_rows()) all.push_back(std::move(r));
    for (const row& r : all) {
        BOOST_TEST_CONTEXT(r.name) {
            commit_limits l;
            l.rebase_on_conflict = r.rebase;
            l.max_rebases = r.max_rebases;
            commit_fsm fsm(request(r), l);
            run(fsm, r.steps);
        }
    }
}

BOOST_AUTO_TEST_CASE(a_rebase_moves_head_before_too) {
    // The lost-answer search after a rebase starts from the head the commit was rebased onto.
    commit_limits l;
    l.rebase_on_conflict = true;
    commit_fsm fsm(request({"", P, H}), l);
    commit_action a = run(fsm, {{ev::start{}, {kind::send, P}},
                                {ev::send_failed{hub(hub_errc::precondition_failed, 412)}, {kind::read_head, "main"}},
                                {ev::head{N}, {kind::read_signature, P + ":a.txt,b.txt"}},
                                {ev::signature{sig_a}, {kind::read_signature, N + ":a.txt,b.txt"}},
                                {ev::signature{sig_a}, {kind::send, N}}});
    BOOST_TEST(a.request->head_before == N);
    run(fsm, {{ev::send_failed{client_side(client_errc::timeout)}, {kind::read_head, "main"}},
              {ev::head{N}, {kind::read_head, "main"}}});
}

BOOST_AUTO_TEST_CASE(the_failure_returned_is_the_servers) {
    commit_fsm fsm(request({"", std::nullopt, H}), commit_limits());
    fsm.resume(ev::start{});
    diagnostics d;
    d.status = 403;
    d.request_id = "rid-7";
    commit_action a = fsm.resume(ev::send_failed{error(hub_errc::forbidden, d)});
    BOOST_TEST_REQUIRE(a.failure.has_value());
    BOOST_TEST(a.failure->diag().request_id == "rid-7");
}

BOOST_AUTO_TEST_CASE(not_rebased_names_the_changed_paths) {
    commit_limits l;
    l.rebase_on_conflict = true;
    commit_fsm fsm(request({"", P, H}), l);
    fsm.resume(ev::start{});
    fsm.resume(ev::send_failed{hub(hub_errc::precondition_failed, 412)});
    fsm.resume(ev::head{N});
    fsm.resume(ev::signature{sig_a});
    commit_action a = fsm.resume(ev::signature{path_signature{{"a.txt", "f:1"}}});
    BOOST_TEST_REQUIRE(a.failure.has_value());
    BOOST_TEST(a.failure->diag().status == 412u);
    BOOST_TEST(a.failure->diag().client_message ==
               "from the server; not rebased: changed since the parent commit: b.txt");
}

BOOST_AUTO_TEST_CASE(an_unexpected_event_is_a_driver_bug) {
    commit_fsm fsm(request({"", std::nullopt, H}), commit_limits());
    BOOST_CHECK_THROW(fsm.resume(ev::head{H}), std::logic_error);
    fsm.resume(ev::start{});
    BOOST_CHECK_THROW(fsm.resume(ev::signature{}), std::logic_error);
    fsm.resume(ev::sent{answered("c")});
    BOOST_CHECK_THROW(fsm.resume(ev::sent{answered("c")}), std::logic_error);
}

BOOST_AUTO_TEST_CASE(which_failures_may_have_landed) {
    struct {
        error e;
        bool lost;
    } cases[] = {
        {client_side(client_errc::connection_failed), true},
        {client_side(client_errc::timeout), true},
        {client_side(client_errc::protocol_error), true},
        {client_side(client_errc::retries_exhausted), true},
        {client_side(client_errc::tls_error), false},
        {client_side(client_errc::cancelled), false},
        {hub(hub_errc::server_error, 500), true},
        {hub(hub_errc::server_error, 503), true},
        {hub(hub_errc::conflict, 409), false},
        {hub(hub_errc::precondition_failed, 412), false},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.e.what()) { BOOST_TEST(lost_answer(c.e) == c.lost); }
}

BOOST_AUTO_TEST_CASE(what_a_landed_commit_must_hold) {
    using expectations = std::vector<std::pair<std::string, std::string>>;
    struct {
        const char* name;
        path_signature sig;
        expectations want;
        bool holds;
    } cases[] = {
        {"regular file by blob id", {{"a", "f:123"}}, {{"a", "f:123"}}, true},
        {"another blob", {{"a", "f:124"}}, {{"a", "f:123"}}, false},
        {"LFS file by its sha256 at the end", {{"w", "f:b10b:5ha"}}, {{"w", "5ha"}}, true},
        {"another LFS object", {{"w", "f:b10b:other"}}, {{"w", "5ha"}}, false},
        {"unchanged LFS file: only that it is a file", {{"w", "f:b10b:5ha"}}, {{"w", "f:"}}, true},
        {"deleted and gone", {}, {{"gone", ""}}, true},
        {"deleted but still there", {{"gone", "f:1"}}, {{"gone", ""}}, false},
        {"expected file missing", {}, {{"a", "f:123"}}, false},
        {"every path must hold", {{"a", "f:123"}}, {{"a", "f:123"}, {"b", "f:9"}}, false},
    };
    for (auto& c : cases)
        BOOST_TEST_CONTEXT(c.name) { BOOST_TEST(holds_expected(c.sig, c.want) == c.holds); }
}

BOOST_AUTO_TEST_SUITE_END()
