#!/usr/bin/env bash
# hfhub serve vs nginx on the same bytes, same machine, interleaved runs:
#   1. small-file resolve requests/s (wrk) against /ns/name/resolve/main/config.json
#   2. LFS download MB/s (curl) from hfhub's signed storage URL vs nginx's static file
# Run from the repo root after building ./build/hfhub; tools come from scripts/setup.sh --bench.
# Knobs (environment): LFS_MB=1024 WRK_REPS=5 WRK_SECONDS=5 DL_REPS=5 HFHUB=./build/hfhub
set -euo pipefail

HFHUB=${HFHUB:-./build/hfhub}
LFS_MB=${LFS_MB:-1024}
WRK_REPS=${WRK_REPS:-5}
WRK_SECONDS=${WRK_SECONDS:-5}
DL_REPS=${DL_REPS:-5}
TARGET=0.8

die() { echo "serve_vs_nginx: $*" >&2; exit 1; }
[[ -x $HFHUB ]] || die "$HFHUB not found: build it first (cmake -S . -B build && cmake --build build --target hfhub)"
for tool in nginx wrk curl python3 sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh --bench"
done
HFHUB=$(realpath "$HFHUB")

# tmpfs when it has room for the source file plus hfhub's copy, so the disk doesn't decide.
need_kb=$(( (LFS_MB * 2 + 256) * 1024 ))
if [[ -d /dev/shm ]] && (( $(df -Pk /dev/shm | awk 'NR==2 {print $4}') > need_kb )); then
  T=$(mktemp -d /dev/shm/hfhub-bench.XXXXXX)
else
  T=$(mktemp -d "${TMPDIR:-/tmp}/hfhub-bench.XXXXXX")
