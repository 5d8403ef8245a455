#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time,
# seeded with the golden files. Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
out=${HFHUB_FUZZ_DIR:-build/fuzz}
cxx=${FUZZ_CXX:-clang++}
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (scripts/setup.sh installs clang)" >&2; exit 1; }
mkdir -p "$out"
flags=(-std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc)
# Only pure code: the parsers and what they need, never the client.
common=(src/error.cpp src/util/fs.cpp src/util/hash.cpp src/mixin/json_text.cpp)
libs=(-lboost_json -lyaml-cpp -lcrypto)

build() {
  local name=$1
  shift
  "$cxx" "${flags[@]}" "$@" "${common[@]}" "${libs[@]}" -o "$out/$name"
}
build fuzz_safetensors_header test/fuzz/fuzz_safetensors_header.cpp src/mixin/safetensors.cpp &
build fuzz_card_front_matter test/fuzz/fuzz_card_front_matter.cpp src/mixin/model_card.cpp &
wait -n && wait -n

run() {
  local name=$1 seeds=$2 corpus rc=0
  corpus=$(mktemp -d)
  # New inputs go to the scratch corpus, the seeds stay untouched; a finding lands in $out.
  "$out/$name" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" \
    "$corpus" "$seeds" >"$corpus.log" 2>&1 || rc=$?
  tail -n 12 "$corpus.log"
  rm -rf "$corpus" "$corpus.log"
  if ((rc)); then echo "fuzz: $name found a failure (exit $rc); its input is in $out/" >&2; fi
  return "$rc"
}
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
mkdir -p "$seeds/st" "$seeds/card"
cp test/golden/*.safetensors "$seeds/st/"
cp test/golden/*.md "$seeds/card/"
run fuzz_safetensors_header "$seeds/st"
run fuzz_card_front_matter "$seeds/card"
echo "fuzz: both targets ran ${secs}s each without a finding"
