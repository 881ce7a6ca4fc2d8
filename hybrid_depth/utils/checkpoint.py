"""Reading checkpoint files (training checkpoints, exports, converted or official weights) with one clear error.

``torch.load`` on a bad file says ``PytorchStreamReader failed reading zip archive``, ``invalid load key`` or
``Ran out of input`` without naming the file; :func:`load_torch_file` names it and says what is wrong, and
:func:`describe_keys` / :func:`model_kind` phrase "these weights belong to another kind of model".
"""
from __future__ import annotations

import os
import pickle
import zipfile
from collections.abc import Iterable
from typing import Any

import torch

__all__ = ['CheckpointFileError', 'load_torch_file', 'describe_keys', 'model_kind']

# Top-level key prefixes that identify what a state dict belongs to.
_KINDS = (('a BEV detector', ('img_backbone', 'img_view_transformer', 'pts_bbox_head', 'img_bev_encoder_backbone')),
          ('a tools/export_backbone.py export', ('backbone', 'depth_branch')),
          ('a depth model', ('encoder', 'decoder', 'pose_net', 'prompt_bank')))


class CheckpointFileError(ValueError):
    """A checkpoint file that cannot be read, or whose weights do not fit the model (the message names it)."""


def load_torch_file(path: str | os.PathLike, what: str = 'checkpoint', **kwargs: Any) -> Any:
    """``torch.load(path, map_location='cpu', **kwargs)``, every failure one :class:`CheckpointFileError`.

    Args:
        path: The file.
        what: What it is, for the message (``'checkpoint'``, ``'exported backbone file'``...).
        **kwargs: More ``torch.load`` arguments (``weights_only``, ``pickle_module``).

    Raises:
        FileNotFoundError: ``path`` does not exist (naming it).
        CheckpointFileError: empty, truncated, not a torch file, or holding objects ``weights_only`` refuses.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointFileError(f'{what} is an empty file (0 bytes): {path}')
    try:
        return torch.load(path, map_location='cpu', **kwargs)
    except pickle.UnpicklingError as err:
        if 'Unsupported global' in str(err):
            found = str(err).split('Unsupported global:')[-1].split('.')[0:3]
            raise CheckpointFileError(f'{what} holds objects that safe loading refuses ({".".join(found).strip()}; '
                                      f'{size} bytes): {path}') from err
        raise CheckpointFileError(f'{what} is not a PyTorch checkpoint or is corrupt (unpickling failed, '
                                  f'{size} bytes): {path}') from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, AttributeError,
            UnicodeDecodeError) as err:
        reason = ('its zip archive is incomplete' if 'zip archive' in str(err) or 'central directory' in str(err)
                  else f'{type(err).__name__}: {(str(err).strip().splitlines() or [""])[0][:80]}')
        raise CheckpointFileError(f'{what} is truncated or corrupt ({reason}; {size} bytes): {path}') from err


def _prefixes(keys: Iterable[str]) -> list[str]:
    return sorted({k.split('.')[0] for k in keys})


def model_kind(keys: Iterable[str]) -> str | None:
    """What a state dict with these keys belongs to (``'a BEV detector'``, ``'a depth model'``...), or None."""
    tops = set(_prefixes(keys))
    for kind, marks in _KINDS:
        if tops & set(marks):
            return kind
    return None


def describe_keys(keys: Iterable[str]) -> str:
    """``'a BEV detector (img_backbone.*, pts_bbox_head.*)'``: the kind and the top-level prefixes."""
    keys = list(keys)
    tops = ', '.join(f'{p}.*' for p in _prefixes(keys)[:6])
    kind = model_kind(keys)
    return f'{kind} ({tops})' if kind else f'weights {tops or "(none)"}'
