# The Xet layer's two C libraries.
#
# BLAKE3: no Debian 12 package ships it as a C library, but librust-blake3-dev carries the
# official C implementation (the Rust crate's c/ folder) under /usr/share/cargo/registry. We
# build a static `blake3` from the newest copy there: the x86-64 assembly kernels on x86-64
# Linux, the portable code elsewhere. HFHUB_BLAKE3_SOURCE_DIR points at another copy.
#
# LZ4: liblz4-dev, through pkg-config or a plain library search.

if(NOT TARGET blake3)
  set(HFHUB_BLAKE3_SOURCE_DIR "" CACHE PATH "BLAKE3's C sources (blake3.c, blake3.h, ...); empty: Debian's librust-blake3-dev")
  set(hfhub_blake3_dir ${HFHUB_BLAKE3_SOURCE_DIR})
  if(NOT hfhub_blake3_dir)
    file(GLOB hfhub_blake3_candidates LIST_DIRECTORIES true /usr/share/cargo/registry/blake3-*)
    set(hfhub_blake3_best "")
    set(hfhub_blake3_best_version "0")
    foreach(d IN LISTS hfhub_blake3_candidates)
      get_filename_component(name ${d} NAME)
      string(REGEX REPLACE "^blake3-" "" v ${name})
      if(EXISTS ${d}/c/blake3.c AND v VERSION_GREATER hfhub_blake3_best_version)
        set(hfhub_blake3_best ${d}/c)
        set(hfhub_blake3_best_version ${v})
      endif()
    endforeach()
    set(hfhub_blake3_dir ${hfhub_blake3_best})
  endif()
  if(NOT hfhub_blake3_dir OR NOT EXISTS ${hfhub_blake3_dir}/blake3.c)
    message(FATAL_ERROR "BLAKE3's C sources not found: install Debian's librust-blake3-dev "
      "(apt-get install librust-blake3-dev, scripts/setup.sh does) or set HFHUB_BLAKE3_SOURCE_DIR "
      "to a folder with blake3.c, blake3.h, blake3_dispatch.c and blake3_portable.c")
  endif()
  message(STATUS "BLAKE3 C sources: ${hfhub_blake3_dir}")

  enable_language(C)
  set(hfhub_blake3_sources ${hfhub_blake3_dir}/blake3.c ${hfhub_blake3_dir}/blake3_dispatch.c
                           ${hfhub_blake3_dir}/blake3_portable.c)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux" AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    enable_language(ASM)
    foreach(k sse2 sse41 avx2 avx512)
      list(APPEND hfhub_blake3_sources ${hfhub_blake3_dir}/blake3_${k}_x86-64_unix.S)
    endforeach()
    set(hfhub_blake3_defs "")
  else()
    set(hfhub_blake3_defs BLAKE3_NO_SSE2 BLAKE3_NO_SSE41 BLAKE3_NO_AVX2 BLAKE3_NO_AVX512 BLAKE3_USE_NEON=0)
  endif()
  add_library(blake3 STATIC ${hfhub_blake3_sources})
  target_compile_definitions(blake3 PRIVATE ${hfhub_blake3_defs})
  # The hfhub code includes "blake3.h" from a copy of the header in the build tree, so the
  # registry folder (with its other files) isn't on anyone's include path.
  file(COPY ${hfhub_blake3_dir}/blake3.h DESTINATION ${PROJECT_BINARY_DIR}/blake3/include)
  target_include_directories(blake3 PUBLIC $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/blake3/include>)
  set_target_properties(blake3 PROPERTIES POSITION_INDEPENDENT_CODE ON EXPORT_NAME blake3 OUTPUT_NAME hfhub_blake3)
endif()

find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(HFHUB_LZ4 QUIET liblz4)
endif()
find_path(HFHUB_LZ4_INCLUDE_DIR lz4frame.h HINTS ${HFHUB_LZ4_INCLUDE_DIRS})
find_library(HFHUB_LZ4_LIBRARY NAMES lz4 HINTS ${HFHUB_LZ4_LIBRARY_DIRS})
if(NOT HFHUB_LZ4_INCLUDE_DIR OR NOT HFHUB_LZ4_LIBRARY)
  message(FATAL_ERROR "LZ4 not found: install liblz4-dev (scripts/setup.sh does)")
endif()
