"""Official BEVDet dev2.0 checkpoints (``bevdet-r50``, ``bevdet-r50-cbgs``, ``bevdet-r50-4d-depth-cbgs``) -> ours.

Pure ``state_dict -> state_dict`` functions (timm's ``checkpoint_filter_fn`` style). The official key layouts
follow the official configs and modules (github.com/NVlabs/FB-BEV 37a2fec ``BEVDet/``, unmodified BEVDet dev2.0):
``img_backbone`` (mmdet ``ResNet``, same keys), ``img_neck`` (``CustomFPN``: ``lateral_convs.i.conv``,
``fpn_convs.0.conv``), ``img_view_transformer.depth_net`` (a 1x1 ``Conv2d`` in ``LSSViewTransformer``; BEVDepth's
``DepthNet`` in ``LSSViewTransformerBEVDepth``), ``img_bev_encoder_backbone`` (``CustomResNet``: ``layers``,
``downsample``), ``img_bev_encoder_neck`` (``FPN_LSS``: ``conv``, ``up2``), ``pts_bbox_head`` (``CenterHead``, same
keys; the heatmap rows are reordered from BEVDet's class order to ours). ``bevdet-r50`` and ``bevdet-r50-cbgs``
share one layout (CBGS changes the sampler only). ``bevdet-r50-4d-depth-cbgs`` is temporal (``pre_process_net``,
a BEV encoder over 2 frames): only its image branch fits our single-frame models (``parts='image'``).
Every key is mapped or dropped by name; anything else stops the conversion with one error listing it all.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch

from hybrid_depth.models.official_checkpoint import OfficialCheckpointError, _translate, check_against

__all__ = ['BEVDET_CLASSES', 'LAYOUTS', 'MMDET3D_CLASSES', 'convert_official_bevdet', 'official_bevdet_from_ours']

BEVDET_CLASSES = ('car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle', 'bicycle',
                  'pedestrian', 'traffic_cone')
MMDET3D_CLASSES = ('car', 'truck', 'trailer', 'bus', 'construction_vehicle', 'bicycle', 'motorcycle', 'pedestrian',
                   'traffic_cone', 'barrier')
IMAGE_PREFIXES = ('img_backbone.', 'img_neck.', 'img_view_transformer.')
PARTS = ('all', 'image')

_BEV = 'img_bev_encoder_backbone.'
# (official template, our template); placeholders as in hybrid_depth.models.official_checkpoint; first match wins
_COMMON = (
    ('img_backbone.{rest}', 'img_backbone.{rest}'),
    ('img_neck.lateral_convs.{n}.conv.{rest}', 'img_neck.lateral.{n}.{rest}'),
    ('img_neck.fpn_convs.0.conv.{rest}', 'img_neck.out_conv.{rest}'),
    (_BEV + 'layers.{n}.0.downsample.{rest}', _BEV + 'stages.{n}.0.shortcut.{rest}'),
    (_BEV + 'layers.{rest}', _BEV + 'stages.{rest}'),
    ('img_bev_encoder_neck.conv.{rest}', 'img_bev_encoder_neck.conv.{rest}'),
    ('img_bev_encoder_neck.up2.{rest}', 'img_bev_encoder_neck.up.{rest}'),
    ('pts_bbox_head.{rest}', 'pts_bbox_head.{rest}'),
)
_VT = 'img_view_transformer.depth_net.'
_LSS_DEPTH = ((_VT + '{rest}', _VT + 'conv.{rest}'),)  # LSSViewTransformer: one 1x1 Conv2d to D + C
_BEVDEPTH_DEPTH = (  # LSSViewTransformerBEVDepth's DepthNet -> BEVDepthCameraAwareDepthNet
    (_VT + 'reduce_conv.{rest}', _VT + 'reduce.{rest}'),
    (_VT + 'bn.{rest}', _VT + 'cam_bn.{rest}'),
    (_VT + 'depth_mlp.fc1.{rest}', _VT + 'depth_mlp.0.{rest}'),
    (_VT + 'depth_mlp.fc2.{rest}', _VT + 'depth_mlp.2.{rest}'),
    (_VT + 'context_mlp.fc1.{rest}', _VT + 'context_mlp.0.{rest}'),
    (_VT + 'context_mlp.fc2.{rest}', _VT + 'context_mlp.2.{rest}'),
    (_VT + 'depth_se.conv_reduce.{rest}', _VT + 'depth_se.reduce.{rest}'),
    (_VT + 'depth_se.conv_expand.{rest}', _VT + 'depth_se.expand.{rest}'),
    (_VT + 'context_se.conv_reduce.{rest}', _VT + 'context_se.reduce.{rest}'),
    (_VT + 'context_se.conv_expand.{rest}', _VT + 'context_se.expand.{rest}'),
    (_VT + 'depth_conv.3.aspp{i1}.atrous_conv.{rest}', _VT + 'depth_conv.3.branches.{i0}.0.{rest}'),
    (_VT + 'depth_conv.3.aspp{i1}.bn.{rest}', _VT + 'depth_conv.3.branches.{i0}.1.{rest}'),
    (_VT + 'depth_conv.3.global_avg_pool.{i1}.{rest}', _VT + 'depth_conv.3.image_pool.1.{i0}.{rest}'),
    (_VT + 'depth_conv.3.conv1.{rest}', _VT + 'depth_conv.3.project.0.{rest}'),
    (_VT + 'depth_conv.3.bn1.{rest}', _VT + 'depth_conv.3.project.1.{rest}'),
    (_VT + 'depth_conv.{n}.{rest}', _VT + 'depth_conv.{n}.{rest}'),  # BasicBlocks 0-2, the final 1x1 conv
    (_VT + 'context_conv.{rest}', _VT + 'context_conv.{rest}'),
)
LAYOUTS = {'bevdet-r50': _LSS_DEPTH + _COMMON,
           'bevdet-r50-cbgs': _LSS_DEPTH + _COMMON,
           'bevdet-r50-4d-depth-cbgs': _BEVDEPTH_DEPTH + _COMMON}
_HEATMAP = re.compile(r'pts_bbox_head\.task_heads\.(\d+)\.heatmap\.(\d+)\.(weight|bias)')


def _heatmap_order(official: Sequence[Sequence[str]], ours: Sequence[Sequence[str]]) -> list[list[int]]:
    """Per task, the official row of each of our classes (``ours[t][i] == official[t][order[t][i]]``)."""
    if len(official) != len(ours) or any(sorted(a) != sorted(b) for a, b in zip(official, ours)):
        raise OfficialCheckpointError(f'class names differ: official {list(map(list, official))} vs ours '
                                      f'{list(map(list, ours))}')
    return [[list(a).index(name) for name in b] for a, b in zip(official, ours)]


def _reorder_heatmaps(state: dict[str, torch.Tensor], order: list[list[int]], inverse: bool = False) -> None:
    """Reorder the rows of each task's last heatmap conv (the one with one output per class) in place."""
    last: dict[int, int] = {}
    for key in state:
        m = _HEATMAP.fullmatch(key)
        if m:
            last[int(m[1])] = max(last.get(int(m[1]), -1), int(m[2]))
    for task, layer in last.items():
        idx = torch.tensor(order[task])
        if inverse:
            idx = torch.argsort(idx)
        for kind in ('weight', 'bias'):
            key = f'pts_bbox_head.task_heads.{task}.heatmap.{layer}.{kind}'
            if key in state:
                if state[key].shape[0] != len(idx):
                    raise OfficialCheckpointError(f'{key}: {state[key].shape[0]} rows for {len(idx)} classes')
                state[key] = state[key][idx]


