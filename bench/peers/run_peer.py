"""Times one peer on the benchmark's own input files and prints one JSON line.

Usage: run_peer.py SCRIPT [ARGS...]
SCRIPT is a bench/peers/<engine>_peer.py module that defines
    prepare(args) -> state      # load inputs (not timed)
    run(state) -> dict          # the work being compared (timed), returns facts to report
The JSON line holds {"peer": ..., "seconds": ..., "threads": ..., **facts}; the C++
benchmarks read it with bench_util.hpp's run_peer().
"""
import importlib.util
import json
import os
import sys
import time


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: run_peer.py SCRIPT [ARGS...]")
    path = sys.argv[1]
    spec = importlib.util.spec_from_file_location("peer", path)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    state = peer.prepare(sys.argv[2:])
    start = time.perf_counter()
    facts = peer.run(state) or {}
    seconds = time.perf_counter() - start
    result = {"peer": os.path.basename(path), "seconds": seconds,
              "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1))}
    result.update(facts)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
