#!/usr/bin/env bash
# Usage: bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]
set -euo pipefail
if [ "$#" -lt 3 ]; then
  echo "usage: bash tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]" >&2; exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
# One node without PORT: the launcher binds a free port itself (rendezvous at port 0), so concurrent runs never
# share a port and no port is picked free and bound later (another process can take it in between). Several
# nodes, or PORT given: every node meets at MASTER_ADDR:PORT (default 29500, outside the kernel's ephemeral
# range, which holds the ports gloo's own connections and listeners use).
if [ "$NNODES" = 1 ] && [ -z "${PORT:-}" ]; then
  RDZV=(--rdzv-backend=c10d --rdzv-endpoint="$MASTER_ADDR:0" --rdzv-id="hdb-$$-$RANDOM")
else
  RDZV=(--node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" --master_port="${PORT:-29500}")
fi
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON=${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python )}

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    "${RDZV[@]}" \
    --nproc_per_node="$GPUS" \
    "$ROOT/tools/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch \
    "${@:4}"
