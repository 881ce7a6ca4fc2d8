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

from torch import nn

from hybrid_depth.utils.checkpoint import CheckpointFileError, describe_keys, load_torch_file

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
        FileNotFoundError: no file at ``path``.
        CheckpointFileError: naming ``path``: unreadable or truncated, no key with ``prefix`` (e.g. a training
            checkpoint instead of an export), keys the module does not have, or shapes that do not fit.
    """
    ckpt = load_torch_file(path, 'exported backbone file', weights_only=True)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise CheckpointFileError(f'exported backbone file holds a {type(ckpt).__name__}, not a state dict: {path}')
    selected = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not selected:
        raise CheckpointFileError(f'exported backbone file has no weights with prefix {prefix!r}: {path} holds '
                                  f'{describe_keys(state)} (make it with tools/export_backbone.py)')
    selected = {k: v for k, v in selected.items() if not any(fnmatch.fnmatchcase(k, p) for p in ignore)}
    try:
        result = module.load_state_dict(selected, strict=False)
    except RuntimeError as err:  # size mismatch
        raise CheckpointFileError(f'exported backbone file: {prefix!r} weights do not fit {type(module).__name__} '
                                  f'({str(err).splitlines()[-1].strip()}): {path}') from err
    if result.unexpected_keys:
        raise CheckpointFileError(f'exported backbone file: {len(result.unexpected_keys)} {prefix!r} keys do not '
                                  f'fit {type(module).__name__}, e.g. {result.unexpected_keys[:5]}: {path}')
    return list(result.missing_keys)
