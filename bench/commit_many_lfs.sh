#!/usr/bin/env bash
# The server's cost of LFS bookkeeping at scale: one commit naming N LFS objects, then one batch
# download of the same N, in a repo whose grants list (the objects it may name) already holds G
# earlier entries. Prints the two request times; asserts nothing.
#
# Usage: bench/commit_many_lfs.sh            Knobs: N (300), G (100000), HFHUB (./build/hfhub)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-300}; G=${G:-100000}
hfhub=$(realpath "${HFHUB:-./build/hfhub}")
[[ -x $hfhub ]] || { echo "build first: $hfhub is missing" >&2; exit 1; }
dir=$(mktemp -d -p /dev/shm hfgrants.XXXXXX)
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
curl -fsS -X POST "$hub/api/repos/create" -d '{"name":"g","organization":"local"}' >/dev/null

# N small objects, uploaded through the repo (one batch, then a basic PUT each).
objects=""
for i in $(seq "$N"); do
  printf 'object %d\n' "$i" >"$dir/o.$i"
  sha=$(sha256sum "$dir/o.$i" | cut -d' ' -f1)
  echo "$sha $i" >>"$dir/shas"
  objects+="{\"oid\":\"$sha\",\"size\":$(stat -c %s "$dir/o.$i")},"
done
objects="[${objects%,}]"
curl -fsS -X POST "$hub/local/g.git/info/lfs/objects/batch" \
  -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":$objects}" |
  grep -o '"upload":{"href":"[^"]*"' | sed 's/.*"href":"//; s/"$//' >"$dir/hrefs"
[[ $(wc -l <"$dir/hrefs") -eq $N ]] || { echo "the batch did not offer $N uploads" >&2; exit 1; }
paste -d' ' "$dir/shas" "$dir/hrefs" | while read -r _ i href; do
  curl -fsS -X PUT -T "$dir/o.$i" "$href" >/dev/null
done

# G earlier grants, as a long-lived repo gathers them.
grants=$(find "$dir/hub" -name lfs-grants | head -1)
[[ -n $grants ]] || { echo "no grants file under $dir/hub" >&2; exit 1; }
awk -v g="$G" 'BEGIN { for (i = 0; i < g; i++) printf "%064x\n", i }' >>"$grants"

{ echo '{"key":"header","value":{"summary":"many lfs"}}'
  while read -r sha i; do
    printf '{"key":"lfsFile","value":{"path":"f%d.bin","algo":"sha256","oid":"%s","size":%d}}\n' \
      "$i" "$sha" "$(stat -c %s "$dir/o.$i")"
  done <"$dir/shas"; } >"$dir/commit.ndjson"

t0=$(date +%s.%N)
curl -fsS -X POST "$hub/api/models/local/g/commit/main" --data-binary @"$dir/commit.ndjson" -o "$dir/commit.out"
t1=$(date +%s.%N)
grep -q commitOid "$dir/commit.out" || { echo "the commit failed: $(cat "$dir/commit.out")" >&2; exit 1; }
printf 'commit naming %d LFS objects, %d earlier grants: %.3f s\n' "$N" "$G" "$(echo "$t1 - $t0" | bc -l)"

t0=$(date +%s.%N)
curl -fsS -X POST "$hub/local/g.git/info/lfs/objects/batch" \
  -d "{\"operation\":\"download\",\"objects\":$objects}" -o "$dir/batch.out"
t1=$(date +%s.%N)
got=$(grep -o '"download":{' "$dir/batch.out" | wc -l)
printf 'batch download of the %d: %.3f s (%d download actions)\n' "$N" "$(echo "$t1 - $t0" | bc -l)" "$got"
