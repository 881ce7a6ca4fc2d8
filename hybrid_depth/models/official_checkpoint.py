"""Weights of the official Hybrid-depth code (github.com/Zhangwenyao1/Hybrid-depth) <-> this package.

Pure ``state_dict -> state_dict`` functions, in both directions (timm / Hugging Face style):

- Stage 2 (the released ``checkpoints/`` folder, Monodepth2-style files ``encoder.pth`` (``depthdinoclipencoder``:
  ``clip.*``, ``dinov2.*``, ``clip_align_conv.*``, ``extra_tkns_learnables_depth.{i}``), ``depth.pth``
  (``depthclipdecoder``: ``depth_head.*``), ``pose_encoder.pth`` (Monodepth2 ``ResnetEncoder``: ``encoder.*``)
  and ``pose.pth`` (Monodepth2 ``PoseDecoder``: ``net.{0-3}.*``)) <-> the state dict of
  :class:`~hybrid_depth.models.estimators.HybridFineDepthEstimator` (``encoder.*``, ``prompt_bank.*``,
  ``decoder.*``, ``pose_net.*``).
- Stage 1 (``stage1_checkpoint/stage1.ckpt``, a PyTorch Lightning checkpoint whose ``state_dict`` keys start with
  ``model.``) <-> :class:`~hybrid_depth.models.estimators.HybridCoarseDepthEstimator` (``encoder.*`` and the
  prompt bank's text tower).

Official parameters that no forward pass uses are dropped by name (:data:`UNUSED_OFFICIAL`): the CLIP
attention-pool head and ``logit_scale``, DINOv2's ``mask_token``, the DPT head's 5th projection (512 -> 1024,
built but never called) and ``refinenet4.resConfUnit1`` (no skip input), the pose ResNet's ImageNet ``fc``, and
Stage 1's DPT ``depth_head`` (trained with a zero depth loss). Any other key no rule maps, any of our keys left
without a value, and any shape mismatch are reported together in one :class:`OfficialCheckpointError`.

:func:`synthetic_official_state_dict` fills a key/shape manifest with deterministic seeded values; with it the
equivalence tests (``tests/models/test_official_equivalence.py``, Stage 2, and
``tests/models/test_official_equivalence_stage1.py``, Stage 1) check our forward against the official one recorded by
``tools/record_official_forward.py`` without the official code or weights.
"""
from __future__ import annotations

import math
import re
import zlib
from collections.abc import Iterable, Mapping

import torch

__all__ = ['OFFICIAL_STAGE2_FILES', 'UNUSED_OFFICIAL', 'OfficialCheckpointError', 'check_against',
           'convert_official_stage1', 'convert_official_stage2', 'official_stage1_from_ours',
           'official_stage2_from_ours', 'synthetic_official_state_dict']

OFFICIAL_STAGE2_FILES = ('encoder', 'depth', 'pose_encoder', 'pose')

# official keys (per file) deliberately left out: regexes over the key inside its file
UNUSED_OFFICIAL: dict[str, tuple[str, ...]] = {
    'encoder': (r'clip\.visual\.attnpool\..*', r'clip\.logit_scale', r'dinov2\.mask_token'),
    'depth': (r'depth_head\.projects\.4\..*', r'depth_head\.scratch\.refinenet4\.resConfUnit1\..*'),
    'pose_encoder': (r'encoder\.fc\..*',),
    'pose': (),
    'stage1': (r'model\.clip\.visual\.attnpool\..*', r'model\.clip\.logit_scale', r'model\.dinov2\.mask_token',
               r'model\.depth_head\..*'),
}

_TOKEN = 'extra_tkns_learnables_depth'


