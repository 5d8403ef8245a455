# Turns the ```cpp blocks of one Markdown file into a C++ translation unit that the doc-test
# runner (doc_test_main.cpp) compiles and runs: README.md and docs/*.md stay compilable and
# runnable, and a block that stops working fails the build or its ctest entry (doc_<name>).
#
# Conventions, by the shape of the block:
#   - A block with `int main()` is a complete program. Its #include lines go to the top of the
#     generated file, the rest into a namespace of its own, where main is renamed. The runner
#     calls it with HF_ENDPOINT set to a fresh local Hub; it passes when it returns 0 (or void).
#   - Any other block is the body of a coroutine, run on an io_context. In scope: `hub` (an
#     hfhub::client of that Hub), `ex` (its executor) and `ioc` (the io_context). A block may
#     declare its own `hfhub::client hub(ioc.get_executor(), hfhub::config::from_env())`: the
#     environment points at the same Hub. It passes when it completes without an exception.
#   - Every block gets all public hfhub headers and <boost/asio.hpp>
#     (test/docs/doc_test.hpp), so a fragment need not repeat them.
#   - Each block runs alone: a fresh Hub in open mode (every namespace writable), a fresh
#     HF_HOME (so a fresh cache), a dummy HF_TOKEN, and a fresh working directory. Compile
#     errors name the doc's own file and line (#line).
#
# A marker on the line right before the fence adds to that:
#   <!-- doc-test: KEY[=VALUE] ... -->
#   repo=ID[:PATH,PATH...]  before the block, create model repo ID on the Hub with these files
#                           (default config.json); repeatable
#   local=PATH              before the block, write a small local file PATH under the block's
#                           working directory (a fresh folder); repeatable
#   run=CALL                the block is namespace-scope code (types, functions); the runner
#                           co_awaits CALL, a C++ expression without spaces with `hub` in scope.
#                           A bare name NAME means NAME(hub).
#   compile-only            namespace-scope code that is compiled but not run (keep rare)
#   skip REASON...          not compiled at all; the runner prints the reason (keep rare)
#
# Called at configure time from test/docs/CMakeLists.txt:
#   hfhub_extract_doc_tests(<root> <doc, relative to root> <output .cpp> <out: number of blocks>)
# A malformed marker stops the configure step with the doc's file and line.

function(hfhub_extract_doc_tests root doc out count_var)
  file(READ "${root}/${doc}" text)
  string(MAKE_C_IDENTIFIER "${doc}" doc_id)
  set(includes "")
  set(body "")
  set(registrations "")
  set(section "")
  set(marker "")
  set(marker_line 0)
  set(in_block FALSE)
  set(in_other_fence FALSE)
  set(count 0)
  set(lineno 0)

  while(NOT text STREQUAL "")
    string(FIND "${text}" "\n" nl)
    if(nl EQUAL -1)
      set(line "${text}")
      set(text "")
    else()
      string(SUBSTRING "${text}" 0 ${nl} line)
      math(EXPR next "${nl} + 1")
      string(SUBSTRING "${text}" ${next} -1 text)
    endif()
    math(EXPR lineno "${lineno} + 1")

    if(in_block)
      if(line MATCHES "^```[ \t]*$")
        _hfhub_doc_block()
        set(in_block FALSE)
      elseif(line MATCHES "^[ \t]*#[ \t]*include[ \t]")
        string(STRIP "${line}" inc)
        string(FIND "${includes}" "${inc}\n" seen)
        if(seen EQUAL -1)
          string(APPEND includes "${inc}\n")
        endif()
        string(APPEND block "\n")  # keeps the doc's line numbers
      else()
        string(APPEND block "${line}\n")
      endif()
      continue()
    endif()

    if(in_other_fence)
      if(line MATCHES "^```[ \t]*$")
        set(in_other_fence FALSE)
      endif()
      continue()
    endif()

    if(line MATCHES "^<!-- doc-test:(.*)-->[ \t]*$")
      string(STRIP "${CMAKE_MATCH_1}" marker)
      set(marker_line ${lineno})
    elseif(line MATCHES "^[ \t]+```(cpp|c\\+\\+)")
      message(FATAL_ERROR "${doc}:${lineno}: an indented ```cpp fence would not be tested; start it at column 0")
    elseif(line MATCHES "^```(cpp|c\\+\\+)([ \t].*)?$")
      set(in_block TRUE)
      set(block "")
      math(EXPR block_line "${lineno} + 1")
      set(block_marker "${marker}")
      set(marker "")
    else()
      if(NOT marker STREQUAL "")
        message(FATAL_ERROR "${doc}:${marker_line}: a doc-test marker must be on the line right before a ```cpp fence")
      endif()
      if(line MATCHES "^```")
        set(in_other_fence TRUE)
      elseif(line MATCHES "^#+[ \t]+(.*)$")
        set(section "${CMAKE_MATCH_1}")
      endif()
    endif()
  endwhile()
  if(in_block)
    message(FATAL_ERROR "${doc}:${block_line}: ```cpp block without its closing fence")
  endif()

  set(head "// Generated from ${doc} by test/docs/extract_doc_tests.cmake. Do not edit.\n")
  string(APPEND head "#include \"doc_test.hpp\"\n${includes}\n")
  string(REGEX MATCHALL "\n" head_lines "${head}")
  list(LENGTH head_lines head_count)
  string(REGEX MATCHALL "@RESYNC_[0-9]+@" resyncs "${body}")
  foreach(r IN LISTS resyncs)
    string(REGEX REPLACE "@RESYNC_([0-9]+)@" "\\1" n "${r}")
    math(EXPR n "${n} + ${head_count}")
    string(REPLACE "${r}" "${n}" body "${body}")
  endforeach()
  set(source "${head}${body}\n")
  string(APPEND source "namespace {\nconst bool registered = [] {\n${registrations}    return true;\n}();\n}  // namespace\n")
  # Rewriting an unchanged file would rebuild it on every configure.
  set(old "")
  if(EXISTS "${out}")
    file(READ "${out}" old)
  endif()
  if(NOT old STREQUAL source)
    file(WRITE "${out}" "${source}")
  endif()
  set(${count_var} ${count} PARENT_SCOPE)
