#!/bin/bash
# One chief and N workers on this machine (loopback), e.g. to try the distributed mode:
#   bash scripts/local_distributed.sh run.yaml 2
set -euo pipefail
CONFIG=${1:?usage: scripts/local_distributed.sh CONFIG.yaml [N_WORKERS]}
N=${2:-2}
PY=${PYTHON:-python}
export KERASTUNER_ORACLE_IP=127.0.0.1
export KERASTUNER_ORACLE_PORT=${KERASTUNER_ORACLE_PORT:-$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
KERASTUNER_TUNER_ID=chief $PY -m kerasnac search "$CONFIG" & chief=$!
pids=()
for i in $(seq 0 $((N - 1))); do
  KERASTUNER_TUNER_ID=worker$i $PY -m kerasnac search "$CONFIG" --quiet & pids+=($!)
done
trap 'kill ${pids[*]} $chief 2>/dev/null' INT TERM
wait $chief; status=$?
wait "${pids[@]}" || true
exit $status
