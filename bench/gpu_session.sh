#!/usr/bin/env bash
# Everything a lent GPU machine should do, in one call (see bench/RESULTS.md for how
# results are recorded): build for Hopper (sm_90), run the whole test suite, run the
# CUDA tests once under compute-sanitizer, then every benchmark. Logs go to $OUT when
# set (the device tool brings them back), else to ./gpu-logs.
# Prepare on the dev machine first with bench/gpu_prepare.sh, then through the device
# tool (each call may run 10 minutes, so three calls while the machine stays warm, each
# with carry [".gpu"]):
#   bash bench/gpu_session.sh check                     build, tests, demo, compute-sanitizer
#   bash bench/gpu_session.sh bench join matrix similar  those benchmarks (reuse build-gpu)
#   bash bench/gpu_session.sh bench segment train
#   bash bench/gpu_session.sh bench train-large          10^7 rows, 10^6 ids (if time is left)
# "bench" alone runs every benchmark; "sanitize" only the sanitizer (if check ran out of
# time); no argument does everything (no per-call limit).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
logs="${OUT:-$root/gpu-logs}"
mkdir -p "$logs"
cd "$root"
exec > >(tee -a "$logs/session.log") 2>&1

# Dependencies carried as .deb files, unpacked into a private prefix (never into /).
prefix=/tmp/cohort-deps
if [ -d .gpu/debs ]; then
  for deb in .gpu/debs/*.deb; do dpkg -x "$deb" "$prefix"; done
  export CMAKE_PREFIX_PATH="$prefix/usr"
  blas_dir="$prefix/usr/lib/x86_64-linux-gnu/openblas-pthread"  # dpkg -x makes no alternatives links
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu:$blas_dir:${LD_LIBRARY_PATH:-}"
  export CPLUS_INCLUDE_PATH="$prefix/usr/include:$prefix/usr/include/x86_64-linux-gnu/openblas-pthread:${CPLUS_INCLUDE_PATH:-}"
  blas_flag="-DBLAS_LIBRARIES=$blas_dir/libopenblas.so"
fi
export PATH="/usr/local/cuda/bin:$PATH"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$logs/gpu.txt"

step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
what="${1:-all}"

if [ "$what" = check ] || [ "$what" = all ]; then
step build
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOHORT_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 -DCOHORT_CUDA_LINEINFO=ON \
  ${blas_flag:-} || exit 1
cmake --build build-gpu -j "$(nproc)" || exit 1
build-gpu/cohort info | tee "$logs/info.txt"

step tests
export COHORT_BINARY="$root/build-gpu/cohort"
# Bounded: a hung kernel must not take the sanitizer's and the demo's time (the log
# in $logs/session.log names the last test started).
timeout 240 build-gpu/tests/cohort_tests --gtest_output="xml:$logs/tests.xml" 2>&1 | tail -n 60
echo "tests exit code: ${PIPESTATUS[0]}"

step the demo pipeline on each backend: the same ground-truth scores expected
for device in cuda cpu; do  # outside $OUT (the world is tens of MB); the manifest comes back
  timeout 120 build-gpu/cohort demo --device "$device" --out "/tmp/demo-$device" 2>&1 | tail -n 3
  cp "/tmp/demo-$device/manifest.json" "$logs/demo-$device-manifest.json" 2>/dev/null
done

fi

if [ "$what" = check ] || [ "$what" = all ] || [ "$what" = sanitize ]; then
step compute-sanitizer on the CUDA tests
# Bounded, so the call ends inside the device tool's 10 minutes (124: cut off; then run
# "bash bench/gpu_session.sh sanitize" alone).
timeout 300 compute-sanitizer --tool memcheck --error-exitcode 9 \
  build-gpu/tests/cohort_tests --gtest_filter='*Cuda*:*Gpu*:*CUDA*' 2>&1 | tail -n 40
echo "sanitizer exit code: ${PIPESTATUS[0]}"

fi

if [ "$what" = bench ] || [ "$what" = all ]; then
[ -x build-gpu/cohort ] || { echo "error: build-gpu is missing: run the check step first" >&2; exit 1; }
step benchmarks
# Sizes for an H100/H200. The machine's own python3 holds PyTorch (with CUDA), numpy,
# scipy, pandas and scikit-learn but no FAISS or GeoPandas (nothing can be installed
# there): it runs the peers it can (PyTorch on the GPU for train and similar,
# scikit-learn for segment); the others report themselves skipped or failed.
if [ ! -x bench/peers/venv/bin/python ] && python3 -c "import torch, sklearn, scipy, pandas" 2>/dev/null; then
  export COHORT_PEER_PYTHON=python3
  echo "peers: python3 ($(python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'))"
fi
run_bench() {
  local name="$1"; shift
  step "$name $*"
  timeout "${BENCH_TIMEOUT:-110}" "build-gpu/bench/$name" "$@" 2>&1 | tee -a "$logs/$name.txt" | tail -n 40
}
# The benchmark groups named after "bench" (all of them when none is named).
groups=("${@:2}")
[ ${#groups[@]} -gt 0 ] || groups=(join matrix similar segment train train-large)
for group in "${groups[@]}"; do
  case "$group" in
    join)  # four layouts, three sizes, files of 10^7 points: more than the default limit
      BENCH_TIMEOUT=200 run_bench bench_join --device all --sizes 1000000 10000000 100000000 --file-points 10000000 \
        --peer 0 ;;
    matrix) run_bench bench_matrix --device auto --sizes 1e6,1e7,1e8 --no-peers --json "$logs/bench.jsonl" ;;
    similar)
      # CPU and GPU with peers up to 10^5 rows and 1 to 10,000 queries against 10^6 rows
      # (the issue's small batches against PyTorch on the same GPU); then N = 10^6 on the
      # GPU alone (the CPU would take minutes) against PyTorch, and in BF16 and TF32, each
      # with the fused score kernel and with cuBLAS score tiles (the issue's < 1 s target).
      run_bench bench_similar --device both --n 1e4,1e5 --queries 1,100,10000 --queries-n 1000000 \
        --json "$logs/bench.jsonl"
      run_bench bench_similar --device cuda --n 1e6 --d-sweep "" --queries "" --json "$logs/bench.jsonl"
      for precision in bf16 tf32; do
        run_bench bench_similar --device cuda --precision "$precision" --score-kernels fused,cublas --n 1e5,1e6 \
          --d-sweep "" --queries "" --no-peers --json "$logs/bench.jsonl"
      done ;;
    segment)  # scikit-learn where it finishes in time (and at k = 1,024 on 10^5 rows); larger runs without it
      run_bench bench_segment --device both --n 100000 1000000 --k 8 64 --json "$logs/bench.jsonl"
      run_bench bench_segment --device both --n 100000 --k 1024 --json "$logs/bench.jsonl"
      run_bench bench_segment --device both --n 1000000 --k 256 1024 --no-peers --json "$logs/bench.jsonl" ;;
    train)  # PyTorch eager on the same GPU is the peer
      run_bench bench_train --device both --epochs 10 --batch 512 8192 --json "$logs/bench.jsonl"
      run_bench bench_train --device cuda --batch 512 8192 --no-cuda-graph --no-peers --json "$logs/bench.jsonl"
      run_bench bench_train --device cuda --batch 512 8192 --precision bf16 --no-peers --json "$logs/bench.jsonl"
      run_bench bench_train --device cuda --rows 1000000 --ids 100000 --batch 512 --epochs 1 --lazy-adam \
        --json "$logs/bench.jsonl" ;;
    train-large)  # the issue's large case: 10^7 rows, an id column of 10^6 values (its own call)
      BENCH_TIMEOUT=400 run_bench bench_train --device cuda --rows 10000000 --ids 1000000 --batch 512 8192 \
        --epochs 1 --lazy-adam --json "$logs/bench.jsonl" ;;
    *) echo "error: unknown benchmark group '$group' (join, matrix, similar, segment, train, train-large)" >&2 ;;
  esac
done
fi
step done
