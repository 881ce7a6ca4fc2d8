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
#   HDB_WHEEL_CACHE      where the built mmcv wheel is cached (default: ~/.cache/hybrid-depth-bev/wheels), in
#                        a folder named by a key that hashes every input of the build (the "mmcv build" section
#                        of this file, mmcv / torch / Python versions, flags, compiler version, CPU-only vs CUDA
#                        with arch list and nvcc version): any change to the build path builds anew
#   HDB_REQUIRE_BUILD=1  build mmcv from source in this run even if mmcv or a cached wheel is present
#   HDB_MMCV_CUDA        auto (default): build mmcv's CUDA ops when torch is a CUDA build and nvcc's CUDA major
#                        version equals torch's (torch.version.cuda); 1: require them (FORCE_CUDA=1 means the
#                        same); 0: CPU ops only (CI)
#   TORCH_CUDA_ARCH_LIST GPU architectures of a CUDA build (default: the visible GPUs' (nvidia-smi), else
#                        8.0;8.6;8.9;9.0+PTX: A100, A10/A40/RTX 30, L4/L40/RTX 40, H100/H200, PTX for newer)
#   CUDA_HOME            the CUDA toolkit (default: the toolkit holding `nvcc` on PATH, else /usr/local/cuda)
#   HDB_FORCE_CUDA_REBUILD=1  rebuild an installed CPU-only mmcv when the CUDA ops can be built
#   MAX_JOBS             parallel compile jobs for mmcv (default: number of cores)
#   HDB_MMCV_CFLAGS      extra C++ flags for the mmcv build (default: -g0, no debug info: faster, smaller)
#   HDB_VENV_GIB, HDB_BUILD_GIB  free disk required for the environment / the mmcv build (GiB; defaults below)
#
# `bash tools/install.sh --check` runs only the checks (interpreter, venv module, disk, C++20 compiler, Python
# headers, package index) and installs nothing. `bash tools/install.sh --dry-run` prints, as key=value lines,
# what the mmcv step would do (CPU or CUDA ops and why, arch list, CUDA_HOME, cache key, build or reuse) and
# installs nothing; it needs torch in the environment.
set -euo pipefail
MODE=install
case "${1:-}" in
  --check) MODE=check ;;
  --dry-run) MODE=dry-run ;;
  "") ;;
  *) echo "usage: bash tools/install.sh [--check | --dry-run]" >&2; exit 2 ;;
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

have() {  # have DIST VERSION -> 0 when DIST==VERSION is installed in the venv
  "$PY" - "$1" "$2" <<'PYEOF' 2>/dev/null
import sys
from importlib.metadata import version
have = version(sys.argv[1])
sys.exit(0 if have.split('+')[0] == sys.argv[2] else 1)
PYEOF
}

