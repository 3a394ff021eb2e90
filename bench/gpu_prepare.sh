#!/usr/bin/env bash
# Run HERE (the dev machine) before a GPU session, so the lent machine spends its few
# minutes on tests and benchmarks rather than on a build. Fills .gpu/ (ignored by git),
# which every device call carries (carry [".gpu"]):
#   .gpu/prebuilt.tar.xz  cohort, cohort_tests and the benchmarks built here for sm_90
#                         (with -lineinfo for compute-sanitizer), the libraries they
#                         load that a bare CUDA image lacks, and the fingerprint of the
#                         sources they were built from;
#   .gpu/debs/            the .deb files of the build dependencies, so the GPU machine
#                         (no package registry) can build there if the binaries are stale
#                         or do not run.
# Then see bench/gpu_session.sh for the calls.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mkdir -p .gpu/debs .git/info
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo "/.gpu/" >> .git/info/exclude

echo "== .deb files for a build on the GPU machine"
(cd .gpu/debs && apt-get update -qq && apt-get download libcli11-dev libsimdjson-dev libsimdjson14 \
  libopenblas-dev libopenblas0 libopenblas0-pthread libopenblas-pthread-dev libgtest-dev googletest \
  libgfortran5 >/dev/null)

echo "== sm_90 build in build-gpu"
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DCOHORT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DCOHORT_CUDA_LINEINFO=ON -DCOHORT_WERROR=ON >/dev/null
targets=(cohort cohort_tests bench_join bench_matrix bench_similar bench_segment bench_train bench_generate)
cmake --build build-gpu -j "$(nproc)" --target "${targets[@]}"

echo "== bundle"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/build-gpu/tests" "$stage/build-gpu/bench" "$stage/build-gpu/lib"
cp build-gpu/cohort "$stage/build-gpu/"
cp build-gpu/tests/cohort_tests "$stage/build-gpu/tests/"
cp build-gpu/bench/bench_* "$stage/build-gpu/bench/"
# Every library they load from the distribution except the C and C++ runtimes (a newer
# one is on the GPU machine's image); CUDA's own libraries come from its toolkit.
ldd build-gpu/cohort build-gpu/tests/cohort_tests build-gpu/bench/bench_* |
  awk '$2 == "=>" && $3 ~ /^\/(usr\/)?lib\// {print $1, $3}' | sort -u |
  grep -Ev '^(libc|libm|libstdc\+\+|libgcc_s|libdl|libpthread|librt)\.so' |
  while read -r name path; do cp -L "$path" "$stage/build-gpu/lib/$name"; done
bash bench/gpu_session.sh fingerprint > "$stage/build-gpu/fingerprint"
echo "$root" > "$stage/build-gpu/source_dir"
ls "$stage/build-gpu/lib"
tar -C "$stage" -cJf .gpu/prebuilt.tar.xz build-gpu
du -sh .gpu/prebuilt.tar.xz .gpu/debs