def convert_official_bevdet(state: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]] | None = None,
                            layout: str = 'bevdet-r50',
                            official_classes: Sequence[Sequence[str]] = (BEVDET_CLASSES,),
                            our_classes: Sequence[Sequence[str]] = (MMDET3D_CLASSES,),
                            parts: str = 'all') -> dict[str, torch.Tensor]:
    """Official BEVDet detector ``state_dict`` -> the state dict of our ``BEVDet`` (same module names).

    Args:
        state: ``ckpt['state_dict']`` of a released checkpoint (keys as above).
        expected: ``{our key: shape}`` of the target model (``None``: only the key mapping is checked).
        layout: One of :data:`LAYOUTS`.
        official_classes: Per task, the checkpoint's class names in its heatmap order.
        our_classes: Per task, our class names in our heatmap order (the same names per task).
        parts: ``'all'`` or ``'image'`` (``img_backbone``, ``img_neck``, ``img_view_transformer`` only; every other
            official key is dropped by its prefix and our other keys may stay missing).

    Returns:
        ``{our key: tensor}``.

    Raises:
        OfficialCheckpointError: unknown keys, our keys without a value, shape mismatches or other class names.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {sorted(LAYOUTS)}, got {layout!r}')
    if parts not in PARTS:
        raise ValueError(f'parts must be one of {PARTS}, got {parts!r}')
    out: dict[str, torch.Tensor] = {}
    unknown: list[str] = []
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            continue
        if parts == 'image' and not key.startswith(IMAGE_PREFIXES):
            continue  # dropped by name: not part of the image branch
        new = _translate(LAYOUTS[layout], key)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if parts == 'all':
        _reorder_heatmaps(out, _heatmap_order(official_classes, our_classes))
    allow = () if parts == 'all' else ('img_bev_encoder_backbone.', 'img_bev_encoder_neck.', 'pts_bbox_head.')
    if expected is not None and parts == 'image':
        expected = {k: v for k, v in expected.items() if k.startswith(IMAGE_PREFIXES)}
    check_against(out, expected, unknown, f'official BEVDet checkpoint ({layout})', allow_missing=allow)
    return out


def official_bevdet_from_ours(state: Mapping[str, torch.Tensor], layout: str = 'bevdet-r50',
                              official_classes: Sequence[Sequence[str]] = (BEVDET_CLASSES,),
                              our_classes: Sequence[Sequence[str]] = (MMDET3D_CLASSES,)) -> dict[str, torch.Tensor]:
    """Inverse of :func:`convert_official_bevdet` (``parts='all'``): our ``BEVDet`` -> the official layout."""
    out, unknown = {}, []
    for key, value in state.items():
        new = _translate(LAYOUTS[layout], key, inverse=True)
        if new is None:
            unknown.append(key)
        else:
            out[key] = value
    if unknown:
        raise OfficialCheckpointError(f'{len(unknown)} keys have no official counterpart:\n  ' + '\n  '.join(unknown))
    _reorder_heatmaps(out, _heatmap_order(official_classes, our_classes), inverse=True)
    return {_translate(LAYOUTS[layout], k, inverse=True): v for k, v in out.items()}
