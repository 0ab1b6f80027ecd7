#!/usr/bin/env bash
# One-command set-up for a fresh machine.
#   bash dev.sh demo    create .venv, install, run a small global search and save the Pareto plot
#   bash dev.sh test    create or reuse .venv, install, run the default (fast) test suite
#   bash dev.sh slow    same, but the slow tests (-m slow)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.kerasnac-installed
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  touch "$stamp"
fi
# TensorFlow's C++ start-up lines cannot be switched off by environment variables; drop them.
quiet() { "$@" 2>&1 | grep --line-buffered -v -E '^(I0000|E0000|W0000|WARNING: All log messages before absl)'; }
case "${1:-test}" in
  demo) shift; quiet .venv/bin/python -m kerasnac.demo "$@" ;;
  test) shift; quiet .venv/bin/python -m pytest -q -n 2 --dist worksteal -m "not slow" "$@" ;;
  slow) shift; quiet .venv/bin/python -m pytest -q -m slow "$@" ;;
  *) echo "usage: bash dev.sh [demo|test|slow]" >&2; exit 2 ;;
esac
