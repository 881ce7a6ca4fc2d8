"""Start-up checks of ``tools/train.py`` / ``tools/test.py``: one clear line before the first iteration.

- :func:`check_gpu_usable`: an NVIDIA GPU is visible (``nvidia-smi -L`` lists one) but torch cannot use it
  (driver older than torch's CUDA build, a CPU-only torch): without this check training would silently run on
  the CPU. Hiding the GPUs on purpose (``CUDA_VISIBLE_DEVICES=''`` or ``-1``) skips the check.
- :func:`check_dist_backend`: a distributed launcher with ``env_cfg.dist_cfg.backend='nccl'`` and no CUDA.
  On a machine with a visible GPU that is the case above (error); on a machine without any NVIDIA GPU the
  runner's documented CPU mode takes over (gloo, :mod:`.runner`) and this says so in one warning line.
- Missing CLIP / DINOv2 weight files need no check here: the encoders resolve them while the runner builds the
  model (``WeightsNotFoundError``, a ``FileNotFoundError`` naming the path), before any iteration, and the tools
  print that as one line.
- :func:`log_mmcv_cuda_ops`: with CUDA, which mmcv ops run as compiled kernels and which fall back
  (:mod:`projects.BEVDet.bevdet.mmcv_cuda_ops`).
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess

import torch
from mmengine.logging import print_log

__all__ = ['PreflightError', 'preflight', 'check_dist_backend', 'check_gpu_usable', 'gpus_hidden_on_purpose',
           'log_mmcv_cuda_ops', 'visible_nvidia_gpus']


class PreflightError(RuntimeError):
    """The machine cannot run the requested job as configured (the message says why and what to do)."""


def visible_nvidia_gpus(timeout_s: float = 30.0) -> list[str]:
    """The GPUs ``nvidia-smi -L`` lists (``['GPU 0: NVIDIA H200 (UUID: ...)']``); empty without nvidia-smi."""
    exe = shutil.which('nvidia-smi')
    if exe is None:
        return []
    try:
        proc = subprocess.run([exe, '-L'], capture_output=True, text=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if proc.returncode != 0:
        return []
    return [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith('GPU ')]


def gpus_hidden_on_purpose() -> bool:
    """``CUDA_VISIBLE_DEVICES`` is set to nothing (``''`` or ``-1``): a deliberate CPU run."""
    value = os.environ.get('CUDA_VISIBLE_DEVICES')
    return value is not None and value.strip() in ('', '-1')


def _why_torch_sees_no_gpu() -> str:
    if torch.version.cuda is None:
        return f'torch {torch.__version__} is a CPU-only build'
    return (f'torch {torch.__version__} (built for CUDA {torch.version.cuda}) reports torch.cuda.is_available() '
            f'False: the driver is probably older than CUDA {torch.version.cuda} needs')


def check_gpu_usable() -> None:
    """Raise :class:`PreflightError` when nvidia-smi lists a GPU that torch cannot use."""
    if torch.cuda.is_available() or gpus_hidden_on_purpose():
        return
    gpus = visible_nvidia_gpus()
    if gpus:
        raise PreflightError(f'{len(gpus)} NVIDIA GPU(s) visible ({gpus[0]}) but {_why_torch_sees_no_gpu()}; '
                             "update the driver or install a matching torch, or set CUDA_VISIBLE_DEVICES='' "
                             'to run on the CPU on purpose')


def check_dist_backend(launcher: str, env_cfg: dict | None) -> None:
    """A distributed launch asking for NCCL without CUDA: error if a GPU is visible, else say gloo is used."""
    backend = ((env_cfg or {}).get('dist_cfg') or {}).get('backend', 'nccl')
    if launcher == 'none' or backend != 'nccl' or torch.cuda.is_available():
        return
    gpus = [] if gpus_hidden_on_purpose() else visible_nvidia_gpus()
    if gpus:
        raise PreflightError(f"--launcher {launcher} with env_cfg.dist_cfg.backend='nccl' needs CUDA, but "
                             f'{_why_torch_sees_no_gpu()} although nvidia-smi lists {gpus[0]}')
    print_log(f"--launcher {launcher}: env_cfg.dist_cfg.backend='nccl' but this machine has no CUDA device; "
              'the processes train on the CPU with gloo', logger='current', level=logging.WARNING)


def preflight(launcher: str, env_cfg: dict | None) -> None:
    """Both start-up checks of ``tools/train.py`` / ``tools/test.py``: :func:`check_gpu_usable`, then
    :func:`check_dist_backend`. Raises :class:`PreflightError` (one line)."""
    check_gpu_usable()
    check_dist_backend(launcher, env_cfg)


def log_mmcv_cuda_ops() -> dict[str, bool]:
    """With CUDA: probe and log which mmcv ops run as compiled kernels on this process's GPU (else ``{}``)."""
    if not torch.cuda.is_available():
        return {}
    from projects.BEVDet.bevdet.mmcv_cuda_ops import log_cuda_ops
    return log_cuda_ops(torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count()))