# has_torch PYTHON: 0 when PYTHON exists and can import torch (looked up, not imported: fast).
has_torch() { [ -x "$1" ] && "$1" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' 2>/dev/null; }

# ---- Which mmcv ops to build: CPU only, or CUDA too --------------------------------------------------------
DEFAULT_ARCH_LIST='8.0;8.6;8.9;9.0+PTX'

# cuda_home: the CUDA toolkit a build would use (CUDA_HOME, else the toolkit holding `nvcc` on PATH, else
# /usr/local/cuda); empty when there is none. A toolkit is a folder with bin/nvcc and include/cuda_runtime.h.
cuda_home() {
  if [ -n "${CUDA_HOME:-}" ]; then echo "$CUDA_HOME"; return 0; fi
  local nvcc dir
  nvcc="$(command -v nvcc 2>/dev/null || true)"
  if [ -n "$nvcc" ]; then
    dir="$(dirname "$(dirname "$(readlink -f "$nvcc")")")"
    if [ -f "$dir/include/cuda_runtime.h" ]; then echo "$dir"; return 0; fi
  fi
  if [ -x /usr/local/cuda/bin/nvcc ]; then echo /usr/local/cuda; fi
}

# decide_ops: sets OPS (cpu|cuda), OPS_REASON, TORCH_FULL, TORCH_CUDA, PY_FULL, NVCC, NVCC_VERSION, NVCC_RELEASE,
# CUDA_DIR, ARCH_LIST, ARCH_FROM, then KEY and SLOT (the wheel cache key and folder of this build).
# auto: CUDA ops when torch is a CUDA build and nvcc's CUDA major version is torch's.
decide_ops() {
  local mode="${HDB_MMCV_CUDA:-auto}"
  if [ -z "${HDB_MMCV_CUDA:-}" ] && [ "${FORCE_CUDA:-0}" = 1 ]; then mode=1; fi
  case "$mode" in auto|0|1) ;; *) die "HDB_MMCV_CUDA='$mode' is not one of auto, 0, 1" ;; esac
  OPS=cpu NVCC='' NVCC_VERSION='' NVCC_RELEASE='' ARCH_LIST='' ARCH_FROM='' CUDA_DIR=''
  read -r TORCH_FULL PY_FULL MMCV_STATE TORCH_CUDA < <(python_facts) \
    || die "cannot import torch with $PY (error above)"
  decide_cuda "$mode"
  KEY="$(key_inputs | sha256sum | cut -c1-16)"
  local ops_tag="$OPS"
  if [ "$OPS" = cuda ]; then ops_tag="cuda-sm$(echo "$ARCH_LIST" | tr -d '.+PTX' | tr ';' '-')"; fi
  SLOT="$CACHE/mmcv-$MMCV_VERSION-torch${TORCH_FULL//+/_}-cp$(echo "$PY_FULL" | cut -d. -f1,2 | tr -d .)-$ops_tag-$KEY"
}
decide_cuda() {  # decide_cuda MODE: the CPU/CUDA part of decide_ops
  local mode="$1"
  if [ "$mode" = 0 ]; then OPS_REASON='HDB_MMCV_CUDA=0'; return 0; fi
  CUDA_DIR="$(cuda_home)"
  if [ -n "$CUDA_DIR" ] && [ -x "$CUDA_DIR/bin/nvcc" ]; then
    NVCC="$CUDA_DIR/bin/nvcc"
    NVCC_VERSION="$("$NVCC" --version 2>/dev/null | tail -n 1 || true)"
    NVCC_RELEASE="$("$NVCC" --version 2>/dev/null | sed -n -E 's/.*release ([0-9]+\.[0-9]+).*/\1/p' | head -n 1 || true)"
  fi
  if [ -z "$TORCH_CUDA" ]; then
    OPS_REASON="torch $TORCH_FULL is a CPU-only build"
  elif [ -z "$CUDA_DIR" ]; then
    OPS_REASON='no CUDA toolkit: no nvcc on PATH, no CUDA_HOME, no /usr/local/cuda'
  elif [ -z "$NVCC" ]; then
    OPS_REASON="CUDA_HOME=$CUDA_DIR has no bin/nvcc"
  elif [ -z "$NVCC_RELEASE" ]; then
    OPS_REASON="'$NVCC --version' prints no 'release X.Y'"
  elif [ "${NVCC_RELEASE%%.*}" != "${TORCH_CUDA%%.*}" ]; then
    OPS_REASON="nvcc $NVCC_RELEASE ($NVCC) and torch's CUDA $TORCH_CUDA differ in major version"
  else
    OPS=cuda
    OPS_REASON="nvcc $NVCC_RELEASE ($NVCC) matches torch's CUDA $TORCH_CUDA"
  fi
  if [ "$OPS" = cpu ] && [ "$mode" = 1 ]; then
    die "CUDA ops requested (HDB_MMCV_CUDA=1 or FORCE_CUDA=1) but they cannot be built: $OPS_REASON"
  fi
  [ "$OPS" = cuda ] || return 0
  if [ -n "${TORCH_CUDA_ARCH_LIST:-}" ]; then
    ARCH_LIST="$TORCH_CUDA_ARCH_LIST" ARCH_FROM='TORCH_CUDA_ARCH_LIST'
  else
    ARCH_LIST="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null \
                 | tr -d ' ' | grep -E '^[0-9]+\.[0-9]+$' | sort -u | paste -s -d ';' || true)"
    if [ -n "$ARCH_LIST" ]; then ARCH_FROM='the visible GPUs (nvidia-smi)'
    else ARCH_LIST="$DEFAULT_ARCH_LIST" ARCH_FROM='default: no visible GPU'; fi
  fi
}

# python_facts: torch's version, Python's, the installed mmcv (absent: missing, another version, or its ops do
# not import; else cpu or cuda ops) and torch's CUDA version (empty for a CPU build), in one interpreter start.
python_facts() {
  "$PY" - "$MMCV_VERSION" <<'PYEOF'
import sys
from importlib.metadata import version

import torch

try:
    if version('mmcv').split('+')[0] != sys.argv[1]:
        raise ImportError(version('mmcv'))
    from mmcv.ops import get_compiling_cuda_version
    mmcv = 'cpu' if get_compiling_cuda_version() == 'not available' else 'cuda'
except Exception:  # noqa: BLE001 - any failure means "no usable mmcv"
    mmcv = 'absent'
print(torch.__version__, sys.version.split()[0], mmcv, torch.version.cuda or '')
PYEOF
}

