"""tools/dist_test.sh and tools/slurm_{train,test}.sh, end to end on the tiny registered model (CPU, gloo).

There is no Slurm cluster on a CI machine, so the slurm scripts run under a stand-in ``srun`` placed first on
PATH: it starts ``--ntasks`` copies of the command locally with the variables real ``srun`` sets for each task
(``SLURM_PROCID``, ``SLURM_NTASKS``, ``SLURM_LOCALID``, ``SLURM_NODELIST``), and a stand-in ``scontrol`` resolves
the node list to ``127.0.0.1``. Everything after the scheduler (our script's arguments, the runner's slurm
launcher, the gloo process group, training and testing) is the real code.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'tests/fixtures/configs/tiny_regression.py'

FAKE_SRUN = r'''#!/usr/bin/env bash
# stand-in for Slurm's srun: run --ntasks local copies of the command with the per-task SLURM_* variables
ntasks=1
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in
    --ntasks=*) ntasks=${1#--ntasks=} ;;
    -p|--partition) shift ;;
  esac
  shift
done
echo "srun: $ntasks tasks: $*" >&2
pids=()
for ((i = 0; i < ntasks; i++)); do
  SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_NTASKS=$ntasks SLURM_NODELIST=localnode "$@" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
exit $status
'''
FAKE_SCONTROL = '#!/usr/bin/env bash\necho 127.0.0.1\n'


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1', **extra)


@pytest.fixture(scope='module')
def trained(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp('tiny')
    res = subprocess.run([sys.executable, 'tools/train.py', str(CONFIG), '--work-dir', str(work)], cwd=ROOT,
                         env=_env(PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return work


@pytest.mark.slow
def test_dist_test_two_gloo_workers(trained: Path, tmp_path: Path, master_port) -> None:
    # PORT given: the multi-node path (--master_port); tools/dist_train.sh's test covers the one-node default
    res = subprocess.run(['bash', 'tools/dist_test.sh', str(CONFIG), str(trained / 'iter_8.pth'), '2',
                          '--work-dir', str(tmp_path)], cwd=ROOT, env=_env(PORT=str(master_port())),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    log = next(tmp_path.glob('*/*.log')).read_text()
    assert 'Distributed launcher: pytorch' in log and 'GPU number: 2' in log
    assert 'mse' in log  # the tiny metric, gathered from both workers


@pytest.mark.slow
def test_slurm_scripts_launch_through_srun(trained: Path, tmp_path: Path, master_port) -> None:
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    for name, text in (('srun', FAKE_SRUN), ('scontrol', FAKE_SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    env = _env(PATH=f'{bin_dir}:{os.environ["PATH"]}', GPUS='2', GPUS_PER_NODE='2', CPUS_PER_TASK='1',
               MASTER_PORT=str(master_port()))
    work = tmp_path / 'train'
    res = subprocess.run(['bash', 'tools/slurm_train.sh', 'cpu', 'tiny', str(CONFIG), str(work)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    assert 'srun: 2 tasks' in res.stderr
    log = next(work.glob('*/*.log')).read_text()
    assert 'Distributed launcher: slurm' in log and 'GPU number: 2' in log
    assert (work / 'iter_8.pth').is_file()

    env['MASTER_PORT'] = str(master_port())
    res = subprocess.run(['bash', 'tools/slurm_test.sh', 'cpu', 'tiny', str(CONFIG), str(work / 'iter_8.pth'),
                          '--work-dir', str(tmp_path / 'test')], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    log = next((tmp_path / 'test').glob('*/*.log')).read_text()
    assert 'Distributed launcher: slurm' in log and 'mse' in log


def test_master_port_is_free_and_below_the_ephemeral_range(master_port, ephemeral_ports) -> None:
    """The ports gloo's connections and port-0 listeners take come from the ephemeral range; ours never does."""
    import socket

    low, _ = ephemeral_ports
    ports = {master_port() for _ in range(20)}
    assert all(1024 <= port < low for port in ports), (ports, low)
    with socket.socket() as s:
        s.bind(('127.0.0.1', ports.pop()))  # free: binds
