// The Hub's error answers mapped to hub_errc: X-Error-Code, X-Error-Message, then the status.
#include "hub/errors.hpp"

#include <hfhub/error.hpp>

#include <boost/test/unit_test.hpp>

#include <string>

using namespace hfhub;
using namespace hfhub::hub;

BOOST_AUTO_TEST_SUITE(hub_error_mapping)

BOOST_AUTO_TEST_CASE(x_error_code_and_message_first) {
    struct row {
        unsigned status;
        const char* code;
        const char* message;
        hub_errc want;
    };
    const char* disabled = "Access to this resource is disabled.";
    const row rows[] = {
        {404, "RevisionNotFound", "", hub_errc::revision_not_found},
        {400, "RevisionNotFound", "", hub_errc::revision_not_found},
        {404, "EntryNotFound", "", hub_errc::entry_not_found},
        {401, "GatedRepo", "", hub_errc::gated_repo},
        {403, "GatedRepo", "", hub_errc::gated_repo},
        {404, "RepoNotFound", "", hub_errc::repo_not_found},
        {401, "RepoNotFound", "Repository not found", hub_errc::repo_not_found},
        {403, "", disabled, hub_errc::disabled_repo},
        {404, "RepoNotFound", disabled, hub_errc::disabled_repo},  // the message is checked before RepoNotFound
        {404, "EntryNotFound", disabled, hub_errc::entry_not_found},
        {404, " EntryNotFound ", "", hub_errc::entry_not_found},  // header whitespace
        {404, "entrynotfound", "", hub_errc::not_found},          // codes are case-sensitive
        {404, "SomethingNew", "", hub_errc::not_found},
        {403, "", "Access denied", hub_errc::forbidden},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.status << " X-Error-Code '" << r.code << "' X-Error-Message '" << r.message << "'") {
            auto ec = map_status(r.status, r.code, r.message);
            BOOST_TEST(ec == make_error_code(r.want));
            BOOST_TEST(ec.category().name() == std::string("hfhub.hub"));
        }
    }
}

BOOST_AUTO_TEST_CASE(by_status) {
    struct row {
        unsigned status;
        hub_errc want;
    };
    const row rows[] = {
        {400, hub_errc::bad_request},       {401, hub_errc::unauthorized},  {403, hub_errc::forbidden},
        {404, hub_errc::not_found},         {405, hub_errc::http_error},    {408, hub_errc::http_error},
        {409, hub_errc::conflict},          {410, hub_errc::http_error},    {412, hub_errc::precondition_failed},
        {413, hub_errc::payload_too_large}, {416, hub_errc::range_not_satisfiable},
        {418, hub_errc::http_error},        {422, hub_errc::unprocessable}, {429, hub_errc::rate_limited},
        {500, hub_errc::server_error},      {501, hub_errc::server_error},  {502, hub_errc::server_error},
        {503, hub_errc::server_error},      {504, hub_errc::server_error},  {599, hub_errc::server_error},
        {600, hub_errc::http_error},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT("status " << r.status) { BOOST_TEST(map_status(r.status, "", "") == make_error_code(r.want)); }
    }
}

BOOST_AUTO_TEST_CASE(success_and_redirects_are_not_errors) {
    for (unsigned s : {200u, 201u, 204u, 206u, 301u, 302u, 304u, 307u, 308u}) {
        BOOST_TEST_CONTEXT("status " << s) {
            BOOST_TEST(!map_status(s, "", ""));
            BOOST_TEST(!map_status(s, "EntryNotFound", "Access to this resource is disabled."));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
