"""tools/install.sh's mmcv plan: CPU or CUDA ops, arch list, CUDA_HOME, and the wheel cache key (issues 23, 26).

``bash tools/install.sh --dry-run`` prints the plan as ``key=value`` lines and installs nothing. The CUDA
toolkits here are real executables: a folder with ``bin/nvcc`` (a shell script printing what NVIDIA's nvcc
prints for ``--version``) and ``include/cuda_runtime.h``, put first on PATH; a stand-in ``nvidia-smi`` reports
the visible GPUs' compute capability, or fails as it does without a driver. The interpreter is the one running
the tests (its torch decides ``torch.version.cuda``); nothing is built.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / 'tools/install.sh'
TORCH_CUDA = torch.version.cuda
needs_cuda_torch = pytest.mark.skipif(TORCH_CUDA is None, reason='torch is a CPU-only build: no CUDA plan')
NVCC = '''#!/bin/sh
echo "nvcc: NVIDIA (R) Cuda compiler driver"
echo "Copyright (c) 2005-2025 NVIDIA Corporation"
echo "Cuda compilation tools, release {release}, V{release}.88"
echo "Build cuda_{release}.r{release}/compiler.36424714_0"
'''


def _exe(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def _toolkit(tmp_path: Path, release: str) -> Path:
    """A CUDA toolkit folder whose nvcc reports ``release``."""
    home = tmp_path / f'cuda-{release}'
    _exe(home / 'bin/nvcc', NVCC.format(release=release))
    (home / 'include').mkdir(exist_ok=True)
    (home / 'include/cuda_runtime.h').write_text('')
    return home


def _gpus(tmp_path: Path, *caps: str) -> Path:
    """A bin folder with an nvidia-smi that lists ``caps`` (none: it fails as without a driver)."""
    lines = ''.join(f'echo "{c}"\n' for c in caps) if caps else 'echo "NVIDIA-SMI has failed" >&2\nexit 9\n'
    return _exe(tmp_path / 'smi/nvidia-smi', '#!/bin/sh\n' + lines).parent


def _run(tmp_path: Path, *args: str, script: Path = INSTALL, path: tuple[Path, ...] = (),
         **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items()
            if k not in ('CUDA_HOME', 'HDB_MMCV_CUDA', 'FORCE_CUDA', 'TORCH_CUDA_ARCH_LIST', 'HDB_REQUIRE_BUILD',
                         'HDB_FORCE_CUDA_REBUILD', 'HDB_MMCV_CFLAGS')}
    base.update(VENV=sys.prefix, HDB_WHEEL_CACHE=str(tmp_path / 'cache'), PIP_INDEX_URL=f'file://{tmp_path}',
                PATH=os.pathsep.join([*map(str, path), _gpus(tmp_path / 'nogpu').as_posix(), os.environ['PATH']]))
    base.update(env)
    return subprocess.run(['bash', str(script), *args], env=base, capture_output=True, text=True, timeout=120)


def _plan(tmp_path: Path, **kwargs) -> dict[str, str]:
    res = _run(tmp_path, '--dry-run', **kwargs)
    assert res.returncode == 0, (res.stdout, res.stderr)
    plan = {}
    for line in res.stdout.splitlines():
        for part in line.split(' ') if not line.startswith(('reason=', 'arch=')) else [line]:
            key, _, value = part.partition('=')
            plan[key] = value
    return plan


def _other_major() -> str:
    return f'{int(TORCH_CUDA.split(".")[0]) - 1}.4'


@needs_cuda_torch
def test_matching_nvcc_builds_cuda_ops_for_the_default_archs(tmp_path: Path):
    home = _toolkit(tmp_path, TORCH_CUDA)
    plan = _plan(tmp_path, path=(home / 'bin',))
    assert plan['ops'] == 'cuda', plan
    assert plan['cuda_home'] == str(home) and plan['nvcc'] == str(home / 'bin/nvcc')
    assert plan['arch'] == '8.0;8.6;8.9;9.0+PTX (default: no visible GPU)'
    assert f'matches torch\'s CUDA {TORCH_CUDA}' in plan['reason']
    assert '-cuda-sm80-86-89-90-' in plan['slot'] and plan['slot'].endswith(plan['key'])


@needs_cuda_torch
def test_visible_gpu_and_user_arch_list_decide_the_archs_and_the_key(tmp_path: Path):
    home = _toolkit(tmp_path, TORCH_CUDA)
    gpu = _plan(tmp_path, path=(home / 'bin', _gpus(tmp_path / 'h200', '9.0', '9.0')))
    assert gpu['arch'] == '9.0 (the visible GPUs (nvidia-smi))', gpu
    user = _plan(tmp_path, path=(home / 'bin',), TORCH_CUDA_ARCH_LIST='8.6')
    assert user['arch'] == '8.6 (TORCH_CUDA_ARCH_LIST)'
    cpu = _plan(tmp_path, path=(home / 'bin',), HDB_MMCV_CUDA='0')
    assert cpu['ops'] == 'cpu' and cpu['reason'] == 'HDB_MMCV_CUDA=0'
    assert len({gpu['key'], user['key'], cpu['key']}) == 3  # CPU vs CUDA, and each arch list, build apart


@needs_cuda_torch
def test_nvcc_of_another_major_version_stays_cpu_and_a_cuda_request_fails(tmp_path: Path):
    home = _toolkit(tmp_path, _other_major())
    plan = _plan(tmp_path, path=(home / 'bin',))
    assert plan['ops'] == 'cpu' and plan['arch'] == 'none', plan
    assert f'nvcc {_other_major()} ({home}/bin/nvcc) and torch\'s CUDA {TORCH_CUDA} differ' in plan['reason']
    res = _run(tmp_path, '--dry-run', path=(home / 'bin',), FORCE_CUDA='1')
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1, res.stderr
    assert lines[0].startswith('install.sh: CUDA ops requested') and 'differ in major version' in lines[0]


def test_cuda_home_without_nvcc_stays_cpu(tmp_path: Path):
    (tmp_path / 'empty').mkdir()
    plan = _plan(tmp_path, CUDA_HOME=str(tmp_path / 'empty'))
    assert plan['ops'] == 'cpu', plan
    expected = 'a CPU-only build' if TORCH_CUDA is None else f'CUDA_HOME={tmp_path / "empty"} has no bin/nvcc'
    assert expected in plan['reason']


@needs_cuda_torch
def test_cpu_only_mmcv_is_reported_and_rebuilt_on_request(tmp_path: Path):
    """This venv's mmcv has CPU ops only; a usable toolkit makes --check say so in one line."""
    pytest.importorskip('mmcv.ops')
    home = _toolkit(tmp_path, TORCH_CUDA)
    plan = _plan(tmp_path, path=(home / 'bin',))
    if plan['installed_mmcv'] != 'cpu':
        pytest.skip(f'the installed mmcv is {plan["installed_mmcv"]}, not CPU-only')
    assert plan['action'] == 'keep'
    res = _run(tmp_path, '--check', path=(home / 'bin',))
    assert res.returncode == 0, res.stderr
    report = [line for line in res.stdout.splitlines() if 'has no CUDA ops' in line]
    assert len(report) == 1 and 'HDB_FORCE_CUDA_REBUILD=1' in report[0], res.stdout
    assert _plan(tmp_path, path=(home / 'bin',), HDB_FORCE_CUDA_REBUILD='1')['action'] == 'build'
    slot = Path(plan['slot'])
    slot.mkdir(parents=True)
    (slot / 'mmcv-2.1.0-cp311-cp311-linux_x86_64.whl').write_bytes(b'')
    assert _plan(tmp_path, path=(home / 'bin',), HDB_FORCE_CUDA_REBUILD='1')['action'] == 'reuse'
    assert _plan(tmp_path, path=(home / 'bin',), HDB_REQUIRE_BUILD='1')['action'] == 'build'


