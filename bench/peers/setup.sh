#!/usr/bin/env bash
# Installs the tools cohort is compared against into bench/peers/venv, from the
# Python package index. Not needed to build, run or test cohort.
#   bash bench/peers/setup.sh            # all peers
#   PEERS="numpy scipy" bash bench/peers/setup.sh   # a subset
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/venv"
peers="${PEERS:-numpy pandas scipy scikit-learn shapely geopandas faiss-cpu torch}"

if ! python3 -m venv --help >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "error: python3 venv is missing; install python3-venv" >&2; exit 1; }
  apt-get update -qq && apt-get install -y -qq python3-venv python3-pip
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
# shellcheck disable=SC2086
"$venv/bin/python" -m pip install -q $peers
"$venv/bin/python" - <<'PY'
import importlib
for name in ["numpy", "pandas", "scipy", "sklearn", "shapely", "geopandas", "faiss", "torch"]:
    try:
        module = importlib.import_module(name)
        print(f"{name:12s} {getattr(module, '__version__', '?')}")
    except ImportError:
        print(f"{name:12s} not installed")
PY
