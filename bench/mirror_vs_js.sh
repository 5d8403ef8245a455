#!/usr/bin/env bash
# `hfhub mirror` between two local `hfhub serve` instances, against what a script does without
# it: the JS client's snapshotDownload into a cache, then uploadFiles to the other Hub
# (bench/mirror_js.mjs), on the same repo, in one run.
#   FILES x MIB MiB random LFS files (default 8 x 256 MiB) in the source repo.
# Every run gets a fresh destination server (fresh root, so no object is already stored) and,
# for JS, a fresh cache; clients alternate order per rep; figures are medians. Prints, never
# asserts. Knobs (environment): REPS (3), FILES, MIB, SERVE_THREADS (1), HFHUB (build/hfhub),
# NODE (node), HFHUB_ARGS (extra `hfhub mirror` options).
# Quick run: FILES=2 MIB=32 REPS=1 bench/mirror_vs_js.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
FILES=${FILES:-8}; MIB=${MIB:-256}
SERVE_THREADS=${SERVE_THREADS:-1}
HFHUB=${HFHUB:-build/hfhub}
NODE=${NODE:-node}
HFHUB_ARGS=${HFHUB_ARGS:-}
[[ -x $HFHUB ]] || { echo "build first: cmake --build build --target hfhub (or set HFHUB)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time: scripts/setup.sh --bench" >&2; exit 1; }
[[ -d test/interop/node_modules/@huggingface/hub ]] || { echo "needs the JS client: (cd test/interop && npm ci)" >&2; exit 1; }
HFHUB=$(realpath "$HFHUB")

# The data, the source's copy, the destination's copy and the JS cache: tmpfs when it fits.
need_mib=$((FILES * MIB * 4 + 512))
shm_free=$(df -Pm /dev/shm 2>/dev/null | awk 'NR==2 {print $4}' || echo 0)
if (( ${shm_free:-0} > need_mib )); then tmp=$(mktemp -d -p /dev/shm); else tmp=$(mktemp -d); fi
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
ticks=$(getconf CLK_TCK)