endfunction()

# One block: reads block, block_line, block_marker, section, doc, doc_id, out; appends to body,
# registrations and count (a macro, so it writes the caller's variables).
macro(_hfhub_doc_block)
  math(EXPR count "${count} + 1")
  set(ns "doc_${doc_id}_${count}")
  set(kind coroutine)
  if(block MATCHES "(^|\n)[ \t]*int[ \t]+main[ \t]*\\([ \t]*\\)")
    set(kind program)
  endif()
  set(repos "")
  set(locals "")
  set(run "")
  set(skip_reason "")

  string(REGEX MATCH "^skip([ \t].*)?$" skip_match "${block_marker}")
  if(skip_match)
    string(STRIP "${CMAKE_MATCH_1}" skip_reason)
    if(skip_reason STREQUAL "")
      message(FATAL_ERROR "${doc}:${block_line}: `skip` needs a reason")
    endif()
    set(kind skip)
  else()
    string(REGEX REPLACE "[ \t]+" ";" words "${block_marker}")
    foreach(w IN LISTS words)
      if(w MATCHES "^repo=([^:]+)(:(.+))?$")
        set(files "${CMAKE_MATCH_3}")
        if(files STREQUAL "")
          set(files "config.json")
        endif()
        string(REPLACE "," "\", \"" files "${files}")
        string(APPEND repos "{\"${CMAKE_MATCH_1}\", {\"${files}\"}}, ")
      elseif(w MATCHES "^local=(.+)$")
        string(APPEND locals "\"${CMAKE_MATCH_1}\", ")
      elseif(w MATCHES "^run=(.+)$")
        set(run "${CMAKE_MATCH_1}")
        if(NOT run MATCHES "\\(")
          set(run "${run}(hub)")
        endif()
        set(kind declarations)
      elseif(w STREQUAL "compile-only")
        set(kind compile_only)
      else()
        message(FATAL_ERROR "${doc}:${block_line}: unknown doc-test marker word `${w}`")
      endif()
    endforeach()
  endif()
  if(kind STREQUAL "program" AND NOT run STREQUAL "")
    message(FATAL_ERROR "${doc}:${block_line}: a program (with main) takes no run=")
  endif()

  # #line points compiler errors at the doc; the generated file's own lines resume after.
  string(REPLACE "\\" "/" doc_path "${doc}")
  set(at_doc "#line ${block_line} \"${doc_path}\"\n")
  set(fn "")
  if(kind STREQUAL "program")
    string(REGEX REPLACE "(^|\n)([ \t]*)int([ \t]+)main([ \t]*)\\(" "\\1\\2auto\\3doc_main\\4(" block "${block}")
    string(APPEND body "namespace ${ns} {\n${at_doc}${block}")
    _hfhub_doc_resync()
    string(APPEND body "int program() { return hfhub::doc_test::call_main(&doc_main); }\n"
      "}  // namespace ${ns}\n\n")
    set(fn "{}, &${ns}::program")
  elseif(kind STREQUAL "coroutine")
    string(APPEND body "namespace ${ns} {\n"
      "boost::asio::awaitable<void> run([[maybe_unused]] boost::asio::io_context& ioc, [[maybe_unused]] hfhub::client& hub) {\n"
      "    [[maybe_unused]] boost::asio::any_io_executor ex = hub.get_executor();\n"
      "    {\n${at_doc}${block}")
    _hfhub_doc_resync()
    string(APPEND body "    }\n    co_return;\n}\n}  // namespace ${ns}\n\n")
    set(fn "&${ns}::run, {}")
  elseif(kind STREQUAL "declarations" OR kind STREQUAL "compile_only")
    string(APPEND body "namespace ${ns} {\n${at_doc}${block}")
    _hfhub_doc_resync()
    if(kind STREQUAL "declarations")
      string(APPEND body
        "boost::asio::awaitable<void> run([[maybe_unused]] boost::asio::io_context& ioc, [[maybe_unused]] hfhub::client& hub) {\n"
        "    co_await ${run};\n}\n")
      set(fn "&${ns}::run, {}")
    else()
      set(fn "{}, {}")
    endif()
    string(APPEND body "}  // namespace ${ns}\n\n")
  else()
    set(fn "{}, {}")
  endif()

  string(REPLACE "\\" "\\\\" section_c "${section}")
  string(REPLACE "\"" "\\\"" section_c "${section_c}")
  string(REPLACE "\"" "\\\"" skip_c "${skip_reason}")
  string(APPEND registrations
    "    hfhub::doc_test::add({\"${doc_path}\", \"${section_c}\", ${block_line}, \"${kind}\", {${repos}}, {${locals}},\n"
    "                          ${fn}, \"${skip_c}\"});\n")
endmacro()

# After a block: a #line naming the generated file at its real next line. Later blocks may still
# add includes above the body, so this leaves a placeholder that the end resolves.
macro(_hfhub_doc_resync)
  string(REGEX MATCHALL "\n" _nl_body "${body}")
  list(LENGTH _nl_body _n_body)
  math(EXPR _n_body "${_n_body} + 2")  # the line after the #line itself, counted from 1
  string(APPEND body "#line @RESYNC_${_n_body}@ \"${out}\"\n")
endmacro()
