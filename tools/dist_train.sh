#!/usr/bin/env bash
# Usage: bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# One node: NUM_PROCS processes (one per GPU; on a CPU-only machine they use gloo).
# Several nodes: NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash tools/dist_train.sh CONFIG 8
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]" >&2; exit 2
fi
CONFIG=$1
GPUS=$2
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
    "$ROOT/tools/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