class OfficialCheckpointError(KeyError):
    """Unknown, missing or mis-shaped keys of an official checkpoint (all listed in one message)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ''


# (official template, our template) per file. Placeholders: ``{rest}`` any key tail, ``{n}`` an index kept as is,
# ``{i1}`` a 1-based official index that is ``{i0}`` (0-based) on our side. The first matching rule wins.
_ENCODER_RULES = (
    ('clip.visual.{rest}', 'encoder.clip.visual.{rest}'),
    ('clip_align_conv.{n}.{rest}', 'encoder.align.{n}.{rest}'),
    ('dinov2.{rest}', 'encoder.dino.model.{rest}'),
    ('clip.token_embedding.{rest}', 'prompt_bank.text_encoder.token_embedding.{rest}'),
    ('clip.positional_embedding', 'prompt_bank.text_encoder.positional_embedding'),
    ('clip.transformer.{rest}', 'prompt_bank.text_encoder.transformer.{rest}'),
    ('clip.ln_final.{rest}', 'prompt_bank.text_encoder.ln_final.{rest}'),
    ('clip.text_projection', 'prompt_bank.text_encoder.text_projection'),
)
_DEPTH_RULES = (
    ('depth_head.projects.{n}.{rest}', 'decoder.projects.{n}.{rest}'),
    ('depth_head.resize_layers.{n}.{rest}', 'decoder.resize_layers.{n}.{rest}'),
    ('depth_head.scratch.layer{i1}_rn.{rest}', 'decoder.layer_rn.{i0}.{rest}'),
    ('depth_head.scratch.refinenet{i1}.resConfUnit1.{rest}', 'decoder.refinenets.{i0}.rcu1.{rest}'),
    ('depth_head.scratch.refinenet{i1}.resConfUnit2.{rest}', 'decoder.refinenets.{i0}.rcu2.{rest}'),
    ('depth_head.scratch.refinenet{i1}.out_conv.{rest}', 'decoder.refinenets.{i0}.out_conv.{rest}'),
    ('depth_head.scratch.output_conv1.{rest}', 'decoder.heads.0.conv1.{rest}'),
    ('depth_head.scratch.output_conv2.0.{rest}', 'decoder.heads.0.conv2.{rest}'),
    ('depth_head.scratch.output_conv2.2.{rest}', 'decoder.heads.0.conv3.{rest}'),
)
_POSE_ENCODER_RULES = (('encoder.{rest}', 'pose_net.encoder.model.{rest}'),)
_POSE_RULES = (
    ('net.0.{rest}', 'pose_net.decoder.squeeze.{rest}'),
    ('net.1.{rest}', 'pose_net.decoder.conv1.{rest}'),
    ('net.2.{rest}', 'pose_net.decoder.conv2.{rest}'),
    ('net.3.{rest}', 'pose_net.decoder.conv3.{rest}'),
)
_RULES = {'encoder': _ENCODER_RULES, 'depth': _DEPTH_RULES, 'pose_encoder': _POSE_ENCODER_RULES, 'pose': _POSE_RULES}
_PLACEHOLDERS = {'rest': r'(?P<rest>.+)', 'n': r'(?P<n>\d+)', 'i1': r'(?P<i1>\d+)', 'i0': r'(?P<i0>\d+)'}


def _regex(template: str) -> str:
    parts = re.split(r'\{(rest|n|i1|i0)\}', template)
    return ''.join(_PLACEHOLDERS[p] if i % 2 else re.escape(p) for i, p in enumerate(parts))


def _translate(rules, key: str, inverse: bool = False) -> str | None:
    """Map ``key`` through the first matching (official, ours) template pair (``inverse``: ours -> official)."""
    for official, ours in rules:
        src, dst = (ours, official) if inverse else (official, ours)
        m = re.fullmatch(_regex(src), key)
        if m is None:
            continue
        values = m.groupdict()
        if 'i1' in values:
            values['i0'] = str(int(values['i1']) - 1)
        if 'i0' in values:
            values['i1'] = str(int(values['i0']) + 1)
        return dst.format(**values)
    return None


def _is_unused(file: str, key: str) -> bool:
    return any(re.fullmatch(p, key) for p in UNUSED_OFFICIAL[file])


def _map_file(file: str, state: Mapping, rules, out: dict, unknown: list[str]) -> None:
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue  # Monodepth2 stores height / width / use_stereo in encoder.pth
        if _is_unused(file, key):
            continue
        if file == 'encoder' and key.startswith(_TOKEN + '.'):
            continue  # stacked below
        new = _translate(rules, key)
        if new is None:
            unknown.append(f'{file}.pth: {key}')
        else:
            out[new] = value


def _stack_tokens(state: Mapping, out: dict, unknown: list[str]) -> None:
    idx = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(_TOKEN + r'\.(\d+)', k)))
    if not idx:
        return
    if idx != list(range(len(idx))):
        unknown.append(f'encoder.pth: {_TOKEN}.* indices are not 0..{len(idx) - 1}')
        return
    out['prompt_bank.depth_tokens'] = torch.cat([state[f'{_TOKEN}.{i}'].reshape(1, -1) for i in idx], dim=0)


def check_against(converted: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]] | None,
                  unknown: Iterable[str], source: str, allow_missing: Iterable[str] = ()) -> None:
    """Raise one :class:`OfficialCheckpointError` for unknown keys, our keys left missing and shape mismatches.

    Args:
        converted: Our-layout tensors produced by a conversion.
        expected: ``{our key: shape}`` of the target model (``None``: only ``unknown`` is checked).
        unknown: Official keys no rule mapped (already formatted with their file).
        source: What was converted (named in the message).
        allow_missing: fnmatch-free prefixes of our keys that may stay missing (e.g. ``'pose_net.'``).
    """
    unknown = list(unknown)
    missing, mismatched, extra = [], [], []
    if expected is not None:
        allow = tuple(allow_missing)
        missing = [k for k in expected if k not in converted and not k.startswith(allow)]
        extra = [k for k in converted if k not in expected]
        mismatched = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(expected[k])}'
                      for k, v in converted.items() if k in expected and tuple(v.shape) != tuple(expected[k])]
    if unknown or missing or mismatched or extra:
        parts = []
        for title, items in (('unknown official keys', unknown), ('model keys without a value', missing),
                             ('converted keys the model lacks', extra), ('shape mismatches', mismatched)):
            if items:
                parts.append(f'{len(items)} {title}:\n  ' + '\n  '.join(items))
        raise OfficialCheckpointError(f'{source}: ' + '\n'.join(parts))


def convert_official_stage2(files: Mapping[str, Mapping[str, torch.Tensor]],
                            expected: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
    """Official Stage-2 files -> the state dict of our fine-stage estimator.

    Args:
        files: ``{'encoder': sd, 'depth': sd, 'pose_encoder': sd, 'pose': sd}`` (the pose files are optional:
            without them ``pose_net.*`` stays as initialised).
        expected: ``{our key: shape}`` of the target model, to check completeness and shapes.

    Returns:
        ``{our key: tensor}``.

    Raises:
        OfficialCheckpointError: unknown official keys, our keys without a value, or shape mismatches.
    """
    bad = sorted(set(files) - set(OFFICIAL_STAGE2_FILES))
    if bad or 'encoder' not in files or 'depth' not in files:
        raise OfficialCheckpointError(
            f'Stage-2 files must be encoder, depth[, pose_encoder, pose]; got {sorted(files)}')
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for file in OFFICIAL_STAGE2_FILES:
        if file in files:
            _map_file(file, files[file], _RULES[file], out, unknown)
    _stack_tokens(files['encoder'], out, unknown)
    allow = () if 'pose' in files and 'pose_encoder' in files else ('pose_net.',)
    check_against(out, expected, unknown, 'official Stage-2 checkpoint', allow_missing=allow)
    return out


def official_stage2_from_ours(state: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Inverse of :func:`convert_official_stage2` (without the unused official parameters).

    Args:
        state: Our fine-stage estimator state dict.

    Returns:
        ``{'encoder': sd, 'depth': sd, 'pose_encoder': sd, 'pose': sd}`` in the official layout.

    Raises:
        OfficialCheckpointError: keys of ours that have no official counterpart.
    """
    files: dict[str, dict[str, torch.Tensor]] = {f: {} for f in OFFICIAL_STAGE2_FILES}
    unknown = []
    for key, value in state.items():
        if key == 'prompt_bank.depth_tokens':
            for i, row in enumerate(value):
                files['encoder'][f'{_TOKEN}.{i}'] = row[None].clone()
            continue
        for file, rules in _RULES.items():
            new = _translate(rules, key, inverse=True)
            if new is not None:
                files[file][new] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise OfficialCheckpointError(f'{len(unknown)} keys have no official counterpart:\n  ' + '\n  '.join(unknown))
    return files


