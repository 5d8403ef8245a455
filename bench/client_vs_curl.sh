#!/usr/bin/env bash
# The HTTP client against curl on the same URLs of a local `hfhub serve`, in one run:
#   (1) one large GET (default 1 GiB) from the storage origin to nowhere, MB/s, median of N;
#   (2) small GETs (a 4 KiB file) one after another on a kept-alive connection, requests/s.
# Usage: bench/client_vs_curl.sh [size_mib=1024] [runs=5] [small_requests=3000]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}; runs=${2:-5}; small=${3:-3000}
hfhub=build/hfhub; get=build/client_get
[[ -x $hfhub && -x $get ]] || { echo "build first: scripts/build.sh" >&2; exit 1; }
tmp=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'kill $srv 2>/dev/null || true; wait $srv 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$hfhub" serve --root "$tmp/hub" --port 0 >"$tmp/out" 2>/dev/null &
srv=$!
for _ in $(seq 100); do grep -q '^listening on ' "$tmp/out" && break; sleep 0.05; done
hub=$(sed -n 's/^listening on //p' "$tmp/out")
curl -fsS -X POST "$hub/api/repos/create" -d '{"name":"bench","organization":"local"}' >/dev/null
head -c $((size_mib << 20)) /dev/urandom >"$tmp/big"
head -c 4096 /dev/urandom | base64 -w0 | head -c 4096 >"$tmp/small"
sha=$(sha256sum "$tmp/big" | cut -d' ' -f1); size=$(stat -c %s "$tmp/big")
href=$(curl -fsS -X POST "$hub/local/bench.git/info/lfs/objects/batch" \
  -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"objects\":[{\"oid\":\"$sha\",\"size\":$size}]}" |
  sed -n 's/.*"upload":{"href":"\([^"]*\)".*/\1/p')
curl -fsS -X PUT -T "$tmp/big" "$href" >/dev/null
rm -f "$tmp/big"
printf '%s\n%s\n%s\n' '{"key":"header","value":{"summary":"bench"}}' \
  "{\"key\":\"file\",\"value\":{\"path\":\"small.txt\",\"content\":\"$(base64 -w0 "$tmp/small")\",\"encoding\":\"base64\"}}" \
  "{\"key\":\"lfsFile\",\"value\":{\"path\":\"big.bin\",\"algo\":\"sha256\",\"oid\":\"$sha\",\"size\":$size}}" |
  curl -fsS -X POST "$hub/api/models/local/bench/commit/main" --data-binary @- >/dev/null
big_url=$(curl -fsSI "$hub/local/bench/resolve/main/big.bin" | sed -n 's/^Location: \(.*\)\r$/\1/p')
small_url="$hub/local/bench/resolve/main/small.txt"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== (1) large GET: $size_mib MiB from the storage origin, $runs runs, alternating"
: >"$tmp/c"; : >"$tmp/h"
for _ in $(seq "$runs"); do
  curl -s -o /dev/null -w '%{speed_download}\n' "$big_url" | awk '{printf "%.1f\n", $1/1e6}' >>"$tmp/c"
  "$get" big "$big_url" | awk '{print $1}' >>"$tmp/h"
done
c=$(median <"$tmp/c"); h=$(median <"$tmp/h")
printf '  curl   median %8.1f MB/s   runs: %s\n' "$c" "$(tr '\n' ' ' <"$tmp/c")"
printf '  hfhub  median %8.1f MB/s   runs: %s\n' "$h" "$(tr '\n' ' ' <"$tmp/h")"
printf '  ratio hfhub/curl: %.2f (target >= 1.0)\n' "$(echo "$h / $c" | bc -l)"

echo "== (2) $small small GETs, one connection, sequential"
for _ in $(seq "$small"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$small_url"; done >"$tmp/urls"
: >"$tmp/c"; : >"$tmp/h"
for _ in 1 2 3; do
  t0=$(date +%s.%N); curl -s -K "$tmp/urls"; t1=$(date +%s.%N)
  echo "$small / ($t1 - $t0)" | bc -l >>"$tmp/c"
  "$get" small "$small_url" "$small" 1 | awk '{print $1}' >>"$tmp/h"
done
c=$(median <"$tmp/c"); h=$(median <"$tmp/h")
printf '  curl (one process, keep-alive)  median %8.0f req/s\n' "$c"
printf '  hfhub (sequential)              median %8.0f req/s\n' "$h"
printf '  ratio hfhub/curl: %.2f\n' "$(echo "$h / $c" | bc -l)"
p=$("$get" small "$small_url" "$small" 8 | awk '{print $1}')
printf '  hfhub (8 in parallel)           %8.0f req/s\n' "$p"