start_server() {  # name -> sets $url and $pid
  rm -rf "$tmp/$1"; mkdir -p "$tmp/$1"
  "$HFHUB" serve --root "$tmp/$1/root" --port 0 --threads "$SERVE_THREADS" >"$tmp/$1/out" 2>"$tmp/$1/err" &
  pid=$!; pids+=("$pid")
  for _ in $(seq 200); do grep -q '^listening on ' "$tmp/$1/out" && break; sleep 0.05; done
  url=$(sed -n 's/^listening on //p' "$tmp/$1/out")
  [[ -n $url ]] || { cat "$tmp/$1/err" >&2; echo "hfhub serve did not start" >&2; exit 1; }
}
stop_server() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cpu_s() { awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN {if (x == "nan") print "n/a"; else printf "%.*f", d, x}'; }

echo "== mirror_vs_js: $(date -u '+%F %T UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), data in $tmp"
echo "   hfhub $HFHUB ${HFHUB_ARGS:+($HFHUB_ARGS) }| JS @huggingface/hub $(sed -n 's/.*"version": "\(.*\)".*/\1/p' test/interop/node_modules/@huggingface/hub/package.json) on node $("$NODE" --version) | serve --threads $SERVE_THREADS | reps $REPS"

# The source repo, filled once with hfhub upload (not timed).
mkdir -p "$tmp/data"
for i in $(seq -w 1 "$FILES"); do
  { openssl enc -aes-128-ctr -nosalt -pass "pass:$RANDOM$RANDOM$i" -in /dev/zero 2>/dev/null || true; } |
    head -c $((MIB << 20)) >"$tmp/data/shard-$i.bin"
done
find "$tmp/data" -type f -exec openssl dgst -sha256 -r {} + | cut -d' ' -f1 >"$tmp/oids"
bytes=$(find "$tmp/data" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.0f\n", s}')
start_server src; src_url=$url; src_pid=$pid
"$HFHUB" upload local/ckpt "$tmp/data" --endpoint "$src_url" --quiet >/dev/null
rm -rf "$tmp/data"  # only the servers' copies from here on
echo "== $FILES files, $((bytes >> 20)) MiB, in $src_url/local/ckpt"

mkdir -p "$tmp/res"
run() {  # who rep
  local who=$1 rep=$2 repo="local/copy-$1-$2"
  start_server dst; local dst_url=$url dst_pid=$pid
  local src_cpu0; src_cpu0=$(cpu_s "$src_pid")
  local t0 t1
  t0=$(date +%s.%N)
  if [[ $who == hfhub ]]; then
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$HFHUB" mirror local/ckpt "$repo" --src-endpoint "$src_url" \
      --dst-endpoint "$dst_url" --quiet $HFHUB_ARGS >"$tmp/client.out" 2>"$tmp/client.err" ||
      { cat "$tmp/client.err" >&2; exit 1; }
  else
    rm -rf "$tmp/jscache"
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$NODE" bench/mirror_js.mjs "$src_url" local/ckpt "$dst_url" "$repo" \
      "$tmp/jscache" >"$tmp/client.out" 2>"$tmp/client.err" || { cat "$tmp/client.err" >&2; exit 1; }
  fi
  t1=$(date +%s.%N)
  local scpu dcpu; scpu=$(awk -v a="$src_cpu0" -v b="$(cpu_s "$src_pid")" 'BEGIN {print b - a}'); dcpu=$(cpu_s "$dst_pid")
  # Every object landed.
  curl -fsS "$dst_url/api/models/$repo/tree/main?recursive=true&limit=10000" >"$tmp/tree"
  while read -r oid; do grep -q "\"oid\":\"$oid\"" "$tmp/tree" || { echo "$who: LFS object $oid missing" >&2; exit 1; }; done <"$tmp/oids"
  stop_server "$dst_pid"
  rm -rf "$tmp/dst" "$tmp/jscache"
  read -r u s m <"$tmp/time"
  awk -v a="$t0" -v b="$t1" -v u="$u" -v s="$s" -v m="$m" -v sc="$scpu" -v dc="$dcpu" \
    'BEGIN {printf "%.3f %.2f %d %.2f\n", b - a, u + s, m, sc + dc}' >>"$tmp/res/$who"
  printf '  rep %d %-6s %7.2f s  client cpu %6.2f s  rss %5d MiB  servers cpu %6.2f s\n' "$rep" "$who" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')" \
    $((m / 1024)) "$(awk -v a="$scpu" -v b="$dcpu" 'BEGIN {print a + b}')"
}

for rep in $(seq "$REPS"); do
  if (( rep % 2 )); then order="hfhub js"; else order="js hfhub"; fi
  for who in $order; do run "$who" "$rep"; done
done

echo
echo "== results (medians of $REPS; MB = 10^6 bytes)"
hw=$(cut -d' ' -f1 "$tmp/res/hfhub" | median); jw=$(cut -d' ' -f1 "$tmp/res/js" | median)
hc=$(cut -d' ' -f2 "$tmp/res/hfhub" | median); jc=$(cut -d' ' -f2 "$tmp/res/js" | median)
hr=$(cut -d' ' -f3 "$tmp/res/hfhub" | median); jr=$(cut -d' ' -f3 "$tmp/res/js" | median)
hs=$(cut -d' ' -f4 "$tmp/res/hfhub" | median); js=$(cut -d' ' -f4 "$tmp/res/js" | median)
printf '  %-26s %12s %12s\n' "" "hfhub mirror" "JS dl+upload"
printf '  %-26s %12s %12s\n' "MB/s (wall)" "$(fmt "$(awk -v b="$bytes" -v t="$hw" 'BEGIN {print b / t / 1e6}')")" \
  "$(fmt "$(awk -v b="$bytes" -v t="$jw" 'BEGIN {print b / t / 1e6}')")"
printf '  %-26s %12s %12s\n' "wall s" "$(fmt "$hw" 2)" "$(fmt "$jw" 2)"
printf '  %-26s %12s %12s\n' "client CPU s" "$(fmt "$hc" 2)" "$(fmt "$jc" 2)"
printf '  %-26s %12s %12s\n' "client peak RSS MiB" "$((${hr%.*} / 1024))" "$((${jr%.*} / 1024))"
printf '  %-26s %12s %12s\n' "servers CPU s" "$(fmt "$hs" 2)" "$(fmt "$js" 2)"
printf '  %-26s %12s %12s\n' "local disk used" "none" "$((bytes >> 20)) MiB"
printf '  hfhub / JS (wall): %s   target >= 2x\n' "$(awk -v a="$jw" -v b="$hw" 'BEGIN {printf "%.2fx", a / b}')"
