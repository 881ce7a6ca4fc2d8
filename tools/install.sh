#!/usr/bin/env bash
# Create (or refresh) the project environment at .venv/ and install everything the project needs.
#
# Order: torch/torchvision -> mmengine -> mmcv 2.1.0 built from source with C++20 (cached wheel) ->
# requirements.txt -> this package (editable). Safe to re-run: every step is skipped when already satisfied,
# so a second run with everything present takes seconds.
#
# Before a step runs, what it needs is checked, and a missing piece stops the install with one line naming it
# (no Python / venv module, no C++20 compiler, no Python headers, the package index unreachable, too little
# disk). A failing pip step prints the tail of its log and one line naming the step.
#
# Environment:
#   VENV                 where the environment lives (default: .venv in the repo root)
#   PYTHON               interpreter used to create it (default: python3)
#   HDB_WHEEL_CACHE      where the built mmcv wheel is cached (default: ~/.cache/hybrid-depth-bev/wheels);
#                        CI points it at an empty folder so that every CI run builds mmcv from source
#   HDB_REQUIRE_BUILD=1  fail unless mmcv is built from source in this run (CI: a cached wheel must not hide
#                        a broken build step)
#   FORCE_CUDA=1         build mmcv's CUDA ops too (automatic when torch sees a GPU)
#   MAX_JOBS             parallel compile jobs for mmcv (default: number of cores)
#   HDB_MMCV_CFLAGS      extra C++ flags for the mmcv build (default: -g0, no debug info: faster, smaller)
#   HDB_VENV_GIB, HDB_BUILD_GIB  free disk required for the environment / the mmcv build (GiB; defaults below)
#
# `bash tools/install.sh --check` runs only the checks (interpreter, venv module, disk, C++20 compiler, Python
# headers, package index) and installs nothing.
set -euo pipefail
CHECK_ONLY=0
case "${1:-}" in
  --check) CHECK_ONLY=1 ;;
  "") ;;
  *) echo "usage: bash tools/install.sh [--check]" >&2; exit 2 ;;
esac

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
# Free space each step needs, in GiB (measured: the finished .venv is ~6.6 GiB, the mmcv build tree ~0.4 GiB).
VENV_GIB="${HDB_VENV_GIB:-8}"
BUILD_GIB="${HDB_BUILD_GIB:-2}"

log() { printf '\033[1m[install]\033[0m %s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

# pip_run DESC ARGS...: `python -m pip ARGS` in the venv, its output kept in a log. On failure: the log's tail,
# then one line naming DESC. A shell function: call it directly, never through `env`, `xargs` or `timeout`
# (they execute programs; tests/tools/test_shell_scripts.py checks this).
pip_run() {
  local desc="$1"; shift
  local plog
  plog="$(mktemp "${TMPDIR:-/tmp}/hdb-pip.XXXXXX")"
  if ! "$VENV/bin/python" -m pip --disable-pip-version-check "$@" >"$plog" 2>&1; then
    grep -v 'is ignored: it is neither a file nor a directory' "$plog" | tail -n 25 >&2 || true
    rm -f "$plog"
    die "$desc failed (pip output above)"
  fi
  rm -f "$plog"
}

# free_gib DIR: free space in GiB on the file system that holds DIR (or its nearest existing parent).
free_gib() {
  local d="$1"
  while [ ! -d "$d" ]; do d="$(dirname "$d")"; done
  df -Pk "$d" | awk 'NR == 2 { printf "%d", $4 / 1048576 }'
}
need_disk() {  # need_disk DIR GIB WHAT
  local have
  have="$(free_gib "$1")"
  [ "$have" -ge "$2" ] || die "not enough disk for $3: $have GiB free under $1, need $2 GiB"
}

# interpreter: the venv's Python once it exists, else the one that will create it.
interpreter() { if [ -x "$VENV/bin/python" ]; then echo "$VENV/bin/python"; else echo "$PYTHON"; fi; }

need_python() {
  command -v "$PYTHON" >/dev/null 2>&1 || die "no Python interpreter '$PYTHON' on PATH (set PYTHON=...)"
  "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())'); the project needs >= 3.10"
  "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null \
    || die "$PYTHON has no venv/ensurepip module (Debian: apt-get install python3-venv)"
}

# need_index: the package index answers (checked once, before the first step that downloads).
INDEX_OK=0
need_index() {
  [ "$INDEX_OK" = 1 ] && return 0
  local url
  url="${PIP_INDEX_URL:-$("$(interpreter)" -m pip config get global.index-url 2>/dev/null || true)}"
  url="${url:-https://pypi.org/simple}"
  local reason
  reason="$("$(interpreter)" - "$url" 2>&1 <<'PYEOF'
import sys
import urllib.request
from pathlib import Path

url = sys.argv[1].rstrip('/')
if url.startswith('file://'):
    if not Path(url[len('file://'):]).is_dir():
        sys.exit('no such folder')
    sys.exit(0)
try:
    with urllib.request.urlopen(url + '/pip/', timeout=30) as response:
        response.read(1)
except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"; the caller prints one line
    sys.exit(str(exc).replace('\n', ' '))
PYEOF
  )" || die "package index $url is unreachable ($reason): check the network, proxy or pip config"
  INDEX_OK=1
}