fi
HFHUB_PID="" NGINX_PID=""
cleanup() {
  set +e
  # Only what this script started, by pid.
  [[ -n $HFHUB_PID ]] && kill "$HFHUB_PID" 2>/dev/null && wait "$HFHUB_PID" 2>/dev/null
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json_get() { python3 -c 'import json,sys; v=json.load(sys.stdin)
for k in sys.argv[1:]: v=v[int(k)] if isinstance(v,list) else v[k]
print(v)' "$@"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

echo "workdir: $T"
mkdir -p "$T/www" "$T/nginx"
chmod 755 "$T" "$T/www"  # nginx workers run as an unprivileged user when started as root

# ---- data --------------------------------------------------------------------------------
python3 - "$T/www/config.json" <<'EOF'
import json, random, sys
random.seed(1)
d = {f"param_{i}": random.random() for i in range(400)}
s = json.dumps(d, indent=1)[:4095] + "\n"
open(sys.argv[1], "w").write(s.ljust(4096)[:4096])
EOF
echo "generating ${LFS_MB} MiB of random data..."
head -c "$((LFS_MB << 20))" /dev/urandom > "$T/www/model.bin"
LFS_SIZE=$(stat -c %s "$T/www/model.bin")
LFS_SHA=$(sha256sum "$T/www/model.bin" | cut -d' ' -f1)

# ---- hfhub -------------------------------------------------------------------------------
"$HFHUB" serve --root "$T/root" --port 0 > "$T/hfhub.out" 2> "$T/hfhub.err" &
HFHUB_PID=$!
for _ in $(seq 300); do grep -q '^listening on ' "$T/hfhub.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^listening on ' "$T/hfhub.out" || { tail -5 "$T/hfhub.err" >&2; die "hfhub serve did not start"; }
BASE=$(sed -n 's/^listening on //p' "$T/hfhub.out" | head -1)
REPO=bench/model

curl -sf -X POST "$BASE/api/repos/create" -H 'Content-Type: application/json' \
  -d "{\"name\":\"$REPO\"}" > /dev/null || die "repo creation failed"
{
  echo '{"key":"header","value":{"summary":"config"}}'
  printf '{"key":"file","value":{"path":"config.json","encoding":"base64","content":"%s"}}\n' \
    "$(base64 -w0 "$T/www/config.json")"
} > "$T/commit1.ndjson"
curl -sf -X POST "$BASE/api/models/$REPO/commit/main" -H 'Content-Type: application/x-ndjson' \
  --data-binary @"$T/commit1.ndjson" > /dev/null || die "config.json commit failed"

echo "uploading the LFS object to hfhub..."
batch=$(curl -sf -X POST "$BASE/$REPO.git/info/lfs/objects/batch" \
  -H 'Content-Type: application/vnd.git-lfs+json' -H 'Accept: application/vnd.git-lfs+json' \
  -d "{\"operation\":\"upload\",\"transfers\":[\"basic\"],\"hash_algo\":\"sha256\",\"objects\":[{\"oid\":\"$LFS_SHA\",\"size\":$LFS_SIZE}]}") \
  || die "LFS batch failed"
href=$(json_get objects 0 actions upload href <<< "$batch")
curl -sf -X PUT -T "$T/www/model.bin" "$href" > /dev/null || die "LFS PUT failed"
printf '%s\n%s\n' '{"key":"header","value":{"summary":"weights"}}' \
  "{\"key\":\"lfsFile\",\"value\":{\"path\":\"model.bin\",\"algo\":\"sha256\",\"oid\":\"$LFS_SHA\",\"size\":$LFS_SIZE}}" \
  > "$T/commit2.ndjson"
curl -sf -X POST "$BASE/api/models/$REPO/commit/main" -H 'Content-Type: application/x-ndjson' \
  --data-binary @"$T/commit2.ndjson" > /dev/null || die "LFS commit failed"

SMALL_HF="$BASE/$REPO/resolve/main/config.json"
read -r code LFS_HF < <(curl -s -o /dev/null -w '%{http_code} %{redirect_url}\n' "$BASE/$REPO/resolve/main/model.bin")
[[ $code == 302 && -n $LFS_HF ]] || die "resolve of model.bin answered $code, not a 302"

# nginx serves hfhub's own stored copies of the bytes.
blob=$(curl -sfI "$SMALL_HF" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: "\(.*\)"$/\1/p')
cp "$T/root/objects/${blob:0:2}/$blob" "$T/www/config.json"
cp "$T/root/lfs/${LFS_SHA:0:2}/$LFS_SHA" "$T/www/model.bin"

# ---- nginx -------------------------------------------------------------------------------
NGINX_PORT=$(free_port)
cat > "$T/nginx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path $T/nginx/body;
  proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fastcgi;
  uwsgi_temp_path $T/nginx/uwsgi;
  scgi_temp_path $T/nginx/scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $T/www;
  }
}
EOF
nginx -e "$T/nginx/error.log" -c "$T/nginx/nginx.conf" -p "$T/nginx" &
NGINX_PID=$!
NGINX="http://127.0.0.1:$NGINX_PORT"
for _ in $(seq 100); do curl -sf -o /dev/null "$NGINX/config.json" && break; sleep 0.1; done
curl -sf -o /dev/null "$NGINX/config.json" || { tail -5 "$T/nginx/error.log" >&2; die "nginx did not start"; }

# Same bytes from both, or the comparison means nothing.
cmp -s <(curl -sf "$SMALL_HF") <(curl -sf "$NGINX/config.json") || die "config.json differs between servers"
[[ $(curl -sf "$LFS_HF" | sha256sum | cut -d' ' -f1) == "$LFS_SHA" ]] || die "hfhub storage served other bytes"
[[ $(curl -sf "$NGINX/model.bin" | sha256sum | cut -d' ' -f1) == "$LFS_SHA" ]] || die "nginx served other bytes"

# ---- measurements, interleaved (the order flips every repetition) -----------------------
# Besides throughput, the servers' own CPU time per unit of work: steadier on a busy machine.
TCK=$(getconf CLK_TCK)
cpu_ticks() {  # utime+stime of the given pids (all threads)
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
nginx_workers() { cat "/proc/$NGINX_PID/task/$NGINX_PID/children"; }

# prints "<req/s> <server CPU us per request>"
run_wrk() {
  local url=$1 out a b reqs; shift
  a=$(cpu_ticks "$@")
  out=$(wrk -t2 -c32 -d"${WRK_SECONDS}s" "$url")
  b=$(cpu_ticks "$@")
  grep -qE 'Non-2xx|Socket errors' <<< "$out" && die "wrk saw errors from $url: $out"
  reqs=$(awk '/ requests in / {print $1}' <<< "$out")
  awk -v r="$reqs" -v d=$((b - a)) -v t="$TCK" '/^Requests\/sec:/ {printf "%s %.1f\n", $2, d / t * 1e6 / r}' <<< "$out"
}
# prints "<MB/s> <server CPU ms per GiB>"
run_curl() {
  local url=$1 a b speed; shift
  a=$(cpu_ticks "$@")
  speed=$(curl -sf -o /dev/null -w '%{speed_download}' "$url")
  b=$(cpu_ticks "$@")
  awk -v s="$speed" -v d=$((b - a)) -v t="$TCK" -v n="$LFS_SIZE" \
    'BEGIN {printf "%.1f %.0f\n", s / 1e6, d / t * 1e3 / (n / 1073741824)}'
}

echo "small-file resolve: wrk -t2 -c32 -d${WRK_SECONDS}s, ${WRK_REPS} repetitions each"
wrk -t2 -c32 -d1s "$SMALL_HF" > /dev/null
wrk -t2 -c32 -d1s "$NGINX/config.json" > /dev/null
hf_rps=() ng_rps=() hf_rcpu=() ng_rcpu=()
for ((i = 0; i < WRK_REPS; i++)); do
  if ((i % 2)); then read -r n1 n2 < <(run_wrk "$NGINX/config.json" $(nginx_workers)); read -r h1 h2 < <(run_wrk "$SMALL_HF" "$HFHUB_PID")
  else read -r h1 h2 < <(run_wrk "$SMALL_HF" "$HFHUB_PID"); read -r n1 n2 < <(run_wrk "$NGINX/config.json" $(nginx_workers)); fi
  hf_rps+=("$h1") hf_rcpu+=("$h2") ng_rps+=("$n1") ng_rcpu+=("$n2")
  echo "  rep $((i + 1)): hfhub $h1 req/s ($h2 us CPU/req), nginx $n1 req/s ($n2 us CPU/req)"
done

echo "LFS download: curl of $LFS_MB MiB, ${DL_REPS} repetitions each"
hf_mbs=() ng_mbs=() hf_dcpu=() ng_dcpu=()
for ((i = 0; i < DL_REPS; i++)); do
  if ((i % 2)); then read -r n1 n2 < <(run_curl "$NGINX/model.bin" $(nginx_workers)); read -r h1 h2 < <(run_curl "$LFS_HF" "$HFHUB_PID")
  else read -r h1 h2 < <(run_curl "$LFS_HF" "$HFHUB_PID"); read -r n1 n2 < <(run_curl "$NGINX/model.bin" $(nginx_workers)); fi
  hf_mbs+=("$h1") hf_dcpu+=("$h2") ng_mbs+=("$n1") ng_dcpu+=("$n2")
  echo "  rep $((i + 1)): hfhub $h1 MB/s ($h2 ms CPU/GiB), nginx $n1 MB/s ($n2 ms CPU/GiB)"
done

med() { printf '%s\n' "$@" | median; }
hf_rps_m=$(med "${hf_rps[@]}") ng_rps_m=$(med "${ng_rps[@]}")
hf_mbs_m=$(med "${hf_mbs[@]}") ng_mbs_m=$(med "${ng_mbs[@]}")
hf_rcpu_m=$(med "${hf_rcpu[@]}") ng_rcpu_m=$(med "${ng_rcpu[@]}")
hf_dcpu_m=$(med "${hf_dcpu[@]}") ng_dcpu_m=$(med "${ng_dcpu[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
verdict() { awk -v r="$1" -v t="$TARGET" 'BEGIN {print (r >= t) ? "met" : "below"}'; }
r1=$(ratio "$hf_rps_m" "$ng_rps_m")
r2=$(ratio "$hf_mbs_m" "$ng_mbs_m")

echo
echo "hfhub vs nginx, $(date -u +%Y-%m-%d), $(nproc) cores, data on $(df -P "$T" | awk 'NR==2 {print $1}')"
echo "medians of $WRK_REPS wrk runs (-t2 -c32 -d${WRK_SECONDS}s) and $DL_REPS curl downloads of $LFS_MB MiB"
printf '%-28s %11s %11s %7s  %s\n' "benchmark" "hfhub" "nginx" "ratio" "target"
printf '%-28s %11s %11s %6sx  %s\n' "small resolve (req/s)" "$hf_rps_m" "$ng_rps_m" "$r1" ">= ${TARGET}x: $(verdict "$r1")"
printf '%-28s %11s %11s %6sx  %s\n' "LFS download (MB/s)" "$hf_mbs_m" "$ng_mbs_m" "$r2" ">= ${TARGET}x: $(verdict "$r2")"
printf '%-28s %11s %11s %6sx  %s\n' "server CPU per request (us)" "$hf_rcpu_m" "$ng_rcpu_m" "$(ratio "$ng_rcpu_m" "$hf_rcpu_m")" "(nginx/hfhub: efficiency)"
printf '%-28s %11s %11s %6sx  %s\n' "server CPU per GiB (ms)" "$hf_dcpu_m" "$ng_dcpu_m" "$(ratio "$ng_dcpu_m" "$hf_dcpu_m")" "(nginx/hfhub: efficiency)"