def convert_official_stage1(state: Mapping[str, torch.Tensor],
                            expected: Mapping[str, tuple[int, ...]] | None = None) -> dict[str, torch.Tensor]:
    """Official Stage-1 Lightning ``state_dict`` (``model.*``) -> the state dict of our coarse-stage estimator.

    Args:
        state: ``ckpt['state_dict']`` of ``stage1.ckpt``.
        expected: ``{our key: shape}`` of the target model (its learned point projection, if any, may stay
            missing: the official model has none).

    Returns:
        ``{our key: tensor}`` (``encoder.*`` and ``prompt_bank.text_encoder.*``).

    Raises:
        OfficialCheckpointError: unknown keys, our keys without a value, or shape mismatches.
    """
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        if not isinstance(value, torch.Tensor) or _is_unused('stage1', key):
            continue
        new = _translate(_ENCODER_RULES, key[len('model.'):]) if key.startswith('model.') else None
        if new is None:
            unknown.append(f'stage1.ckpt: {key}')
        else:
            out[new] = value
    check_against(out, expected, unknown, 'official Stage-1 checkpoint', allow_missing=('prompt_bank.point_proj.',))
    return out


def official_stage1_from_ours(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`convert_official_stage1`: our coarse estimator -> ``{'model.<official key>': tensor}``."""
    out, unknown = {}, []
    for key, value in state.items():
        if key.startswith('prompt_bank.point_proj.'):
            unknown.append(key)
            continue
        new = _translate(_ENCODER_RULES, key, inverse=True)
        if new is None:
            unknown.append(key)
        else:
            out['model.' + new] = value
    if unknown:
        raise OfficialCheckpointError(f'{len(unknown)} keys have no official counterpart:\n  ' + '\n  '.join(unknown))
    return out


def _value(key: str, shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> torch.Tensor:
    """Deterministic, well-scaled synthetic value of one official parameter (depends on key, shape and seed)."""
    if dtype == torch.int64 or key.endswith('num_batches_tracked'):
        return torch.zeros(shape, dtype=torch.int64)
    g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
    name = key.rsplit('.', 1)[-1]
    if name == 'running_var':
        return torch.rand(shape, generator=g) + 0.5
    if name == 'running_mean':
        return 0.1 * torch.randn(shape, generator=g)
    if name == 'gamma':  # DINOv2 LayerScale
        return 0.05 + 0.1 * torch.rand(shape, generator=g)
    if name == 'logit_scale':
        return torch.full(shape, math.log(1 / 0.07))
    if len(shape) == 1 or name == 'bias':
        if name == 'weight':  # norm layers
            return 1.0 + 0.1 * torch.randn(shape, generator=g)
        if shape == (1,):  # a one-channel output (the disparity): keep it mostly above the final ReLU
            return torch.full(shape, 3.0)
        return 0.02 * torch.randn(shape, generator=g)
    if 'token_embedding' in key or _TOKEN in key or name in ('cls_token', 'pos_embed', 'mask_token'):
        return 0.02 * torch.randn(shape, generator=g)
    if name == 'positional_embedding':
        return 0.01 * torch.randn(shape, generator=g)
    if name == 'text_projection':
        fan_in = shape[0]
    elif 'resize_layers' in key and shape[-1] in (2, 4):  # ConvTranspose2d weight (in, out, k, k), stride k
        fan_in = shape[0]
    else:
        fan_in = math.prod(shape[1:])
    return torch.randn(shape, generator=g) / math.sqrt(max(fan_in, 1))


def synthetic_official_state_dict(manifest: Mapping[str, tuple[tuple[int, ...], str]], seed: int = 0
                                  ) -> dict[str, torch.Tensor]:
    """Fill an official key/shape manifest with deterministic values.

    Args:
        manifest: ``{key: (shape, dtype name)}`` (e.g. ``'float32'``, ``'int64'``).
        seed: Seed mixed with every key (CRC32), so each tensor is independent of the others' order.

    Returns:
        ``{key: tensor}`` with BatchNorm statistics, LayerNorm / LayerScale and embeddings in realistic ranges and
        weights ``N(0, 1 / fan_in)``.
    """
    return {k: _value(k, tuple(shape), getattr(torch, dtype), seed) for k, (shape, dtype) in manifest.items()}
