#!/usr/bin/env bash
# The quick start's driver: installs the distribution packages cohort needs (when
# missing and run as root), configures and builds into build/, then
#   bash cmake/run.sh demo [DIR]   runs `cohort demo` on generated data (default DIR: demo-out)
#   bash cmake/run.sh test         runs the full test suite (ctest)
#   bash cmake/run.sh build        only builds
# Extra CMake flags: COHORT_CMAKE_ARGS="-DCOHORT_CUDA=OFF" bash cmake/run.sh test
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
action="${1:-build}"
build="${COHORT_BUILD_DIR:-$root/build}"

packages=(cmake ninja-build g++ make pkg-config libcli11-dev libsimdjson-dev libopenblas-dev libgtest-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -qq
  updated=1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Optional: chromium renders report.html in one test (skipped visibly without it). Best
# effort, so an offline machine still builds.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ -z "${COHORT_NO_CHROMIUM:-}" ]; then
  echo "installing (optional): chromium"
  [ -n "${updated:-}" ] || apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
    echo "warning: chromium not installed; the report screenshot test will be skipped" >&2
fi

# shellcheck disable=SC2086
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${COHORT_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$(nproc)"

case "$action" in
  build) ;;
  demo) "$build/cohort" demo --out "${2:-demo-out}" ;;
  test) ctest --test-dir "$build" --output-on-failure -j "$(nproc)" ;;
  *) echo "usage: bash cmake/run.sh demo [DIR] | test | build" >&2; exit 2 ;;
esac
