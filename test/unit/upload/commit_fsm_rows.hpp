// Scripted runs of commit_fsm: each step feeds one event and names the action it must produce.
#pragma once

#include "upload/commit_fsm.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

namespace hfhub::upload::test_rows {

using kind = commit_action::kind;
namespace ev = commit_event;

// What the action must be. `arg`: the revision for read_head and list_commits, "<rev>:<path>,..."
// for read_signature, the oid for done, the parent the request carries for send ("-": none).
struct want {
    kind what;
    std::string arg;
    std::error_code code = std::error_code();  // fail
};

struct step {
    commit_input in;
    want out;
};

inline error hub(hub_errc e, unsigned status) {
    diagnostics d;
    d.status = status;
    d.client_message = "from the server";
    return error(e, std::move(d));
}
inline error client_side(client_errc e) { return error(e, diagnostics()); }

inline commit_info answered(std::string oid, std::optional<unsigned> pr = std::nullopt) {
    commit_info i;
    i.oid = std::move(oid);
    i.url = "u/" + i.oid;
    i.pr_num = pr;
    return i;
}

inline commit_summary entry(std::string id, std::string title) {
    commit_summary s;
    s.id = std::move(id);
    s.title = std::move(title);
    return s;
}

inline std::string arg_of(const commit_action& a) {
    switch (a.what) {
    case kind::send:
        return a.request->header.parent_commit.value_or("-");
    case kind::read_head:
    case kind::list_commits:
        return a.revision;
    case kind::read_signature: {
        std::string s = a.revision + ":";
        for (std::size_t i = 0; i < a.paths.size(); ++i) s += (i ? "," : "") + a.paths[i];
        return s;
    }
    case kind::done:
        return a.info.oid;
    case kind::fail:
        return a.failure ? error_name(a.failure->code()) : "no failure";
    }
    return "?";
}

// Runs `steps` (the first event is start) and checks every action; returns the last one.
inline commit_action run(commit_fsm& fsm, const std::vector<step>& steps) {
    commit_action last;
    for (std::size_t i = 0; i < steps.size(); ++i) {
        BOOST_TEST_CONTEXT("step " << i) {
            last = fsm.resume(steps[i].in);
            BOOST_TEST(static_cast<int>(last.what) == static_cast<int>(steps[i].out.what));
            if (last.what != kind::fail) BOOST_TEST(arg_of(last) == steps[i].out.arg);
            else if (last.failure) BOOST_TEST(last.failure->code() == steps[i].out.code);
            else BOOST_TEST(false, "a fail action without its error");
        }
    }
    return last;
}

}  // namespace hfhub::upload::test_rows
