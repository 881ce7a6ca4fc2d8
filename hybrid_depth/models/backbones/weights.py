"""Loading the output of ``tools/export_backbone.py`` into the detector's image branch.

Format (an mmengine-style checkpoint)::

    {'state_dict': {'backbone.<HybridEncoder key>': tensor,                 -> HybridDepthBackbone.encoder
                    'depth_branch.prompt_bank.<DepthPromptBank key>': ...,  -> HybridLSSDepthNet.prompt_bank
                    'depth_branch.decoder.<HybridDPTDecoder key>': ...},    -> HybridLSSDepthNet.decoder
     'meta': {...}}

A plain ``{key: tensor}`` dict is accepted too.
"""
from __future__ import annotations

import fnmatch
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ['load_exported_weights']


def load_exported_weights(module: nn.Module, path: str, prefix: str, ignore: Sequence[str] = ()) -> list[str]:
    """Load the ``prefix``-ed tensors of an exported checkpoint into ``module`` (all of them must fit).

    Args:
        module: Target module.
        path: Checkpoint file.
        prefix: Key prefix selecting the module's weights, e.g. ``'backbone.'``.
        ignore: fnmatch patterns (after the prefix) of checkpoint keys the module deliberately lacks, e.g. the
            coarser-scale heads of a 4-scale decoder loaded into a 1-scale one (``'heads.[123].*'``).

    Returns:
        Names of the module's parameters/buffers the checkpoint did not provide (e.g. a frozen text tower the
        export dropped).

    Raises:
        KeyError: if the checkpoint has no key with ``prefix`` or holds keys the module does not have.
    """
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    selected = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not selected:
        raise KeyError(f'{path}: no weights with prefix {prefix!r} (keys start with '
                       f'{sorted({k.split(".")[0] for k in state})})')
    selected = {k: v for k, v in selected.items() if not any(fnmatch.fnmatchcase(k, p) for p in ignore)}
    result = module.load_state_dict(selected, strict=False)
    if result.unexpected_keys:
        raise KeyError(f'{path}: {len(result.unexpected_keys)} {prefix!r} keys do not fit '
                       f'{type(module).__name__}, e.g. {result.unexpected_keys[:5]}')
    return list(result.missing_keys)
