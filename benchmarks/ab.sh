#!/bin/bash
# Two checkouts of extgen on one catalog, one after the other, REPS times: the wall time
# of validate, render into an empty OUT, a no-op render and render --check, per side.
#   benchmarks/ab.sh BEFORE_CHECKOUT AFTER_CHECKOUT CATALOG [REPS]
# Each side runs with PYTHONPATH on its own checkout (give the older one an
# extgen/templates link to its templates/), through the interpreter of .venv here, from
# a directory of its own: `python -m` puts the current directory before PYTHONPATH.
set -euo pipefail
PY="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"
before=$(realpath "$1") after=$(realpath "$2") catalog=$(realpath "$3") reps=${4:-4}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
seconds() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
for _ in $(seq "$reps"); do
  for side in before after; do
    if [ "$side" = before ]; then code=$before; else code=$after; fi
    out=$work/out-$side
    rm -rf "$out"
    v=$(PYTHONPATH=$code seconds "$PY" -m extgen validate -c "$catalog")
    r=$(PYTHONPATH=$code seconds "$PY" -m extgen render -c "$catalog" -o "$out")
    n=$(PYTHONPATH=$code seconds "$PY" -m extgen render -c "$catalog" -o "$out")
    k=$(PYTHONPATH=$code seconds "$PY" -m extgen render --check -c "$catalog" -o "$out")
    echo "$side validate $v render $r noop $n check $k"
  done
done
