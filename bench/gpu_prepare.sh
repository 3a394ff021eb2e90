#!/usr/bin/env bash
# Run HERE (the dev machine) before a GPU session: downloads the .deb files of the
# build dependencies the GPU machine lacks (it cannot reach any package registry)
# into .gpu/debs, which the device tool then carries. Then call, through the device
# tool: command "bash bench/gpu_session.sh", carry [".gpu"].
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$root/.gpu/debs"
mkdir -p "$root/.git/info"
grep -qx "/.gpu/" "$root/.git/info/exclude" 2>/dev/null || echo "/.gpu/" >> "$root/.git/info/exclude"
cd "$root/.gpu/debs"
apt-get update -qq
apt-get download libcli11-dev libsimdjson-dev libsimdjson14 libopenblas-dev libopenblas0 \
  libopenblas0-pthread libopenblas-pthread-dev libgtest-dev googletest libgfortran5 >/dev/null
du -sh "$root/.gpu"
