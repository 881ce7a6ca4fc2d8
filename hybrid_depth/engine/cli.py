"""Config loading and runner building shared by ``tools/train.py`` and ``tools/test.py``.

Bad input gets one clear error: a missing config names the file, a misspelt ``--cfg-options`` key names the
key (with the closest existing key as a suggestion); a missing or corrupt data file met while running
(``DATA_ERRORS``) is reported by the tools as one line (:func:`data_error_line`).
"""
from __future__ import annotations

import difflib
import os.path as osp
from typing import Any

from mmengine.config import Config
from mmengine.runner import Runner

from hybrid_depth.datasets.file_readers import DataFileError
from hybrid_depth.utils.checkpoint import CheckpointFileError
from hybrid_depth.utils.checksum import ChecksumError

# Errors of missing or unusable data, info and checkpoint files: the tools print them as one line instead of a
# traceback.
DATA_ERRORS = (OSError, DataFileError, CheckpointFileError, ChecksumError)

# Top-level keys that mmengine's Runner reads from a config even when the config does not set them, so
# `--cfg-options randomness.seed=0` is legitimate on a config without a `randomness` entry.
RUNNER_KEYS = frozenset({
    'work_dir', 'experiment_name', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'default_hooks',
    'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'randomness', 'visualizer', 'default_scope',
    'auto_scale_lr', 'cfg', 'train_cfg', 'val_cfg', 'test_cfg', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'val_evaluator', 'test_evaluator', 'param_scheduler', 'optim_wrapper', 'model_wrapper_cfg',
    'sync_bn', 'find_unused_parameters', 'runner_type', 'gpu_ids', 'tta_model', 'tta_pipeline', 'custom_imports',
})


class ConfigError(ValueError):
    """A config file or a command-line override that cannot be used (the message names it)."""


def _child(node: Any, key: str) -> tuple[bool, Any]:
    """Look ``key`` up in a config node (dict or list/tuple by integer index)."""
    if isinstance(node, dict):
        return (key in node), node.get(key)
    if isinstance(node, (list, tuple)) and key.lstrip('-').isdigit():
        idx = int(key)
        return (-len(node) <= idx < len(node)), (node[idx] if -len(node) <= idx < len(node) else None)
    return False, None


def check_cfg_options(cfg: Config, options: dict[str, Any], source: str = 'config') -> None:
    """Reject ``--cfg-options`` keys that do not exist in ``cfg``.

    A dotted key must already exist, with two exceptions: a new top-level key that mmengine's Runner reads
    (``randomness``, ``env_cfg``, ...), and a new leaf inside a dict that has a ``type`` (a constructor's
    keyword arguments; the builder itself rejects unknown ones when the object is built).

    Raises:
        ConfigError: naming the first unknown key, with a suggestion when one is close.
    """
    for full_key in options:
        parts = full_key.split('.')
        node: Any = cfg._cfg_dict if isinstance(cfg, Config) else cfg
        for depth, part in enumerate(parts):
            found, child = _child(node, part)
            if found:
                node = child
                continue
            if depth == 0 and part in RUNNER_KEYS:
                break
            if depth == len(parts) - 1 and isinstance(node, dict) and 'type' in node:
                break
            where = '.'.join(parts[:depth]) or '<top level>'
            msg = f"--cfg-options key '{full_key}' not found in {source}: no '{part}' under {where}"
            if isinstance(node, dict):
                close = difflib.get_close_matches(part, [str(k) for k in node.keys()], n=1)
                if close:
                    msg += f" (did you mean '{'.'.join(parts[:depth] + [close[0]])}'?)"
            raise ConfigError(msg)


def load_config(path: str, cfg_options: dict[str, Any] | None = None) -> Config:
    """Read a config file and merge validated command-line overrides into it.

    Raises:
        ConfigError: the file does not exist, cannot be parsed, or an override key is unknown.
    """
    if not osp.isfile(path):
        raise ConfigError(f'config file not found: {path}')
    try:
        cfg = Config.fromfile(path)
    except Exception as err:  # mmengine raises many types (SyntaxError, KeyError, ImportError...)
        raise ConfigError(f'cannot load config {path}: {type(err).__name__}: {err}') from err
    if cfg_options:
        check_cfg_options(cfg, cfg_options, source=path)
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Build the runner named by ``cfg.runner_type``; default to :class:`HybridDepthRunner`.

    Our runner adds what the stock one lacks on torch>=2.6 and CPU-only machines (resume of its own
    checkpoints, gloo distributed training); see :mod:`hybrid_depth.engine.runner`.
    """
    from mmengine.registry import RUNNERS

    from hybrid_depth.engine.runner import HybridDepthRunner  # noqa: F401  (registers the runner)

    if 'runner_type' not in cfg:
        cfg.runner_type = 'HybridDepthRunner'
    return RUNNERS.build(cfg)


def data_error_line(err: BaseException) -> str:
    """The one-line message of a data error.

    A DataLoader worker re-raises the error with its whole traceback as the message, the original message on
    the last line; that line is returned (otherwise the message itself).
    """
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    last = lines[-1]
    prefix = f'{type(err).__name__}: '
    return last[len(prefix):] if last.startswith(prefix) else last
