#!/usr/bin/env bash
# Installs everything hfhub needs on Debian 12. Idempotent: installs only what is missing.
#   scripts/setup.sh          build + test dependencies
#   scripts/setup.sh --bench  also the references the benchmarks compare against
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential cmake ccache pkg-config git curl ca-certificates
      libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev libboost-url1.81-dev
      libboost-program-options1.81-dev libssl-dev libyaml-cpp-dev openssl tinyproxy
      liblz4-dev librust-blake3-dev  # Xet storage: LZ4 chunks; BLAKE3 built from the C sources in the Rust package
      clang libclang-rt-14-dev  # clang: the libFuzzer targets only
      lld)  # the linker CMakeLists.txt picks: links in a seventh of GNU ld's CPU
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
[[ "${1:-}" == "--bench" ]] && pkgs+=(nginx-light wrk hyperfine bc aria2 time)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  # Debian would start nginx and tinyproxy as system services; the tests and benchmarks run
  # their own instances.
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The JS client the conformance test drives, pinned by package-lock.json.
if [[ ! -d test/interop/node_modules/@huggingface/hub ]]; then
  (cd test/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