# key_inputs: every input of the build, one line each; KEY is their sha256. Any edit between the "mmcv build"
# markers below changes it; so do versions, flags, compiler, CPU/CUDA, arch list and nvcc.
key_inputs() {
  sed -n '/^# >>> mmcv build/,/^# <<< mmcv build/p' "${BASH_SOURCE[0]}"
  echo "mmcv=$MMCV_VERSION setuptools=$SETUPTOOLS_SPEC torch=$TORCH_FULL python=$PY_FULL"
  echo "cflags=${HDB_MMCV_CFLAGS--g0}"
  echo "cxx=$("${CXX:-c++}" --version 2>/dev/null | head -n 1)"
  echo "ops=$OPS arch=$ARCH_LIST nvcc=$NVCC_VERSION"
}

# mmcv_action STATE: what the mmcv step does: keep the installed one, build, or reuse a cached wheel.
mmcv_action() {
  local state="$1"
  if [ "${HDB_REQUIRE_BUILD:-0}" = 1 ]; then echo build; return 0; fi
  if [ "$state" != absent ]; then
    if [ "$OPS" != cuda ] || [ "$state" = cuda ] || [ "${HDB_FORCE_CUDA_REBUILD:-0}" != 1 ]; then
      echo keep; return 0
    fi
  fi
  if [ -n "$(find "$SLOT" -maxdepth 1 -name "mmcv-$MMCV_VERSION-*.whl" 2>/dev/null | head -n1)" ]; then
    echo reuse
  else
    echo build
  fi
}

# report_cpu_mmcv STATE: one line when the installed mmcv lacks CUDA ops that this machine can build.
report_cpu_mmcv() {
  if [ "$OPS" = cuda ] && [ "$1" = cpu ]; then
    log "mmcv $MMCV_VERSION here has no CUDA ops, yet they can be built ($OPS_REASON): HDB_FORCE_CUDA_REBUILD=1 make install builds them"
  fi
}

print_plan() {
  decide_ops
  echo "torch=$TORCH_FULL torch_cuda=${TORCH_CUDA:-none}"
  echo "nvcc=${NVCC:-none} nvcc_release=${NVCC_RELEASE:-none} cuda_home=${CUDA_DIR:-none}"
  echo "ops=$OPS"
  echo "reason=$OPS_REASON"
  echo "arch=${ARCH_LIST:-none}${ARCH_FROM:+ ($ARCH_FROM)}"
  echo "key=$KEY"
  echo "slot=$SLOT"
  echo "installed_mmcv=$MMCV_STATE"
  echo "action=$(mmcv_action "$MMCV_STATE")"
}

# ---- The mmcv build. Every line between the markers is hashed into the wheel cache key (KEY). ----------------
# >>> mmcv build
# build_mmcv SLOT: download mmcv's source release, raise its C++ standard to C++20, build a wheel with ninja
# (CUDA ops when OPS=cuda) and store it in SLOT.
build_mmcv() {
  local slot="$1" jobs="${MAX_JOBS:-$(nproc)}" work src built
  log "building mmcv $MMCV_VERSION from source with -std=c++20 ($OPS ops${ARCH_LIST:+ for $ARCH_LIST}, ninja, $jobs jobs; on 2 cores: CPU ops 11-26 min, CUDA ops est. an hour per arch)"
  work="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: $work is local to this function
  trap "rm -rf '$work'" EXIT
  pip_run "downloading the mmcv $MMCV_VERSION source release" \
    download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$MMCV_VERSION" -d "$work"
  tar -xzf "$work/mmcv-$MMCV_VERSION.tar.gz" -C "$work"
  src="$work/mmcv-$MMCV_VERSION"
  # torch>=2.10 headers need C++20; mmcv's setup.py pins c++14/c++17 in several places.
  sed -i -E "s/(-std=|\/std:)c\+\+1[47]'/\1c++20'/g" "$src/setup.py"
  if grep -v '^ *#' "$src/setup.py" | grep -q -E "std[=:]c\+\+1[47]"; then
    die "could not raise every C++ standard flag in $src/setup.py"
  fi
  mkdir -p "$slot"
  # The build's environment is exported inside a subshell, not passed with `env VAR=... cmd`: pip_run is a
  # shell function and `env` can only execute programs. PATH puts the venv's ninja first (torch's
  # BuildExtension compiles in parallel only when `ninja` is on PATH); CFLAGS is appended after Python's own
  # flags, so -g0 drops the debug info that `-g` would generate for every object. mmcv's setup.py builds CUDA
  # ops when FORCE_CUDA=1 or torch sees a GPU: a CPU build hides the GPUs so that it stays CPU-only.
  (
    cd "$src"
    export MMCV_WITH_OPS=1 MAX_JOBS="$jobs" PATH="$VENV/bin:$PATH" CFLAGS="${HDB_MMCV_CFLAGS--g0}"
    if [ "$OPS" = cuda ]; then
      export FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$ARCH_LIST" CUDA_HOME="$CUDA_DIR" PATH="$CUDA_DIR/bin:$PATH"
      # torch's CUDA headers include cusparse.h / cublas_v2.h; a toolkit with nvcc and the runtime only (no
      # math-library dev packages) lacks them, but torch's own nvidia-* wheels ship them: put those on CPATH
      # (gcc and nvcc's host preprocessing read it), after any CPATH of the user.
      if [ ! -f "$CUDA_DIR/include/cusparse.h" ]; then
        local nv inc  # nvidia/cu13/include (CUDA 13 wheels) or nvidia/{cusparse,cublas,...}/include (CUDA 12)
        nv="$("$PY" -c 'import site; print(site.getsitepackages()[0])')/nvidia"
        [ -n "$(find "$nv" -mindepth 3 -maxdepth 3 -path '*/include/cusparse.h' 2>/dev/null)" ] \
          || die "$CUDA_DIR/include has no cusparse.h (torch's CUDA headers need it) and torch's nvidia wheels in $nv ship none: install the toolkit's math-library headers (e.g. libcusparse-dev) or HDB_MMCV_CUDA=0"
        inc="$(find "$nv" -mindepth 2 -maxdepth 2 -type d -name include | sort | paste -s -d:)"
        log "the toolkit $CUDA_DIR has no cusparse.h: using torch's bundled CUDA headers $inc"
        export CPATH="${CPATH:+$CPATH:}$inc"
      fi
    else
      unset FORCE_CUDA
      export CUDA_VISIBLE_DEVICES=''
    fi
    command -v ninja >/dev/null || die "ninja is missing from $VENV/bin (it is installed with mmengine)"
    pip_run "building mmcv $MMCV_VERSION (C++ compile)" wheel -q --no-build-isolation --no-deps -w "$work/dist" .
  )
  built="$(find "$work/dist" -maxdepth 1 -name 'mmcv-*.whl' 2>/dev/null | head -n1 || true)"
  [ -n "$built" ] || die "the mmcv $MMCV_VERSION build finished without a wheel in $work/dist"
  # Write under a temporary name, then rename: an interrupted build never leaves a half wheel in the cache.
  rm -f "$slot"/mmcv-*.whl
  cp "$built" "$slot/.partial.whl" && mv "$slot/.partial.whl" "$slot/$(basename "$built")"
}
# <<< mmcv build

