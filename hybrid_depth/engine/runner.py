"""``HybridDepthRunner``: mmengine's Runner with the two fixes this project needs on torch>=2.6 and on CPU.

1. **Resume of our own checkpoints.** mmengine 0.10.7 loads checkpoints with plain ``torch.load``. Since
   torch 2.6 that means ``weights_only=True``, and the checkpoints mmengine itself writes hold non-tensor
   objects (the message hub's ``HistoryBuffer``\\ s with numpy arrays, numpy scalars in ``meta``), so
   ``--resume`` dies with an ``UnpicklingError``. The fix lives here and only here: while *this runner*
   loads a checkpoint, the few types that mmengine's checkpoint writer emits are allow-listed with
   :func:`torch.serialization.safe_globals`. ``weights_only`` stays on; any other type in a file is still
   refused, and loads anywhere else in the process are untouched.
2. **Distributed training without a GPU.** mmengine's ``init_dist`` calls ``torch.cuda.set_device`` and
   wraps the model with ``device_ids=[LOCAL_RANK]``, both of which fail on a CPU-only machine. Here the
   process group is created with ``gloo`` when CUDA is unavailable (pytorch, slurm and mpi launchers), and
   DDP is built with ``device_ids=None``. With a GPU nothing changes.
3. **A checkpoint that does not fit says so.** An unreadable or truncated file is one
   :class:`~hybrid_depth.utils.checkpoint.CheckpointFileError` naming it; so is a checkpoint none of whose
   weights fit the model (a detector checkpoint given to a depth config, or the reverse: mmengine would load
   nothing and only warn), and, when testing, one that leaves model weights out (``model.test_unused_prefixes``
   lists the parts prediction never runs, e.g. the PoseNet; ``tools/test.py --partial-checkpoint`` evaluates a start
   point on purpose). Training with ``load_from`` may start from part of
   a model (the fine stage from the coarse checkpoint).
"""
from __future__ import annotations

import contextlib
import importlib
import os
import os.path as osp
import pickle
import zipfile
from collections.abc import Iterator
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.logging import HistoryBuffer
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import scheduler as mmengine_schedulers
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from hybrid_depth.utils.checkpoint import CheckpointFileError, describe_keys, load_torch_file

__all__ = ['HybridDepthRunner', 'checkpoint_safe_globals', 'trusted_checkpoint_loading']


