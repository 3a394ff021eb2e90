#!/usr/bin/env bash
# What a lent GPU machine does, fitted to the device tool's budget: 15 minutes of device
# time per session, machine starts included, and a machine goes back 30 s after a call.
# First, here: bash bench/gpu_prepare.sh (sm_90 binaries built here, and .deb files in
# case they must be rebuilt there). Then two device calls, each with carry [".gpu"]:
#
#   1. bash bench/gpu_session.sh check     timeout_s 360. The whole test suite on the GPU,
#      one benchmark per issue's GPU target (GPU alone, PyTorch for train), then
#      compute-sanitizer memcheck on the CUDA tests.
#   2. COHORT_GPU_BUDGET_S=<status's budget_left_s minus ~150> bash bench/gpu_session.sh peers
#      The targets against their peers in the same run (scikit-learn, PyTorch), the
#      precision and score-kernel sweeps, the demo pipeline on both backends, end to end.
#      With COHORT_SANITIZE=1 it starts with the sanitizer (when check's was cut off).
#
# Each call stops its steps by COHORT_GPU_BUDGET_S seconds (default 330) after it
# starts: a step gets at most its own limit and what is left, and one that cannot fit
# says it was skipped. Logs go to $OUT (at most 8 files come back: session.log,
# tests.xml, bench.jsonl and the demo manifests), else to ./gpu-logs.
# "bash bench/gpu_session.sh fingerprint" prints the hash of the sources a build uses.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

fingerprint() {
  find CMakeLists.txt cmake kernels host include apps tests bench -type f \
    \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name '*.cmake' \
       -o -name CMakeLists.txt \) -not -path 'bench/peers/*' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16
}
what="${1:-check}"
if [ "$what" = fingerprint ]; then fingerprint; exit 0; fi

logs="${OUT:-$root/gpu-logs}"
mkdir -p "$logs"
exec > >(tee -a "$logs/session.log") 2>&1
tee_pid=$!
# On exit, let tee write the log's last lines before the device tool collects $OUT.
trap 'exec >&- 2>&-; wait "$tee_pid" 2>/dev/null' EXIT
budget="${COHORT_GPU_BUDGET_S:-330}"
started=$SECONDS
step() { echo; echo "=== $* (t=$((SECONDS - started)) s, $(date -u +%H:%M:%S))"; }
left() { echo $((budget - (SECONDS - started))); }
# capped LIMIT COMMAND...: runs COMMAND for at most LIMIT seconds and what the budget
# leaves (less 5 s to write the logs); skipped when under 10 s would be left for it.
capped() {
  local limit="$1"; shift
  local allowed=$(($(left) - 5))
  [ "$allowed" -lt "$limit" ] && limit="$allowed"
  if [ "$limit" -lt 10 ]; then echo "skipped (budget spent): $*"; return 0; fi
  timeout "$limit" "$@"
  local status=$?
  [ "$status" = 124 ] && echo "cut off after $limit s: $*"
  return "$status"
}

step "binaries (budget $budget s)"
export PATH="/usr/local/cuda/bin:$PATH"
export LD_LIBRARY_PATH="$root/build-gpu/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
[ -f .gpu/prebuilt.tar.xz ] && tar -xJf .gpu/prebuilt.tar.xz
usable=yes
if [ "$(cat build-gpu/fingerprint 2>/dev/null)" != "$(fingerprint)" ]; then
  echo "carried binaries missing or built from other sources"; usable=no
elif ldd build-gpu/cohort build-gpu/tests/cohort_tests | grep "not found"; then
  usable=no
fi
if [ "$usable" = yes ]; then
  # Tests and benchmarks find their data and peer scripts under the source path they
  # were built in: point it here when it is elsewhere.
  built_in="$(cat build-gpu/source_dir)"
  if [ "$built_in" != "$root" ] && [ ! -e "$built_in" ]; then mkdir -p "$(dirname "$built_in")" && ln -s "$root" "$built_in"; fi
