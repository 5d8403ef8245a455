// The reporter uploads and mirrors share: what each call adds to the event the handler sees.
#include "upload/pipeline.hpp"

#include <hfhub/progress.hpp>

#include <boost/test/unit_test.hpp>

#include <functional>
#include <string>
#include <vector>

using namespace hfhub;
using namespace hfhub::upload;
using stage = commit_progress::stage;

BOOST_AUTO_TEST_SUITE(upload_progress_reporter)

BOOST_AUTO_TEST_CASE(each_call_moves_the_counts_it_names) {
    struct row {
        const char* name;
        std::function<void(progress_reporter&)> calls;
        commit_progress want;  // the last event
        std::size_t events;
    };
    const std::vector<row> rows{
        {"begin sets totals and skips",
         [](progress_reporter& p) { p.begin(stage::uploading, 3, 300, 1, 100); },
         {stage::uploading, "", 0, 3, 0, 300, 1, 100}, 1},
        {"a step finishes a file with its bytes",
         [](progress_reporter& p) {
             p.begin(stage::uploading, 3, 300);
             p.step("a.bin", 100);
         },
         {stage::uploading, "a.bin", 1, 3, 100, 300, 0, 0}, 2},
        {"advance counts bytes of no finished file",
         [](progress_reporter& p) {
             p.begin(stage::uploading, 3, 300);
             p.step("a.bin", 100);
             p.advance(40);
         },
         {stage::uploading, "", 1, 3, 140, 300, 0, 0}, 3},
        {"reserved work joins the next stage's totals",
         [](progress_reporter& p) {
             p.reserve(2, 50);
             p.begin(stage::uploading, 3, 300, 1, 10);
         },
         {stage::uploading, "", 0, 5, 0, 350, 1, 10}, 1},
        {"only the next stage: the one after has its own totals",
         [](progress_reporter& p) {
             p.reserve(2, 50);
             p.begin(stage::uploading, 3, 300);
             p.begin(stage::committing, 0, 0);
         },
         {stage::committing, "", 0, 0, 0, 0, 0, 0}, 2},
        {"a new stage starts from zero",
         [](progress_reporter& p) {
             p.begin(stage::hashing, 2, 20);
             p.step("a", 10);
             p.stage_only(stage::checking);
         },
         {stage::checking, "", 0, 0, 0, 0, 0, 0}, 3},
    };
    for (auto& rw : rows) {
        std::vector<commit_progress> seen;
        progress_reporter rep([&](const commit_progress& p) { seen.push_back(p); });
        rw.calls(rep);
        BOOST_REQUIRE_MESSAGE(seen.size() == rw.events, rw.name << ": " << seen.size() << " events");
        const commit_progress& got = seen.back();
        BOOST_TEST((got.what == rw.want.what), rw.name);
        BOOST_TEST(got.file == rw.want.file, rw.name);
        BOOST_TEST(got.files_done == rw.want.files_done, rw.name);
        BOOST_TEST(got.files_total == rw.want.files_total, rw.name);
        BOOST_TEST(got.bytes_done == rw.want.bytes_done, rw.name);
        BOOST_TEST(got.bytes_total == rw.want.bytes_total, rw.name);
        BOOST_TEST(got.files_skipped == rw.want.files_skipped, rw.name);
        BOOST_TEST(got.bytes_skipped == rw.want.bytes_skipped, rw.name);
    }
}

BOOST_AUTO_TEST_SUITE_END()