def checkpoint_safe_globals() -> list:
    """The non-tensor globals that mmengine's ``save_checkpoint`` writes into a checkpoint.

    ``HistoryBuffer`` (message hub scalars), numpy arrays, scalars and dtypes (buffers, seeds, metrics), and
    ``getattr``: a ``HistoryBuffer`` pickles its ``statistics_methods`` as ``getattr(HistoryBuffer, 'mean')``,
    and parameter schedulers their annealing function (``getattr(OneCycleParamScheduler, '_annealing_cos')``),
    so mmengine's scheduler classes are listed too.
    Allowing ``getattr`` does not open code execution: the weights-only unpickler still refuses to *call*
    anything that is not in this list, so an attribute fetched this way can only be stored, not invoked.
    """
    try:  # numpy 2 renamed numpy.core to numpy._core (numpy 1.26 has a partial numpy._core)
        multiarray = importlib.import_module('numpy._core.multiarray')
    except ImportError:
        multiarray = importlib.import_module('numpy.core.multiarray')
    allowed = [HistoryBuffer, getattr, np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    allowed += [cls for cls in vars(mmengine_schedulers).values()
                if isinstance(cls, type) and issubclass(cls, mmengine_schedulers._ParamScheduler)]
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25: one class per dtype
    if dtypes is not None:
        allowed += [getattr(dtypes, name) for name in dir(dtypes) if name.endswith('DType')]
    else:
        allowed += list({type(np.dtype(t)) for t in np.sctypeDict.values()})
    return allowed


@contextlib.contextmanager
def trusted_checkpoint_loading() -> Iterator[None]:
    """Let ``torch.load(weights_only=True)`` accept mmengine's own checkpoint objects within this block."""
    with torch.serialization.safe_globals(checkpoint_safe_globals()):
        yield


def _init_gloo(launcher: str, timeout_s: int) -> None:
    """Create a gloo process group from the launcher's environment (no CUDA calls)."""
    if launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        if 'MASTER_ADDR' not in os.environ:
            import subprocess
            node_list = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {node_list} | head -n1')
        os.environ.setdefault('MASTER_PORT', '29500')
    elif launcher == 'mpi':
        os.environ.setdefault('RANK', os.environ['OMPI_COMM_WORLD_RANK'])
        os.environ.setdefault('WORLD_SIZE', os.environ['OMPI_COMM_WORLD_SIZE'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('OMPI_COMM_WORLD_LOCAL_RANK', '0'))
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29500')
    torch_dist.init_process_group(backend='gloo', rank=int(os.environ['RANK']),
                                  world_size=int(os.environ['WORLD_SIZE']),
                                  timeout=timedelta(seconds=timeout_s))


@RUNNERS.register_module()
class HybridDepthRunner(Runner):
    """mmengine ``Runner`` that resumes its own checkpoints on torch>=2.6 and trains distributed on CPU.

    Built by ``tools/train.py`` / ``tools/test.py`` unless a config names another ``runner_type``; configs
    can also select it with ``runner_type='HybridDepthRunner'``.
    """

    def setup_env(self, env_cfg: dict) -> None:
        if self.distributed and not is_distributed() and not torch.cuda.is_available():
            dist_cfg = dict(env_cfg.get('dist_cfg', {}))
            _init_gloo(self.launcher, int(dist_cfg.get('timeout', 1800)))
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: dict | None, model: torch.nn.Module) -> torch.nn.Module:
        if not (self.distributed and not torch.cuda.is_available()):
            return super().wrap_model(model_wrapper_cfg, model)
        wrapper_type = (model_wrapper_cfg or {}).get('type', 'MMDistributedDataParallel')
        if wrapper_type != 'MMDistributedDataParallel':
            return super().wrap_model(model_wrapper_cfg, model)
        kwargs = {k: v for k, v in (model_wrapper_cfg or {}).items() if k != 'type'}
        kwargs.setdefault('broadcast_buffers', False)
        kwargs.setdefault('find_unused_parameters', self.cfg.get('find_unused_parameters', False))
        return MMDistributedDataParallel(module=model.to('cpu'), device_ids=None, **kwargs)

    def test(self) -> dict:
        # the checkpoint must hold every weight prediction uses, unless tools/test.py --partial-checkpoint
        self._testing = not self.cfg.get('partial_checkpoint', False)
        try:
            return super().test()
        finally:
            self._testing = False

    def load_checkpoint(self, filename: str, map_location: str = 'cpu', strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):  # noqa: B006 (mmengine's signature)
        with trusted_checkpoint_loading():
            try:
                checkpoint = super().load_checkpoint(filename, map_location=map_location, strict=strict,
                                                     revise_keys=revise_keys)
            except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile):
                if osp.isfile(filename):  # re-read only to name the file and say what is wrong with it
                    load_torch_file(filename, 'checkpoint', weights_only=True)
                raise
        check_checkpoint_fits(self.model, checkpoint, filename, complete=getattr(self, '_testing', False))
        return checkpoint


def check_checkpoint_fits(model: torch.nn.Module, checkpoint: dict, filename: str, complete: bool) -> None:
    """Raise :class:`CheckpointFileError` if none of the checkpoint's weights fit ``model`` or, with ``complete``,
    if it lacks weights of ``model`` outside ``model.test_unused_prefixes``."""
    module = model.module if hasattr(model, 'module') else model
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else {}
    keys = {k[len('module.'):] if k.startswith('module.') else k for k in state}
    model_keys = set(module.state_dict())
    if not keys & model_keys:
        raise CheckpointFileError(
            f'{filename}: none of its {len(keys)} weights fit the model of this config ({type(module).__name__}): '
            f'the file holds {describe_keys(keys)}, the model is {describe_keys(model_keys)}')
    if complete:
        unused = tuple(getattr(module, 'test_unused_prefixes', ()))
        missing = sorted(k for k in model_keys - keys if not k.startswith(unused))
        if missing:
            raise CheckpointFileError(
                f'{filename}: lacks {len(missing)} of the {len(model_keys)} weights of {type(module).__name__} '
                f'(e.g. {", ".join(missing[:3])}); is it a checkpoint of this config?')
