# Build time. Included by test/CMakeLists.txt after the test support library: it applies to the
# test programs' own sources (the suites, the docs' blocks), not to the libraries, the server,
# the CLI or the test servers, which keep the build type's flags.
#
# HFHUB_TEST_OPT: the test programs' own code is compiled at -O0 wherever the build type
# optimises. What a test runs is the library and the server (at the build type's -O2, or the
# sanitizer presets' -O1); the test code around them only sets up and checks, and its compile
# time is most of the build (Asio, Beast and Boost.Test instantiations, coroutine frames).
# Under ASan, two test files: 21.2 s of CPU at -O1 and 11.9 s at -O0 (test_client.cpp), 28.7 s
# and 16.1 s (test_coroutine_calls.cpp); ASan finds at least as much at -O0. In the default
# build, the same two: 18.9 s at -O2 and 13.3 s at -O0, 24.7 s and 15.4 s. A Debug build stays
# as it is. Any other value is used as the flags (empty: nothing added, the build type's own).
set(HFHUB_TEST_OPT "auto" CACHE STRING "Optimisation of the test programs' own code: auto, or compiler flags")
if(HFHUB_TEST_OPT STREQUAL "auto")
  add_compile_options("$<$<CONFIG:RelWithDebInfo,Release,MinSizeRel>:-O0>")
elseif(NOT HFHUB_TEST_OPT STREQUAL "")
  separate_arguments(hfhub_test_opt UNIX_COMMAND "${HFHUB_TEST_OPT}")
  add_compile_options(${hfhub_test_opt})
endif()

# ctest -j2 order. Without a previous run's timings (CI starts from a clean clone) ctest starts
# tests in the order they are declared, which left fuzz_parsers, the longest, to start last and
# run alone at the end. COST orders them longest first: the RUN_SERIAL ones, which run with
# nothing beside them, then the long ones side by side, the short ones filling in. The figures
# are seconds of a run here (2 cores); they only order, a wrong one costs no more than that.
function(hfhub_test_costs)
  foreach(pair integration_timing:1000 usage:900 fuzz_parsers:220 integration:160 crash:90
               consumer:30 usage_clang:20 layers:15)
    string(REPLACE ":" ";" pair ${pair})
    list(GET pair 0 name)
    list(GET pair 1 cost)
    if(TEST ${name})
      set_tests_properties(${name} PROPERTIES COST ${cost})
    endif()
  endforeach()
endfunction()
cmake_language(DEFER CALL hfhub_test_costs)
