#!/usr/bin/env bash
# `hfhub upload` against the JS client's uploadFiles (@huggingface/hub, bench/upload_js.mjs) on
# the same bytes, plus the machine's hashing bound (OpenSSL SHA-256 over those bytes), in one run:
#   (a) A_FILES x A_MIB MiB random LFS files in one commit      (default 8 x 256 MiB)
#   (b) one B_MIB MiB file, multipart                           (default 2048 MiB)
#   (c) C_FILES text files of C_KIB KiB, regular, in one commit (default 2000 x 4 KiB)
#   (m) hfhub's peak RSS uploading one MEM_MIB MiB file          (default 4096; 0 skips)
# Every run gets a fresh `hfhub serve` (fresh root, so no object is already stored) and a fresh
# repo; clients alternate order per rep; figures are medians. Prints, never asserts.
# Knobs (environment): REPS (3), A_FILES, A_MIB, B_MIB, C_FILES, C_KIB, MEM_MIB, WORKLOADS
# ("a b c m"), SERVE_THREADS (1, the serve default), STORE_THREADS (2, the serve default),
# HFHUB (build/hfhub), NODE (node), HFHUB_ARGS (extra `hfhub upload` options, e.g. "--max-workers 4").
# Quick run: A_FILES=2 A_MIB=32 B_MIB=128 C_FILES=200 MEM_MIB=256 REPS=1 bench/upload_vs_js.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
A_FILES=${A_FILES:-8}; A_MIB=${A_MIB:-256}
B_MIB=${B_MIB:-2048}
C_FILES=${C_FILES:-2000}; C_KIB=${C_KIB:-4}
MEM_MIB=${MEM_MIB:-4096}
WORKLOADS=${WORKLOADS:-a b c m}
SERVE_THREADS=${SERVE_THREADS:-1}
STORE_THREADS=${STORE_THREADS:-2}
HFHUB=${HFHUB:-build/hfhub}
NODE=${NODE:-node}
HFHUB_ARGS=${HFHUB_ARGS:-}
[[ -x $HFHUB ]] || { echo "build first: cmake --build build --target hfhub (or set HFHUB)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time: scripts/setup.sh --bench" >&2; exit 1; }
[[ -d test/interop/node_modules/@huggingface/hub ]] || { echo "needs the JS client: (cd test/interop && npm ci)" >&2; exit 1; }
HFHUB=$(realpath "$HFHUB")

# Room for the data plus what the server keeps (a multipart object exists twice while it is
# assembled): tmpfs when it fits, otherwise $TMPDIR.
need_mib=$((A_FILES * A_MIB + B_MIB * 3 + 512))
(( MEM_MIB * 3 + 512 > need_mib )) && need_mib=$((MEM_MIB * 3 + 512))
shm_free=$(df -Pm /dev/shm 2>/dev/null | awk 'NR==2 {print $4}' || echo 0)
if (( ${shm_free:-0} > need_mib )); then tmp=$(mktemp -d -p /dev/shm); else tmp=$(mktemp -d); fi
srv=
stop_server() {
  [[ -n $srv ]] || return 0
  kill "$srv" 2>/dev/null || true; wait "$srv" 2>/dev/null || true; srv=
}
trap 'stop_server; rm -rf "$tmp"' EXIT
ticks=$(getconf CLK_TCK)

start_server() {
  rm -rf "$tmp/srv"; mkdir -p "$tmp/srv"
  "$HFHUB" serve --root "$tmp/srv/root" --port 0 --threads "$SERVE_THREADS" --store-threads "$STORE_THREADS" >"$tmp/srv/out" 2>"$tmp/srv/err" &
  srv=$!
  for _ in $(seq 200); do grep -q '^listening on ' "$tmp/srv/out" && break; sleep 0.05; done
  hub=$(sed -n 's/^listening on //p' "$tmp/srv/out")
  [[ -n $hub ]] || { cat "$tmp/srv/err" >&2; echo "hfhub serve did not start" >&2; exit 1; }
}
server_cpu_s() { awk -v t="$ticks" '{printf "%.2f", ($14 + $15) / t}' "/proc/$srv/stat"; }

