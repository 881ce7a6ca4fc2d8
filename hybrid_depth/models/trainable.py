"""Which parameters train in each stage: named fnmatch patterns over ``named_parameters()``.

Default sets (METHOD.md section 1), for a depth model whose children are named ``encoder``
(:class:`HybridEncoder`), ``prompt_bank`` (:class:`DepthPromptBank`), ``decoder`` and ``pose_net``:

- ``coarse`` (official ``modules/DepthCLIP_dino.py``): CLIP image tower, align convs (and the point projection
  when the learned-projection option is on). Frozen: DINOv2, CLIP text tower.
- ``fine`` (official ``Stage2/trainer.py``: every encoder parameter whose name contains ``clip`` except
  ``clip.transformer``, DINOv2 ``blocks.11``, the depth tokens, decoder and PoseNet): CLIP image tower, align
  convs, the text tower's token / positional embeddings, ``ln_final`` and ``text_projection``, the last DINOv2
  block, depth tokens, the pixel projection (option), decoder, PoseNet. Frozen: the CLIP text transformer and
  the rest of DINOv2.
- ``fine_frozen_text`` (our former set, an option): as ``fine`` but the align convs and the whole text side frozen.
- ``monodepth2``: everything (ResNet encoder, decoder, PoseNet).

``{last}`` in a pattern is replaced by the highest block index found under the text before it.
"""
from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence

from torch import nn

__all__ = ['STAGE_TRAINABLE', 'apply_trainable', 'resolve_trainable']

STAGE_TRAINABLE: dict[str, tuple[str, ...]] = {
    'coarse': ('encoder.clip.*', 'encoder.align.*', 'prompt_bank.point_proj.*'),
    'fine': ('encoder.clip.*', 'encoder.align.*', 'encoder.dino.model.blocks.{last}.*',
             'prompt_bank.text_encoder.token_embedding.*', 'prompt_bank.text_encoder.positional_embedding',
             'prompt_bank.text_encoder.ln_final.*', 'prompt_bank.text_encoder.text_projection',
             'prompt_bank.text_encoder.text_projection.*', 'prompt_bank.depth_tokens', 'prompt_bank.pixel_proj.*',
             'decoder.*', 'pose_net.*'),
    'fine_frozen_text': ('encoder.clip.*', 'encoder.dino.model.blocks.{last}.*', 'prompt_bank.depth_tokens',
                         'prompt_bank.pixel_proj.*', 'decoder.*', 'pose_net.*'),
    'monodepth2': ('*',),
}


def _expand_last(pattern: str, names: Sequence[str]) -> str:
    if '{last}' not in pattern:
        return pattern
    prefix = pattern.split('{last}')[0]
    idx = [int(m.group(1)) for n in names if (m := re.match(re.escape(prefix) + r'(\d+)\.', n))]
    return pattern.replace('{last}', str(max(idx))) if idx else pattern


def resolve_trainable(model: nn.Module, patterns: Sequence[str], strict: bool = True) -> list[str]:
    """Names of the parameters matched by ``patterns``.

    Args:
        model: The model.
        patterns: fnmatch patterns over ``named_parameters()`` names (``{last}`` allowed).
        strict: Raise if a pattern matches no parameter (catches misspelt names).

    Returns:
        Sorted matching parameter names.

    Raises:
        ValueError: if ``strict`` and a pattern matches nothing.
    """
    names = [n for n, _ in model.named_parameters()]
    selected: set[str] = set()
    for pattern in patterns:
        expanded = _expand_last(pattern, names)
        hits = fnmatch.filter(names, expanded)
        if strict and not hits:
            raise ValueError(f'trainable pattern {pattern!r} matches no parameter of {type(model).__name__}')
        selected.update(hits)
    return sorted(selected)


def apply_trainable(model: nn.Module, stage: str | None = None,
                    patterns: Sequence[str] | None = None) -> list[str]:
    """Set ``requires_grad`` so that exactly the selected parameters train; all others are frozen.

    Args:
        model: The model (modified in place).
        stage: ``'coarse'``, ``'fine'``, ``'fine_frozen_text'`` or ``'monodepth2'``: use :data:`STAGE_TRAINABLE`
            (patterns matching nothing, e.g. an identity pixel projection, are skipped).
        patterns: Explicit patterns instead of a stage (each must match something).

    Returns:
        Names of the trainable parameters.
    """
    if (stage is None) == (patterns is None):
        raise ValueError('give exactly one of `stage` or `patterns`')
    if stage is not None:
        if stage not in STAGE_TRAINABLE:
            raise ValueError(f'unknown stage {stage!r}; choose from {sorted(STAGE_TRAINABLE)}')
        trainable = set(resolve_trainable(model, STAGE_TRAINABLE[stage], strict=False))
    else:
        trainable = set(resolve_trainable(model, patterns, strict=True))
    for name, param in model.named_parameters():
        param.requires_grad_(name in trainable)
    return sorted(trainable)