else
  step "build here (sm_90)"
  prefix=/tmp/cohort-deps  # the carried .deb files, unpacked into a private prefix (never into /)
  for deb in .gpu/debs/*.deb; do dpkg -x "$deb" "$prefix"; done
  blas_dir="$prefix/usr/lib/x86_64-linux-gnu/openblas-pthread"  # dpkg -x makes no alternatives links
  export CMAKE_PREFIX_PATH="$prefix/usr"
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:$blas_dir:$LD_LIBRARY_PATH"
  export CPLUS_INCLUDE_PATH="$prefix/usr/include:$prefix/usr/include/x86_64-linux-gnu/openblas-pthread:${CPLUS_INCLUDE_PATH:-}"
  rm -rf build-gpu
  capped 300 cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOHORT_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DCOHORT_CUDA_LINEINFO=ON "-DBLAS_LIBRARIES=$blas_dir/libopenblas.so" >/dev/null &&
    capped 300 cmake --build build-gpu -j "$(nproc)" --target cohort cohort_tests bench_join bench_matrix \
      bench_similar bench_segment bench_train || { echo "error: the build failed"; exit 1; }
fi
build-gpu/cohort info
export COHORT_BINARY="$root/build-gpu/cohort"
# The machine's own python3 holds PyTorch (CUDA), numpy, scipy, pandas and scikit-learn
# (no FAISS or GeoPandas): the peers it can run report, the others say they are skipped.
if [ ! -x bench/peers/venv/bin/python ] && python3 -c "import torch, sklearn, scipy, pandas" 2>/dev/null; then
  export COHORT_PEER_PYTHON=python3
fi

bench() {  # bench LIMIT NAME ARGS...
  local limit="$1" name="$2"; shift 2
  step "$name $*"
  capped "$limit" "build-gpu/bench/$name" "$@"
}
json=(--json "$logs/bench.jsonl")

sanitize() {
  step "compute-sanitizer memcheck on the CUDA tests"
  capped "$1" compute-sanitizer --tool memcheck --error-exitcode 9 build-gpu/tests/cohort_tests --gtest_filter='*Cuda*'
  echo "sanitizer exit code: $?"
}

case "$what" in
  check)
    step "all tests (the CUDA suites run on the GPU; the rest as in CI)"
    capped 120 build-gpu/tests/cohort_tests --gtest_output="xml:$logs/tests.xml"
    echo "tests exit code: $?"
    # One run per issue's GPU target, the GPU alone (PyTorch eager on the same GPU for train).
    bench 40 bench_similar --device cuda --n 1e6 --d-sweep "" --queries "" --precision bf16 --no-peers "${json[@]}"
    bench 60 bench_join --device cuda --sizes 100000000 --polygons 200 3000 --file-points 0 --peer 0
    bench 40 bench_matrix --device cuda --sizes 1e7,1e8 --no-file --no-peers "${json[@]}"
    bench 40 bench_segment --device cuda --n 1000000 --k 8 256 --no-peers "${json[@]}"
    bench 60 bench_train --device cuda --epochs 10 --batch 512 8192 "${json[@]}"
    sanitize 120  # what is left, up to 2 minutes; if cut off, again at the start of "peers"
    bench 30 bench_similar --device cuda --n 1e6 --d-sweep "" --queries "" --no-peers "${json[@]}" ;;
  peers)
    [ -n "${COHORT_SANITIZE:-}" ] && sanitize 150
    bench 60 bench_segment --device both --n 100000 --k 8 64 1024 "${json[@]}"
    bench 60 bench_similar --device cuda --n 1e5 --d-sweep "" --queries 1,100,10000 --queries-n 1000000 \
      --peer-max-pairs 2e9 "${json[@]}"
    for precision in fp32 tf32 bf16; do
      bench 40 bench_similar --device cuda --precision "$precision" --score-kernels fused,cublas --n 1e6 \
        --d-sweep "" --queries "" --no-peers "${json[@]}"
    done
    bench 60 bench_segment --device both --n 1000000 --k 8 64 "${json[@]}"
    bench 40 bench_train --device cuda --batch 512 8192 --no-cuda-graph --no-peers "${json[@]}"
    bench 40 bench_train --device cuda --batch 512 8192 --precision bf16 --no-peers "${json[@]}"
    bench 40 bench_train --device cuda --batch 512 8192 --deterministic --no-peers "${json[@]}"
    bench 60 bench_train --device cuda --rows 1000000 --ids 100000 --batch 512 --epochs 1 --lazy-adam "${json[@]}"
    bench 60 bench_join --device all --sizes 10000000 --file-points 10000000 --peer 0
    bench 40 bench_matrix --device auto --sizes 1e7 --no-peers "${json[@]}"
    step "the demo pipeline on each backend: the same ground-truth scores expected"
    for device in cuda cpu; do  # outside $OUT (the world is tens of MB); the manifest comes back
      capped 60 build-gpu/cohort demo --device "$device" --out "/tmp/demo-$device" | tail -n 3
      cp "/tmp/demo-$device/manifest.json" "$logs/demo-$device-manifest.json" 2>/dev/null
    done
    step "ncu: the fused score and nearest-centroid kernels, one launch each (occupancy, shared-memory bank conflicts)"
    capped 60 ncu -k 'regex:fused_fp32|fused_wmma|nearest_centroids' -c 3 --section SpeedOfLight --section Occupancy \
      --section MemoryWorkloadAnalysis_Tables build-gpu/bench/bench_similar --device cuda --n 1e5 --d-sweep "" \
      --queries "" --no-peers
    capped 40 ncu -k 'regex:nearest_centroids' -c 1 --section SpeedOfLight --section MemoryWorkloadAnalysis_Tables \
      build-gpu/bench/bench_segment --device cuda --n 100000 --k 256 --max-iter 2 --no-peers
    bench 120 bench_train --device cuda --rows 10000000 --ids 1000000 --batch 8192 --epochs 1 --lazy-adam \
      "${json[@]}" ;;
  *) echo "usage: bash bench/gpu_session.sh check | peers | fingerprint" >&2; exit 2 ;;
esac
step "done"
