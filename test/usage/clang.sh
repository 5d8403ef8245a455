#!/usr/bin/env bash
# The coroutine-call suite compiled once more with clang++, against the g++-built libraries:
# every public co_ function, called with temporaries from inside a user's coroutine, must work
# with either compiler (g++ 12 and clang disagree on coroutine temporaries).
#   clang.sh <source dir> <build dir>
set -euo pipefail
src=$(realpath "$1")
build=$(realpath "$2")
out=$build/clang-usage
mkdir -p "$out"
cxx=(clang++)
command -v ccache >/dev/null && cxx=(env CCACHE_BASEDIR="$src" ccache clang++)
flags=(-std=c++20 -O1 -DBOOST_ASIO_NO_DEPRECATED -DBOOST_TEST_DYN_LINK
  -I"$src/include" -I"$src/src" -I"$src/test/support" -I"$src/test/integration" -I"$src/test/usage")
objs=()
for f in main.cpp test_coroutine_calls.cpp; do
  "${cxx[@]}" "${flags[@]}" -c "$src/test/usage/$f" -o "$out/${f%.cpp}.o"
  objs+=("$out/${f%.cpp}.o")
done
clang++ "${objs[@]}" -o "$out/hfhub_usage_tests_clang" \
  "$build/test/libhfhub_test_support.a" "$build/src/libhfhub_server.a" "$build/src/libhfhub_mixin.a" "$build/src/libhfhub_mirror.a" "$build/src/libhfhub_upload.a" \
  "$build/src/libhfhub_download.a" "$build/src/libhfhub_cache.a" "$build/src/libhfhub_hub.a" "$build/src/libhfhub_http.a" \
  "$build/src/libhfhub_xet.a" "$build/libhfhub_blake3.a" "$build/src/libhfhub_util.a" \
  -lboost_unit_test_framework -lboost_json -lboost_url -lssl -lcrypto -lyaml-cpp -llz4 -pthread
# The timer case needs the machine to itself (the g++ run of `usage` has it); the calls don't.
exec "$out/hfhub_usage_tests_clang" --logger=HRF,error,stdout \
  --run_test='coroutine_calls/every_public_co_function_from_a_user_coroutine:coroutine_calls/every_options_argument_written_as_empty_braces:coroutine_calls/a_cancelled_commit_is_typed_and_commits_nothing:coroutine_calls/an_unreachable_hub_answers_from_the_cache_after_one_attempt'
