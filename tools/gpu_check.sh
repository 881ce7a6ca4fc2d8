#!/usr/bin/env bash
# The prepared device check (issue 23): run it on one GPU, it takes at most 8 minutes including set-up.
#   bash tools/gpu_check.sh                  # DEV=cuda: full-size bevdet_hybrid / fbbev_hybrid, batch 8, 4 iterations
#   DEV=cpu bash tools/gpu_check.sh          # the demo configs, batch 1, 2 iterations (what CI runs)
# (a) bev_pool and FB-BEV's backward projection on DEV vs the CPU fp64 reference (values, gradients);
# (b) training fp32 and --amp through tools/dist_train.sh (NCCL on CUDA, gloo on CPU), random-init towers;
# (c) tools/test.py on each fp32 result (rotated NMS + nuscenes-devkit); (d) one table (tools/gpu_check.py).
# Environment: DEV (cuda|cpu), NPROC (processes, default 1), WORK (default work_dirs/gpu_check), WORLD (a synthetic
# nuScenes root with mmdet3d infos; default: the tiny world is generated under WORK), PYTHON (default: .venv's if
# present, else a python that imports mmdet3d, else `make install` first), LIMIT_S (default 480).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
DEV=${DEV:-cuda}
NPROC=${NPROC:-1}
WORK=${WORK:-work_dirs/gpu_check}
LIMIT_S=${LIMIT_S:-480}
START=$(date +%s)
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then
    PYTHON="$ROOT/.venv/bin/python"
  elif python -c 'import mmdet3d, open_clip, timm' 2>/dev/null; then
    PYTHON=python
  else
    echo "gpu_check: no environment with mmdet3d: running make install" >&2
    make install
    PYTHON="$ROOT/.venv/bin/python"
  fi
fi
export PYTHON
mkdir -p "$WORK"
if [ -z "${WORLD:-}" ]; then
  WORLD="$WORK/world/nuscenes"
  if [ ! -f "$WORLD/nuscenes_infos_val.pkl" ]; then
    PYTHONPATH="$ROOT" "$PYTHON" tools/make_synthetic.py --out-dir "$WORK/world" --preset tiny --formats nuscenes \
      --mmdet3d-infos >"$WORK/make_synthetic.log" 2>&1 || { tail -20 "$WORK/make_synthetic.log" >&2; exit 1; }
  fi
fi
LEFT=$(( LIMIT_S - ($(date +%s) - START) ))
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" timeout "$LEFT" "$PYTHON" tools/gpu_check.py --dev "$DEV" \
  --world "$WORLD" --work-dir "$WORK/runs" --nproc "$NPROC"
