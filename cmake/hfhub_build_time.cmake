# Build time. Included by test/CMakeLists.txt after the test support library: it applies to the
# test programs' own sources (the suites, the docs' blocks), not to the libraries, the server,
# the CLI or the test servers, which keep the build type's flags.
#
# HFHUB_TEST_OPT: the test programs' own code is compiled at -O1 (-O0 under a sanitizer) in
# optimised builds. What a test runs is the library and the server; the test code around them
# only sets up and checks, and its compile time is most of the build (Asio, Beast and Boost.Test
# instantiations, coroutine frames). A test file: 15.1 s of CPU at -O2 -g1, 11.0 s at -O1;
# under ASan 21.2 s at -O1, 11.9 s at -O0. `auto` does that; any other value is used as the
# flags (-O2: as the build type; empty: nothing added).
set(HFHUB_TEST_OPT "auto" CACHE STRING "Optimisation of the test programs' own code: auto, or compiler flags")
if(HFHUB_TEST_OPT STREQUAL "auto")
  if(HFHUB_SANITIZER)
    set(hfhub_test_opt -O0)
  else()
    set(hfhub_test_opt -O1)
  endif()
  # Only where the build type optimises: a Debug build stays as it is.
  add_compile_options("$<$<CONFIG:RelWithDebInfo,Release,MinSizeRel>:${hfhub_test_opt}>")
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
