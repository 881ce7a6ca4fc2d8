#!/usr/bin/env bash
# Create (or refresh) the project environment at .venv/ and install everything the project needs.
#
# Order: torch/torchvision -> mmengine -> mmcv 2.1.0 built from source with C++20 (cached wheel) ->
# requirements.txt -> this package (editable). Safe to re-run: every step is skipped when already satisfied,
# so a second run with everything present takes seconds.
#
# Environment:
#   VENV                 where the environment lives (default: .venv in the repo root)
#   PYTHON               interpreter used to create it (default: python3)
#   HDB_WHEEL_CACHE      where the built mmcv wheel is cached (default: ~/.cache/hybrid-depth-bev/wheels)
#   FORCE_CUDA=1         build mmcv's CUDA ops too (automatic when torch sees a GPU)
#   MAX_JOBS             parallel compile jobs for mmcv (default: number of cores)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
CACHE="${HDB_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/hybrid-depth-bev/wheels}"
TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMENGINE_VERSION=0.10.7
MMCV_VERSION=2.1.0
# torch>=2.8 asks for setuptools>=77; mmcv 2.1.0's setup.py still imports pkg_resources (gone in 81).
SETUPTOOLS_SPEC='setuptools>=77,<81'

log() { printf '\033[1m[install]\033[0m %s\n' "$*"; }
PIP=(pip_quiet "$VENV/bin/python" -m pip --disable-pip-version-check)
# pip_quiet CMD...: run CMD, dropping pip's per-package notes about index folders that lack a package.
pip_quiet() { "$@" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2); }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

have() {  # have DIST VERSION -> 0 when DIST==VERSION is installed in the venv
  "$PY" - "$1" "$2" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
have = version(sys.argv[1])
sys.exit(0 if have.split('+')[0] == sys.argv[2] else 1)
PYEOF
}

if have torch "$TORCH_VERSION" && have torchvision "$TORCHVISION_VERSION"; then
  log "torch $TORCH_VERSION / torchvision $TORCHVISION_VERSION present"
else
  log "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
  "${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

if have mmengine "$MMENGINE_VERSION" && "$PY" -c "import pkg_resources, wheel" 2>/dev/null; then
  log "mmengine $MMENGINE_VERSION present"
else
  log "installing mmengine==$MMENGINE_VERSION and build tools"
  "${PIP[@]}" install -q "mmengine==$MMENGINE_VERSION" "$SETUPTOOLS_SPEC" wheel ninja
fi

if have mmcv "$MMCV_VERSION" && "$PY" -c "import mmcv.ops" 2>/dev/null; then
  log "mmcv $MMCV_VERSION (with ops) present"
else
  CUDA_FLAG=cpu
  if [ "${FORCE_CUDA:-0}" = "1" ] || "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    CUDA_FLAG=cuda
  fi
  TORCH_TAG="$("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"))')"
  PY_TAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
  SLOT="$CACHE/mmcv-$MMCV_VERSION-torch$TORCH_TAG-$PY_TAG-$CUDA_FLAG"
  WHEEL="$(ls "$SLOT"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$WHEEL" ]; then
    log "building mmcv $MMCV_VERSION from source with -std=c++20 ($CUDA_FLAG ops; ~11 min on 2 cores)"
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$WORK"
    tar -xzf "$WORK/mmcv-$MMCV_VERSION.tar.gz" -C "$WORK"
    SRC="$WORK/mmcv-$MMCV_VERSION"
    # torch>=2.10 headers need C++20; mmcv's setup.py pins c++14/c++17 in several places.
    sed -i -E "s/(-std=|\/std:)c\+\+1[47]'/\1c++20'/g" "$SRC/setup.py"
    if grep -v '^ *#' "$SRC/setup.py" | grep -q -E "std[=:]c\+\+1[47]"; then
      echo "install.sh: could not raise every C++ standard flag in $SRC/setup.py" >&2; exit 1
    fi
    mkdir -p "$SLOT"
    env_cuda=()
    [ "$CUDA_FLAG" = cuda ] && env_cuda=(FORCE_CUDA=1)
    (cd "$SRC" && env MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${env_cuda[@]}" \
       "${PIP[@]}" wheel -q --no-build-isolation --no-deps -w "$WORK/dist" .)
    built="$(ls "$WORK"/dist/mmcv-*.whl | head -n1)"
    # Write under a temporary name, then rename: an interrupted build never leaves a half wheel in the cache.
    cp "$built" "$SLOT/.partial.whl" && mv "$SLOT/.partial.whl" "$SLOT/$(basename "$built")"
    WHEEL="$SLOT/$(basename "$built")"
  else
    log "using cached mmcv wheel $WHEEL"
  fi
  "${PIP[@]}" install -q --no-deps "$WHEEL"
  "$PY" -c "import mmcv.ops"
fi

REQ_STAMP="$VENV/.hdb-requirements.sha"
REQ_SHA="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$REQ_STAMP" ] && [ "$(cat "$REQ_STAMP")" = "$REQ_SHA" ] && "$PY" -c "import hybrid_depth" 2>/dev/null; then
  log "requirements.txt and hybrid_depth present"
else
  log "installing requirements.txt and hybrid_depth (editable)"
  "${PIP[@]}" install -q -r "$ROOT/requirements.txt"
  "${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"
  echo "$REQ_SHA" > "$REQ_STAMP"
fi
log "done: $("$PY" -c 'import torch, mmcv, mmdet, mmdet3d; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, mmdet3d {mmdet3d.__version__}")')"