if [ "$MODE" = check ]; then
  [ -x "$VENV/bin/python" ] || need_python
  need_disk "$VENV" "$VENV_GIB" "the environment $VENV"
  need_disk "${TMPDIR:-/tmp}" "$BUILD_GIB" "the mmcv build tree"
  need_build_tools
  need_index
  log "checks passed: Python, disk, C++20 compiler, Python headers, package index"
  if has_torch "$VENV/bin/python"; then
    PY="$VENV/bin/python"
    decide_ops
    log "mmcv ops: $OPS ($OPS_REASON)"
    report_cpu_mmcv "$MMCV_STATE"
  else
    log "mmcv ops: decided once torch is installed (bash tools/install.sh --dry-run then shows the plan)"
  fi
  exit 0
fi
if [ "$MODE" = dry-run ]; then
  PY="$VENV/bin/python"
  has_torch "$PY" || die "--dry-run needs torch in $VENV (run bash tools/install.sh once, or set VENV=...)"
  print_plan
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  need_python
  need_disk "$(dirname "$VENV")" "$VENV_GIB" "the environment $VENV"
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

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

decide_ops
ACTION="$(mmcv_action "$MMCV_STATE")"
if [ "$ACTION" = keep ]; then
  log "mmcv $MMCV_VERSION (with $MMCV_STATE ops) present"
  report_cpu_mmcv "$MMCV_STATE"
else
  if [ "$ACTION" = build ]; then
    need_build_tools
    need_disk "${TMPDIR:-/tmp}" "$BUILD_GIB" "the mmcv build tree"
    need_index
    build_mmcv "$SLOT"
  fi
  WHEEL="$(find "$SLOT" -maxdepth 1 -name "mmcv-$MMCV_VERSION-*.whl" 2>/dev/null | head -n1 || true)"
  [ -n "$WHEEL" ] || die "no mmcv wheel in $SLOT after the build step"
  [ "$ACTION" = build ] || log "using cached mmcv wheel $WHEEL"
  pip_run "installing the mmcv wheel $WHEEL" install -q --no-deps --force-reinstall "$WHEEL"
  "$PY" -c "import mmcv.ops" || die "mmcv $MMCV_VERSION installed from $WHEEL but 'import mmcv.ops' fails (error above)"
  if [ "$OPS" = cuda ] && [ "$(python_facts | cut -d' ' -f3)" != cuda ]; then
    die "mmcv $MMCV_VERSION installed from $WHEEL has no CUDA ops although OPS=cuda ($OPS_REASON)"
  fi
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