# need_build_tools: a C++ compiler that takes -std=c++20, and the Python headers of the venv's interpreter.
need_build_tools() {
  local cxx="${CXX:-c++}"
  command -v "$cxx" >/dev/null 2>&1 || die "no C++ compiler ('$cxx' not on PATH): mmcv $MMCV_VERSION is built from source; install g++ (Debian: apt-get install g++)"
  printf '#include <concepts>\nint main() { return 0; }\n' \
    | "$cxx" -std=c++20 -x c++ - -o /dev/null >/dev/null 2>&1 \
    || die "C++ compiler '$cxx' cannot compile C++20 (torch >= 2.10 headers need it): install g++ >= 10"
  local header
  header="$("$(interpreter)" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_paths()["include"], "Python.h"))')"
  [ -f "$header" ] || die "no Python headers ($header missing): install the dev package of $("$(interpreter)" -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")') (Debian: apt-get install python3-dev)"
}

if [ "$CHECK_ONLY" = 1 ]; then
  [ -x "$VENV/bin/python" ] || need_python
  need_disk "$VENV" "$VENV_GIB" "the environment $VENV"
  need_disk "${TMPDIR:-/tmp}" "$BUILD_GIB" "the mmcv build tree"
  need_build_tools
  need_index
  log "checks passed: Python, disk, C++20 compiler, Python headers, package index"
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  need_python
  need_disk "$(dirname "$VENV")" "$VENV_GIB" "the environment $VENV"
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
  need_disk "$VENV" "$VENV_GIB" "torch $TORCH_VERSION in $VENV"
  need_index
  log "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
  pip_run "installing torch==$TORCH_VERSION" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
fi

if have mmengine "$MMENGINE_VERSION" && "$PY" -c "import pkg_resources, wheel" 2>/dev/null; then
  log "mmengine $MMENGINE_VERSION present"
else
  need_index
  log "installing mmengine==$MMENGINE_VERSION and build tools"
  pip_run "installing mmengine==$MMENGINE_VERSION" install -q "mmengine==$MMENGINE_VERSION" "$SETUPTOOLS_SPEC" wheel ninja
fi

if have mmcv "$MMCV_VERSION" && "$PY" -c "import mmcv.ops" 2>/dev/null && [ "${HDB_REQUIRE_BUILD:-0}" != 1 ]; then
  log "mmcv $MMCV_VERSION (with ops) present"
