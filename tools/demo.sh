#!/usr/bin/env bash
# make demo: the end-to-end demo on the embedded synthetic world (see tools/demo.py).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec "$ROOT/.venv/bin/python" "$ROOT/tools/demo.py" --work-dir "${1:-$ROOT/work_dirs/demo}" "${@:2}"
