#!/bin/bash
# Distributed kerasnac search on SLURM: task 0 is the chief (holds the ParetoOracle, writes the
# results, runs no trials), every other task is a worker (trains one trial at a time).
#
#   sbatch --nodes=4 --ntasks-per-node=1 scripts/slurm_search.sh run.yaml
#
# The search directory in run.yaml (search.directory) must be on a filesystem all nodes share.
# Resubmitting the same job resumes the search: completed trials are kept, interrupted ones re-run.
#SBATCH --job-name=kerasnac
#SBATCH --time=24:00:00
#SBATCH --cpus-per-task=8
#SBATCH --output=kerasnac-%j-%t.log
#SBATCH --requeue
set -euo pipefail
CONFIG=${1:?usage: sbatch scripts/slurm_search.sh CONFIG.yaml}
export KERASTUNER_ORACLE_IP=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
export KERASTUNER_ORACLE_PORT=${KERASTUNER_ORACLE_PORT:-$((20000 + SLURM_JOB_ID % 20000))}
# a worker pings the chief every 10 s during a trial; after 5 min of silence its trial re-runs elsewhere
export KERASNAC_HEARTBEAT=${KERASNAC_HEARTBEAT:-10} KERASNAC_WORKER_TIMEOUT=${KERASNAC_WORKER_TIMEOUT:-300}
# each task uses the cores SLURM gave it
export TF_NUM_INTRAOP_THREADS=${SLURM_CPUS_PER_TASK:-1} TF_NUM_INTEROP_THREADS=1
srun --kill-on-bad-exit=0 bash -c '
  if [ "$SLURM_PROCID" -eq 0 ]; then export KERASTUNER_TUNER_ID=chief; else export KERASTUNER_TUNER_ID=worker$SLURM_PROCID; fi
  exec python -m kerasnac search "$0"' "$CONFIG"