else
  CUDA_FLAG=cpu
  if [ "${FORCE_CUDA:-0}" = "1" ] || "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    CUDA_FLAG=cuda
  fi
  TORCH_TAG="$("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"))')"
  PY_TAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
  SLOT="$CACHE/mmcv-$MMCV_VERSION-torch$TORCH_TAG-$PY_TAG-$CUDA_FLAG"
  WHEEL="$(find "$SLOT" -maxdepth 1 -name "mmcv-$MMCV_VERSION-*.whl" 2>/dev/null | head -n1 || true)"
  if [ -n "$WHEEL" ] && [ "${HDB_REQUIRE_BUILD:-0}" = 1 ]; then
    die "HDB_REQUIRE_BUILD=1 but a built mmcv wheel is already cached ($WHEEL): point HDB_WHEEL_CACHE at an empty folder"
  fi
  if [ -z "$WHEEL" ]; then
    need_build_tools
    need_disk "${TMPDIR:-/tmp}" "$BUILD_GIB" "the mmcv build tree"
    need_index
    JOBS="${MAX_JOBS:-$(nproc)}"
    log "building mmcv $MMCV_VERSION from source with -std=c++20 ($CUDA_FLAG ops, ninja, $JOBS jobs; 11-26 min on 2 cores)"
    WORK="$(mktemp -d)"
    trap 'rm -rf "$WORK"' EXIT
    pip_run "downloading the mmcv $MMCV_VERSION source release" \
      download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$WORK"
    tar -xzf "$WORK/mmcv-$MMCV_VERSION.tar.gz" -C "$WORK"
    SRC="$WORK/mmcv-$MMCV_VERSION"
    # torch>=2.10 headers need C++20; mmcv's setup.py pins c++14/c++17 in several places.
    sed -i -E "s/(-std=|\/std:)c\+\+1[47]'/\1c++20'/g" "$SRC/setup.py"
    if grep -v '^ *#' "$SRC/setup.py" | grep -q -E "std[=:]c\+\+1[47]"; then
      die "could not raise every C++ standard flag in $SRC/setup.py"
    fi
    mkdir -p "$SLOT"
    # The build's environment is exported inside a subshell, not passed with `env VAR=... cmd`: pip_run is a
    # shell function and `env` can only execute programs. PATH puts the venv's ninja first (torch's
    # BuildExtension compiles in parallel only when `ninja` is on PATH); CFLAGS is appended after Python's own
    # flags, so -g0 drops the debug info that `-g` would generate for every object.
    (
      cd "$SRC"
      export MMCV_WITH_OPS=1 MAX_JOBS="$JOBS" PATH="$VENV/bin:$PATH" CFLAGS="${HDB_MMCV_CFLAGS--g0}"
      if [ "$CUDA_FLAG" = cuda ]; then export FORCE_CUDA=1; fi
      command -v ninja >/dev/null || die "ninja is missing from $VENV/bin (it is installed with mmengine)"
      pip_run "building mmcv $MMCV_VERSION (C++ compile)" wheel -q --no-build-isolation --no-deps -w "$WORK/dist" .
    )
    built="$(find "$WORK/dist" -maxdepth 1 -name 'mmcv-*.whl' 2>/dev/null | head -n1 || true)"
    [ -n "$built" ] || die "the mmcv $MMCV_VERSION build finished without a wheel in $WORK/dist"
    # Write under a temporary name, then rename: an interrupted build never leaves a half wheel in the cache.
    cp "$built" "$SLOT/.partial.whl" && mv "$SLOT/.partial.whl" "$SLOT/$(basename "$built")"
    WHEEL="$SLOT/$(basename "$built")"
  else
    log "using cached mmcv wheel $WHEEL"
  fi
  pip_run "installing the mmcv wheel $WHEEL" install -q --no-deps --force-reinstall "$WHEEL"
  "$PY" -c "import mmcv.ops" || die "mmcv $MMCV_VERSION installed from $WHEEL but 'import mmcv.ops' fails (error above)"
fi

REQ_STAMP="$VENV/.hdb-requirements.sha"
REQ_SHA="$(cat "$ROOT/requirements.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$REQ_STAMP" ] && [ "$(cat "$REQ_STAMP")" = "$REQ_SHA" ] && "$PY" -c "import hybrid_depth" 2>/dev/null; then
  log "requirements.txt and hybrid_depth present"
else
  need_index
  log "installing requirements.txt and hybrid_depth (editable)"
  pip_run "installing requirements.txt" install -q -r "$ROOT/requirements.txt"
  pip_run "installing hybrid_depth (editable)" install -q --no-deps --no-build-isolation -e "$ROOT"
  echo "$REQ_SHA" > "$REQ_STAMP"
fi
log "done: $("$PY" -c 'import torch, mmcv, mmdet, mmdet3d; print(f"torch {torch.__version__}, mmcv {mmcv.__version__}, mmdet {mmdet.__version__}, mmdet3d {mmdet3d.__version__}")')"