# Random bytes, fast: AES-CTR keystream, a different key per file so every object is new.
random_file() {  # path MiB
  { openssl enc -aes-128-ctr -nosalt -pass "pass:$RANDOM$RANDOM$1" -in /dev/zero 2>/dev/null || true; } |
    head -c $(($2 << 20)) >"$1"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
fmt() { awk -v x="$1" -v d="${2:-1}" 'BEGIN {if (x == "nan") print "n/a"; else printf "%.*f", d, x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "nan" || b == "nan" || b == 0) print "n/a"; else printf "%.2fx", a / b}'; }

# One timed client run against a fresh server. Appends to $tmp/res/<w>.<client>:
#   wall_s  client_cpu_s  peak_rss_kib  server_cpu_s
run_client() {  # workload client dir rep
  local w=$1 who=$2 dir=$3 rep=$4 repo="local/$1-$2-$4"
  start_server
  local t0 t1
  t0=$(date +%s.%N)
  if [[ $who == hfhub ]]; then
    # shellcheck disable=SC2086
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$HFHUB" upload "$repo" "$dir" --endpoint "$hub" --quiet $HFHUB_ARGS \
      >"$tmp/client.out" 2>"$tmp/client.err" || { cat "$tmp/client.err" >&2; exit 1; }
  else
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$NODE" bench/upload_js.mjs "$hub" "$repo" "$dir" \
      >"$tmp/client.out" 2>"$tmp/client.err" || { cat "$tmp/client.err" >&2; exit 1; }
  fi
  t1=$(date +%s.%N)
  local scpu; scpu=$(server_cpu_s)
  # The commit landed with every file (and, for LFS, every oid).
  curl -fsS "$hub/api/models/$repo/tree/main?recursive=true&limit=10000" >"$tmp/tree"
  local n; n=$(grep -o '"type":"file"' "$tmp/tree" | wc -l)
  (( n >= $(find "$dir" -type f | wc -l) )) || { echo "$w/$who: the commit has $n files" >&2; exit 1; }
  if [[ -s $tmp/oids.$w ]]; then
    while read -r oid; do grep -q "\"oid\":\"$oid\"" "$tmp/tree" || { echo "$w/$who: LFS object $oid missing" >&2; exit 1; }; done <"$tmp/oids.$w"
  fi
  stop_server
  rm -rf "$tmp/srv"
  read -r u s m <"$tmp/time"
  awk -v a="$t0" -v b="$t1" -v u="$u" -v s="$s" -v m="$m" -v sc="$scpu" \
    'BEGIN {printf "%.3f %.2f %d %s\n", b - a, u + s, m, sc}' >>"$tmp/res/$w.$who"
  printf '  %-2s rep %d %-6s %7.2f s  client cpu %6.2f s  rss %5d MiB  server cpu %6.2f s\n' \
    "$w" "$rep" "$who" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$(awk -v u="$u" -v s="$s" 'BEGIN {print u + s}')" \
    $((m / 1024)) "$scpu"
}

# OpenSSL SHA-256 over the same bytes, one process (one core): appends "wall_s cpu_s".
run_hash() {  # workload dir
  /usr/bin/time -f '%e %U %S' -o "$tmp/time" find "$2" -type f -exec openssl dgst -sha256 -r {} + >"$tmp/dgst"
  read -r e u s <"$tmp/time"
  awk -v e="$e" -v u="$u" -v s="$s" 'BEGIN {printf "%.2f %.2f\n", e, u + s}' >>"$tmp/res/$1.hash"
}

mkdir -p "$tmp/res" "$tmp/data"
echo "== upload_vs_js: $(date -u '+%F %T UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), data in $tmp"
echo "   hfhub $HFHUB ${HFHUB_ARGS:+($HFHUB_ARGS) }| JS @huggingface/hub $(sed -n 's/.*"version": "\(.*\)".*/\1/p' test/interop/node_modules/@huggingface/hub/package.json) on node $("$NODE" --version) | $(openssl version | cut -d' ' -f1-2) | serve --threads $SERVE_THREADS | reps $REPS"

declare -A bytes files
for w in $WORKLOADS; do
  d="$tmp/data/$w"; mkdir -p "$d"
  case $w in
    a) for i in $(seq -w 1 "$A_FILES"); do random_file "$d/shard-$i.bin" "$A_MIB"; done ;;
    b) random_file "$d/big.bin" "$B_MIB" ;;
    c) # text (base64), so each file is a regular one sent inline in the commit
       { openssl enc -aes-128-ctr -nosalt -pass "pass:$RANDOM" -in /dev/zero 2>/dev/null || true; } |
         head -c $((C_FILES * C_KIB * 768)) | base64 -w0 | split -b $((C_KIB * 1024)) -a 5 -d - "$d/f" ;;
    m) continue ;;
    *) echo "unknown workload $w" >&2; exit 2 ;;
  esac
  bytes[$w]=$(find "$d" -type f -printf '%s\n' | awk '{s += $1} END {printf "%d\n", s}')
  files[$w]=$(find "$d" -type f | wc -l)
  : >"$tmp/oids.$w"
  [[ $w != c ]] && find "$d" -type f -exec openssl dgst -sha256 -r {} + | cut -d' ' -f1 >"$tmp/oids.$w"
done

for w in $WORKLOADS; do
  [[ $w == m ]] && continue
  echo "== ($w) ${files[$w]} files, $(fmt "$(awk -v b="${bytes[$w]}" 'BEGIN {print b / 1048576}')" 0) MiB"
  for rep in $(seq "$REPS"); do
    if (( rep % 2 )); then order="hfhub js"; else order="js hfhub"; fi
    for who in $order; do run_client "$w" "$who" "$tmp/data/$w" "$rep"; done
    run_hash "$w" "$tmp/data/$w"
  done