def test_editing_the_build_section_changes_the_key(tmp_path: Path):
    """Any edit between the '# >>> mmcv build' markers, or to a build flag, gives a new cache folder."""
    copy = tmp_path / 'tools/install.sh'
    copy.parent.mkdir()
    shutil.copy(INSTALL, copy)
    text = copy.read_text()
    original = _plan(tmp_path, script=copy, HDB_MMCV_CUDA='0')
    assert original['key'] == _plan(tmp_path, HDB_MMCV_CUDA='0')['key']  # the key does not depend on the path

    copy.write_text(text.replace('# Create (or refresh)', '# Create or refresh', 1))  # outside the section
    assert _plan(tmp_path, script=copy, HDB_MMCV_CUDA='0')['key'] == original['key']

    flag = 'CFLAGS="${HDB_MMCV_CFLAGS--g0}"'
    assert text.count(flag) == 1
    copy.write_text(text.replace(flag, 'CFLAGS="${HDB_MMCV_CFLAGS--g0 -O3}"'))
    edited = _plan(tmp_path, script=copy, HDB_MMCV_CUDA='0')
    assert edited['key'] != original['key'] and edited['slot'] != original['slot']

    assert _plan(tmp_path, HDB_MMCV_CUDA='0', HDB_MMCV_CFLAGS='-g')['key'] != original['key']
