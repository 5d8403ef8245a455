#!/usr/bin/env bash
# Many uploaders, one commit: 8 shards uploaded by N processes (`hfhub upload --receipts-out`),
# then one `hfhub commit --receipts` of all of them, for N = 1, 2, 4; beside one process
# uploading all 8 as one commit (`hfhub upload`). Prints MB/s of the uploads and the commit's
# own latency; asserts nothing.
#
# Usage: bench/ranks.sh      Knobs: SHARD_MIB (256), SHARDS (8), NS ("1 2 4"), HFHUB (./build/hfhub)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARD_MIB=${SHARD_MIB:-256}; SHARDS=${SHARDS:-8}; NS=${NS:-1 2 4}
hfhub=$(realpath "${HFHUB:-./build/hfhub}")
[[ -x $hfhub ]] || { echo "build first: $hfhub is missing" >&2; exit 1; }
dir=$(mktemp -d -p "${TMPDIR:-/tmp}" hfranks.XXXXXX)
srv=
cleanup() {
  if [[ -n $srv ]]; then kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

"$hfhub" serve --root "$dir/hub" --port 0 >"$dir/serve.out" 2>/dev/null &
srv=$!
for _ in $(seq 200); do grep -q '^listening on ' "$dir/serve.out" && break; sleep 0.05; done
hub=$(sed -n 's/^listening on //p' "$dir/serve.out")
[[ -n $hub ]] || { echo "hfhub serve did not start" >&2; exit 1; }
export HF_ENDPOINT=$hub HF_HOME=$dir/hf_home

now() { date +%s.%N; }
mb=$((SHARD_MIB * SHARDS))

# Fresh shard bytes per run: the Hub would otherwise already have them and nothing would go up.
make_shards() {  # $1: run name
  rm -rf "$dir/shards"; mkdir -p "$dir/shards"
  for i in $(seq 0 $((SHARDS - 1))); do
    head -c $((SHARD_MIB << 20)) /dev/urandom >"$dir/shards/shard-$i.safetensors"
  done
}

make_shards one
t0=$(now)
"$hfhub" upload local/one "$dir/shards" ckpt --quiet >/dev/null
t1=$(now)
printf '1 process, upload + commit:  %6.1f MB/s  (%d x %d MiB, %.2f s)\n' \
  "$(echo "$mb / ($t1 - $t0)" | bc -l)" "$SHARDS" "$SHARD_MIB" "$(echo "$t1 - $t0" | bc -l)"

for n in $NS; do
  make_shards "n$n"
  rm -rf "$dir/ranks" "$dir/receipts"; mkdir -p "$dir/receipts"
  for i in $(seq 0 $((SHARDS - 1))); do  # shard i goes to rank i mod n
    mkdir -p "$dir/ranks/$((i % n))"
    mv "$dir/shards/shard-$i.safetensors" "$dir/ranks/$((i % n))/"
  done
  "$hfhub" repo create local/ranks-$n >/dev/null 2>&1 || true
  t0=$(now)
  pids=()
  for r in $(seq 0 $((n - 1))); do
    "$hfhub" upload local/ranks-$n "$dir/ranks/$r" ckpt --receipts-out "$dir/receipts/$r.jsonl" --quiet >/dev/null &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(now)
  "$hfhub" commit local/ranks-$n --receipts "$dir"/receipts/*.jsonl --quiet >/dev/null
  t2=$(now)
  printf '%d process(es) + 1 commit:   %6.1f MB/s  (uploads %.2f s, commit %.3f s)\n' "$n" \
    "$(echo "$mb / ($t2 - $t0)" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t1" | bc -l)"
done
