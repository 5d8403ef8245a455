#!/usr/bin/env bash
# The sanitizer builds (CMakePresets.json): the unit, integration, usage and crash suites under ASan+UBSan, then the
# pool and concurrency tests under TSan. Every process, spawned servers included, writes its
# reports to files; any report file fails the run, even where a test ignores a child's exit.
#   scripts/sanitize.sh [asan|tsan]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
phases=("$@")
((${#phases[@]})) || phases=(asan tsan)
jobs=${HFHUB_JOBS:-2}
supp=$PWD/test/sanitize

# Fails when a sanitizer wrote a report anywhere under $1.
check_reports() {
  local dir=$1 found
  found=$(find "$dir" -maxdepth 1 -name 'report.*' -size +0 2>/dev/null | sort)
  if [[ -n "$found" ]]; then
    echo "sanitize: reports in $dir:" >&2
    for f in $found; do echo "== $f" >&2; head -n 60 "$f" >&2; done
    return 1
  fi
}

asan() {
  local t0=$SECONDS logs=$PWD/build-asan/sanitizer-logs
  cmake --preset asan >/dev/null
  # The suites that drive the library and the server; the docs' and examples' programs call the
  # same code through the same API, and building them under ASan too would cost CI minutes.
  cmake --build --preset asan -j"$jobs" --target hfhub hfhub_unit_tests hfhub_integration_tests \
    hfhub_usage_tests hfhub_crash_tests
  local t1=$SECONDS
  rm -rf "$logs" && mkdir -p "$logs"
  export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:log_path=$logs/report"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$logs/report"
  export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
  # Not interop_js* (node is not instrumented and only drives `hfhub serve`, which the other
  # tests already run) nor fuzz_parsers (scripts/fuzz.sh builds its own ASan targets with clang).
  local rc=0
  (cd build-asan && ctest --output-on-failure -j"$jobs" -R '^(unit|integration|integration_timing|usage|crash)$') || rc=$?
  unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
  check_reports "$logs" || rc=1
  echo "sanitize: asan build $((t1 - t0)) s, tests $((SECONDS - t1)) s"
  return "$rc"
}

# The tests that exercise threads and concurrency (hfhub_concurrency_tests, test/CMakeLists.txt):
# the connection pool and its cap, keep-alive, limits and shutdown of the server, the server
# under concurrent clients and commits, multipart parts joined from several threads, the
# blocking API from other threads, parallel downloads, several processes on one cache, cache
# locks, reading ahead of hashing.
tsan_suites=multipart_assembly_units,util_read_ahead,client_http,client_tls,transport_keepalive,transport_limits,transport_shutdown,transport_cli,download_processes,download_parallel_verify,download_options_each,commit_ndjson,hub_api,tree,cache_lock

tsan_usage=blocking_calls:deadlines_and_contexts/one_client_two_io_contexts_one_hundred_requests:blocking_pool_usage/a_pool_of_one_thread_uploads_and_downloads_big_files

tsan() {
  local t0=$SECONDS logs=$PWD/build-tsan/sanitizer-logs
  cmake --preset tsan >/dev/null
  cmake --build --preset tsan -j"$jobs" --target hfhub hfhub_concurrency_tests
  local t1=$SECONDS
  rm -rf "$logs" && mkdir -p "$logs"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp:log_path=$logs/report"
  local rc=0
  HFHUB_BINARY=$PWD/build-tsan/hfhub build-tsan/hfhub_concurrency_tests --run_test="$tsan_suites" \
    --log_level=test_suite >build-tsan/concurrency.log 2>&1 || rc=$?
  tail -n 3 build-tsan/concurrency.log
  ((rc == 0)) || grep -E 'error|fail' build-tsan/concurrency.log | head -40 >&2
  # The blocking twins' own thread, one client on two io_contexts, and a client's blocking pool
  # of one thread doing a commit's hashing and a parallel download's verification: the usage
  # files hfhub_concurrency_tests also holds (a separate run, so each log says what it ran).
  build-tsan/hfhub_concurrency_tests --run_test="$tsan_usage" --log_level=test_suite >build-tsan/usage.log 2>&1 || {
    rc=1
    grep -E 'error|fail' build-tsan/usage.log | head -40 >&2
  }
  tail -n 2 build-tsan/usage.log
  unset TSAN_OPTIONS
  check_reports "$logs" || rc=1
  echo "sanitize: tsan build $((t1 - t0)) s, tests $((SECONDS - t1)) s"
  return "$rc"
}

status=0
for p in "${phases[@]}"; do
  case $p in
    asan) asan || status=1 ;;
    tsan) tsan || status=1 ;;
    *) echo "sanitize: unknown phase $p (asan, tsan)" >&2; exit 2 ;;
  esac
done
exit "$status"
