// A repo's download counts on disk: per-day sums, the 30-day window, reopening, and a file
// that stays one line per day.
#include "server/hub.hpp"
#include "server/repo_store.hpp"
#include "util/fs.hpp"

#include "test_server.hpp"  // temp_dir

#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace hfhub::server;
namespace util = hfhub::util;

BOOST_AUTO_TEST_SUITE(server_download_log)

BOOST_AUTO_TEST_CASE(the_window_is_today_and_the_29_days_before) {
    hfhub::test::temp_dir dir;
    download_log log;
    log.open(dir.path() / "downloads");
    for (int i = 0; i < 2; ++i) log.add(100);
    log.add(110);
    log.add(129);
    auto c = log.counts(129);
    BOOST_TEST(c.last_30_days == 4u);
    BOOST_TEST(c.all_time == 4u);
    c = log.counts(130);  // day 100 has left the window
    BOOST_TEST(c.last_30_days == 2u);
    BOOST_TEST(c.all_time == 4u);
    BOOST_TEST(log.counts(99).last_30_days == 0u);  // nothing counts before it happened
    BOOST_TEST(log.counts(200).last_30_days == 0u);
}

BOOST_AUTO_TEST_CASE(reopening_reads_the_days_and_compacts_the_file) {
    hfhub::test::temp_dir dir;
    auto file = dir.path() / "downloads";
    {
        download_log log;
        log.open(file);
        for (int i = 0; i < 5; ++i) log.add(7);
        log.add(8);
    }
    BOOST_TEST(*util::read_file(file) == "7 1\n7 1\n7 1\n7 1\n7 1\n8 1\n");
    // A torn or foreign line is skipped, not fatal.
    util::write_file_atomic(file, *util::read_file(file) + "garbage\n9 x\n-1 2\n8 ");
    download_log log;
    log.open(file);
    BOOST_TEST(*util::read_file(file) == "7 5\n8 1\n");
    auto c = log.counts(8);
    BOOST_TEST(c.last_30_days == 6u);
    BOOST_TEST(c.all_time == 6u);
    log.add(8);
    BOOST_TEST(*util::read_file(file) == "7 5\n8 1\n8 1\n");
}

BOOST_AUTO_TEST_CASE(a_closed_log_drops_downloads) {
    hfhub::test::temp_dir dir;
    download_log log;
    log.add(1);  // never opened
    log.open(dir.path() / "downloads");
    log.add(1);
    log.close();
    log.add(1);
    BOOST_TEST(log.counts(1).all_time == 1u);
    BOOST_TEST(*util::read_file(dir.path() / "downloads") == "1 1\n");
}

BOOST_AUTO_TEST_CASE(appends_are_folded_back_into_one_line_per_day) {
    hfhub::test::temp_dir dir;
    auto file = dir.path() / "downloads";
    download_log log;
    log.open(file);
    for (int i = 0; i < 5000; ++i) log.add(3 + i % 2);
    auto text = *util::read_file(file);
    // Rewritten once the appends passed the slack: far fewer lines than downloads.
    BOOST_TEST(std::count(text.begin(), text.end(), '\n') < 5000);
    download_log again;
    again.open(file);
    BOOST_TEST(again.counts(4).all_time == 5000u);
    BOOST_TEST(*util::read_file(file) == "3 2500\n4 2500\n");
}

BOOST_AUTO_TEST_CASE(days_are_utc_days_since_the_epoch) {
    BOOST_TEST(download_day(0) == 0);
    BOOST_TEST(download_day(86399) == 0);
    BOOST_TEST(download_day(86400) == 1);
    BOOST_TEST(download_day(-1) == -1);
    BOOST_TEST(download_day(-86400) == -1);
    BOOST_TEST(download_day(-86401) == -2);
}

BOOST_AUTO_TEST_SUITE_END()