done

echo
echo "== results (medians of $REPS; MB = 10^6 bytes)"
for w in $WORKLOADS; do
  [[ $w == m ]] && continue
  hw=$(cut -d' ' -f1 "$tmp/res/$w.hfhub" | median); jw=$(cut -d' ' -f1 "$tmp/res/$w.js" | median)
  hc=$(cut -d' ' -f2 "$tmp/res/$w.hfhub" | median); jc=$(cut -d' ' -f2 "$tmp/res/$w.js" | median)
  hr=$(cut -d' ' -f3 "$tmp/res/$w.hfhub" | median); jr=$(cut -d' ' -f3 "$tmp/res/$w.js" | median)
  hs=$(cut -d' ' -f4 "$tmp/res/$w.hfhub" | median); js=$(cut -d' ' -f4 "$tmp/res/$w.js" | median)
  xw=$(cut -d' ' -f1 "$tmp/res/$w.hash" | median); xc=$(cut -d' ' -f2 "$tmp/res/$w.hash" | median)
  B=${bytes[$w]}; F=${files[$w]}
  mbs() { awk -v b="$B" -v t="$1" 'BEGIN {print (t > 0) ? b / t / 1e6 : "nan"}'; }
  fps() { awk -v f="$F" -v t="$1" 'BEGIN {print (t > 0) ? f / t : "nan"}'; }
  h_mbs=$(mbs "$hw"); j_mbs=$(mbs "$jw"); x_core=$(mbs "$xc")
  h_cores=$(awk -v c="$hc" -v t="$hw" 'BEGIN {print c / t}'); j_cores=$(awk -v c="$jc" -v t="$jw" 'BEGIN {print c / t}')
  bound=$(awk -v x="$x_core" -v c="$h_cores" 'BEGIN {print x * c}')
  echo "-- ($w) ${F} files, $B bytes"
  printf '  %-26s %12s %12s\n' "" hfhub "JS client"
  if [[ $w == c ]]; then
    printf '  %-26s %12s %12s\n' "files/s" "$(fmt "$(fps "$hw")" 0)" "$(fmt "$(fps "$jw")" 0)"
  fi
  printf '  %-26s %12s %12s\n' "MB/s (wall)" "$(fmt "$h_mbs")" "$(fmt "$j_mbs")"
  printf '  %-26s %12s %12s\n' "wall s" "$(fmt "$hw" 2)" "$(fmt "$jw" 2)"
  printf '  %-26s %12s %12s\n' "client CPU s (cores used)" "$(fmt "$hc" 2) ($(fmt "$h_cores" 2))" "$(fmt "$jc" 2) ($(fmt "$j_cores" 2))"
  printf '  %-26s %12s %12s\n' "client peak RSS MiB" "$((${hr%.*} / 1024))" "$((${jr%.*} / 1024))"
  printf '  %-26s %12s %12s\n' "server CPU s" "$(fmt "$hs" 2)" "$(fmt "$js" 2)"
  printf '  hashing bound: openssl sha256 %s MB/s per core (%s s CPU, %s s wall, one core)\n' \
    "$(fmt "$x_core")" "$(fmt "$xc" 2)" "$(fmt "$xw" 2)"
  if [[ $w == c ]]; then
    printf '  hfhub / JS (files/s): %s   target >= 3x\n' "$(ratio "$jw" "$hw")"
  else
    printf '  hfhub / JS (MB/s): %s   target >= 2x\n' "$(ratio "$jw" "$hw")"
    printf '  hfhub MB/s / (hash MB/s per core x %s cores used = %s MB/s): %s   target >= 0.7x\n' \
      "$(fmt "$h_cores" 2)" "$(fmt "$bound" 0)" "$(ratio "$h_mbs" "$bound")"
    printf '  hfhub MB/s / hash MB/s of one core: %s\n' "$(ratio "$h_mbs" "$x_core")"
  fi
done

if [[ " $WORKLOADS " == *" m "* ]] && (( MEM_MIB > 0 )); then
  rm -rf "$tmp/data/a" "$tmp/data/b"
  d="$tmp/data/m"; mkdir -p "$d"; random_file "$d/huge.bin" "$MEM_MIB"
  find "$d" -type f -exec openssl dgst -sha256 -r {} + | cut -d' ' -f1 >"$tmp/oids.m"
  echo
  echo "== (m) peak RSS of hfhub uploading one $MEM_MIB MiB file"
  run_client m hfhub "$d" 1
  read -r mw _ mr _ <"$tmp/res/m.hfhub"
  printf '  hfhub peak RSS %d MiB (target <= 64 MiB), %s MB/s\n' $((mr / 1024)) \
    "$(fmt "$(awk -v b=$((MEM_MIB << 20)) -v t="$mw" 'BEGIN {print b / t / 1e6}')")"
fi
