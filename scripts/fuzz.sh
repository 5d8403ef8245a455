#!/usr/bin/env bash
# Builds the libFuzzer targets in test/fuzz/ with clang (ASan + UBSan) and runs each for a
# bounded time, seeded with test/fuzz/corpus/<target>/ (and test/golden/ for the file formats).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true
out=${HFHUB_FUZZ_DIR:-build/fuzz}
cxx=${FUZZ_CXX:-clang++}
jobs=${HFHUB_JOBS:-2}
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (scripts/setup.sh installs clang)" >&2; exit 1; }
mkdir -p "$out/obj"
out=$(cd "$out" && pwd)
flags=(-std=c++20 -O1 -g -fno-sanitize-recover=undefined -Iinclude -Isrc
       -DBOOST_ASIO_NO_DEPRECATED)
libs=(-lboost_json -lboost_url -lyaml-cpp -lssl -lcrypto -llz4 -lpthread)
# lld when installed (scripts/setup.sh): GNU ld's links cost several times its CPU.
command -v ld.lld >/dev/null && libs+=(-fuse-ld=lld)
# BLAKE3 for the Xet parsers: the C sources of Debian's librust-blake3-dev (as
# cmake/hfhub_xet_deps.cmake finds them), its portable code only.
blake3_dir=${HFHUB_BLAKE3_SOURCE_DIR:-$(ls -d /usr/share/cargo/registry/blake3-*/c 2>/dev/null | sort -V | tail -n 1)}
[[ -f "$blake3_dir/blake3.c" ]] || { echo "fuzz: BLAKE3's C sources not found (apt-get install librust-blake3-dev)" >&2; exit 1; }
flags+=(-I"$blake3_dir")
blake3=("$blake3_dir/blake3.c" "$blake3_dir/blake3_dispatch.c" "$blake3_dir/blake3_portable.c")
cc=${FUZZ_CC:-${cxx%++}}
launcher=()
command -v ccache >/dev/null && launcher=(env CCACHE_BASEDIR="$PWD" ccache)

# Only pure code: the parsers and what they need, never the client's I/O.
util=(src/error.cpp src/util/fs.cpp src/util/hash.cpp src/util/paths.cpp)
declare -A target_sources=(
  [fuzz_safetensors_header]="src/mixin/safetensors.cpp src/mixin/json_text.cpp"
  [fuzz_card_front_matter]="src/mixin/model_card.cpp src/mixin/card_template.cpp src/mixin/json_text.cpp"
  [fuzz_card_template]="src/mixin/card_template.cpp src/mixin/json_text.cpp"
  [fuzz_http_response]="src/http/policy.cpp src/hub/errors.cpp src/hub/link_header.cpp"
  [fuzz_hub_json]="src/hub/hub_json.cpp src/upload/lfs_batch.cpp src/http/policy.cpp"
  [fuzz_paths]=""
  [fuzz_commit_payload]="src/server/commit_payload.cpp"
  [fuzz_server_routes]="$(ls src/server/*.cpp | grep -v -e session_ -e '/server\.cpp$' | tr '\n' ' ') $(ls src/xet/*.cpp | tr '\n' ' ') ${blake3[*]}"
  [fuzz_xet_parsers]="$(ls src/xet/*.cpp | tr '\n' ' ') ${blake3[*]}"
)
all=(fuzz_safetensors_header fuzz_card_front_matter fuzz_card_template fuzz_http_response fuzz_hub_json fuzz_paths
     fuzz_commit_payload fuzz_server_routes fuzz_xet_parsers)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")

obj_of() { local s=${1//\//_}; echo "$out/obj/${s%.cpp}.o"; }

# Each source compiles once (instrumented for coverage, not linked with the fuzzer main), in
# parallel; then each target links.
t0=$SECONDS
sources=()
for t in "${targets[@]}"; do
  [[ -v "target_sources[$t]" ]] || { echo "fuzz: unknown target $t" >&2; exit 2; }
  sources+=("test/fuzz/$t.cpp" ${target_sources[$t]} "${util[@]}")
done
mapfile -t sources < <(printf '%s\n' "${sources[@]}" | sort -u)
export cxx out
compile() {
  local src=$1 obj
  obj=$(obj_of "$src")
  if [[ $src == *.c ]]; then
    "${launcher[@]}" "$cc" -O1 -g -DBLAKE3_NO_SSE2 -DBLAKE3_NO_SSE41 -DBLAKE3_NO_AVX2 -DBLAKE3_NO_AVX512 \
      -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$obj" ||
      { echo "fuzz: compiling $src failed" >&2; return 1; }
    return
  fi
  "${launcher[@]}" "$cxx" "${flags[@]}" -fsanitize=fuzzer-no-link,address,undefined -c "$src" -o "$obj" ||
    { echo "fuzz: compiling $src failed" >&2; return 1; }
}
pids=()
running=0
failed=0
for s in "${sources[@]}"; do
  compile "$s" &
  pids+=($!)
  running=$((running + 1))
  if ((running >= jobs)); then wait -n || failed=1; running=$((running - 1)); fi
done
while ((running > 0)); do wait -n || failed=1; running=$((running - 1)); done
((failed == 0)) || exit 1
for t in "${targets[@]}"; do
  objs=()
  for s in "test/fuzz/$t.cpp" ${target_sources[$t]} "${util[@]}"; do objs+=("$(obj_of "$s")"); done
  "$cxx" -fsanitize=fuzzer,address,undefined "${objs[@]}" "${libs[@]}" -o "$out/$t"
done
echo "fuzz: built ${#targets[@]} targets in $((SECONDS - t0)) s"

run() {
  local name=$1 scratch rc=0 seeds=()
  scratch=$(mktemp -d)
  mkdir -p "$scratch/new" "$scratch/tmp"
  [[ -d test/fuzz/corpus/$name ]] && seeds+=("test/fuzz/corpus/$name")
  case $name in
    fuzz_safetensors_header) mkdir -p "$scratch/golden" && cp test/golden/*.safetensors "$scratch/golden/" && seeds+=("$scratch/golden") ;;
    fuzz_card_front_matter) mkdir -p "$scratch/golden" && cp test/golden/*.md "$scratch/golden/" && seeds+=("$scratch/golden") ;;
  esac
  # New inputs go to the scratch corpus, the seeds stay untouched; a finding lands in $out.
  TMPDIR="$scratch/tmp" "$out/$name" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$out/$name-" "$scratch/new" "${seeds[@]}" >"$scratch/log" 2>&1 || rc=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$scratch/log" | tr '\n' ' '
  echo
  if ((rc)); then
    tail -n 60 "$scratch/log" >&2
    echo "fuzz: $name found a failure (exit $rc); its input is in $out/" >&2
  fi
  rm -rf "$scratch"
  return "$rc"
}
status=0
for t in "${targets[@]}"; do
  t1=$SECONDS
  echo "fuzz: $t"
  run "$t" || status=1
  echo "fuzz: $t ran $((SECONDS - t1)) s"
done
((status == 0)) && echo "fuzz: ${#targets[@]} targets ran ${secs}s each without a finding"
echo "fuzz: total $((SECONDS - t0)) s"
exit "$status"
