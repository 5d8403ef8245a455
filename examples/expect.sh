#!/usr/bin/env bash
# Runs a command and passes only when it exits 0 and its output matches a Perl regex (which may
# span lines). ctest alone ignores the exit code once PASS_REGULAR_EXPRESSION is set.
#   expect.sh <regex> <command> [args...]
set -uo pipefail
regex=$1; shift
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if ((rc != 0)); then echo "expect: exit code $rc" >&2; exit 1; fi
if ! printf '%s\n' "$out" | EXPECT_RE=$regex perl -0777 -ne 'exit(/$ENV{EXPECT_RE}/ ? 0 : 1)'; then echo "expect: output does not match: $regex" >&2; exit 1; fi
