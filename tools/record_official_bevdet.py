#!/usr/bin/env python
"""Record the official BEVDet dev2.0 forward (LSS + BEVDepth depth net, BEV encoder, CenterHead) as a test fixture.

Given a checkout of the official dev2.0 code (the unmodified copy in github.com/NVlabs/FB-BEV, commit 37a2fec "Copy
base codebase from BEVDet", directory ``BEVDet/``), this loads its ``view_transformer.py``, ``resnet.py``
(``CustomResNet``), ``lss_fpn.py`` (``FPN_LSS``), ``centerpoint_head.py`` and ``box3d_nms.py`` by path into this
project's environment (mmcv 2 / mmdet 3 / mmdet3d 1.x). Only their imports are redirected, in this script: the mmcv
1.x names (``mmcv.runner.BaseModule``, ``force_fp32``, the registries, ``build_loss``, ``build_bbox_coder``,
``mmdet3d.core``) are stubbed with their mmengine / mmdet3d 1.x equivalents, and the CUDA ``bev_pool_v2`` is
replaced by :func:`bev_pool_v2_pytorch` (checked here against a loop over the op's intervals, the CUDA kernel's
semantics). The official forward code runs unchanged.

The weights are :func:`seeded_state_dict` of the modules' own key/shape manifest, so the test rebuilds them without
the official code. Rig: 6 nuScenes-like cameras (60 deg apart, 1.5 m up, intrinsics of a 1600x900 camera) with
image augmentation (resize, crop, flip for camera 1, rotation) and a BEV augmentation (rotation, scale, flip), a
``Z = 2`` grid (so the BEV channel order matters) and small channel counts. Written (``--out``, default
``tests/fixtures/official_bevdet``): ``manifest.json`` (keys, shapes, configs, commit) and ``forward.npz``.

Example:
    python tools/record_official_bevdet.py --official-root /work/official/bevdet_dev2/BEVDet --commit 37a2fec
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import os.path as osp
import shutil
import sys
import tempfile
import types

import numpy as np
import torch
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

SEED = 0
N_CAM = 6
INPUT_SIZE = (64, 176)  # (H, W) network input
DOWNSAMPLE = 16
IN_CHANNELS = 16  # image feature channels (= DepthNet mid channels, as the official BEVDepth transformer)
OUT_CHANNELS = 8  # context channels C
ASPP_MID = 8
GRID = dict(x=(-51.2, 51.2, 6.4), y=(-51.2, 51.2, 6.4), z=(-5.0, 3.0, 4.0), depth=(1.0, 45.0, 4.0))
BEV_CHANNELS = (16, 32, 64)  # CustomResNet stages on the (Z C = 16)-channel BEV
FPN_OUT = 32
TASKS = [dict(num_class=1, class_names=['car']), dict(num_class=2, class_names=['truck', 'pedestrian'])]
PC_RANGE = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
VOXEL = [3.2, 3.2, 8.0]  # head cell = out_size_factor * voxel = BEV cell of 6.4 m with out_size_factor 2
HEAD_TEST_CFG = dict(post_center_limit_range=[-61.2, -61.2, -10.0, 61.2, 61.2, 10.0], score_threshold=0.05,
                     pre_max_size=1000, post_max_size=100, nms_thr=[0.2, 0.1], min_radius=[200.0, 60.0],
                     nms_rescale_factor=[8.0, [6.0, 12.0]])  # large: boxes overlap, NMS suppresses


def seeded_state_dict(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    """Deterministic weights for a key/shape manifest (independent of module code and key order).

    Conv/linear weights ~ N(0, 1 / fan_in), biases and BN affine ~ U(-0.2, 0.2) (+1 for BN weights), BN running
    means ~ N(0, 0.1), running variances ~ U(0.5, 1.5), ``num_batches_tracked`` 0.
    """
    out = {}
    for key in sorted(shapes):
        shape = tuple(shapes[key])
        g = torch.Generator().manual_seed(seed * 1_000_003 + sum(ord(c) * (i + 1) for i, c in enumerate(key)))
        if key.endswith('num_batches_tracked'):
            out[key] = torch.zeros(shape, dtype=torch.long)
        elif key.endswith('running_var'):
            out[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith('running_mean'):
            out[key] = torch.randn(shape, generator=g) * 0.1
        elif len(shape) >= 2:
            fan_in = math.prod(shape[1:])
            out[key] = torch.randn(shape, generator=g) / math.sqrt(fan_in)
        else:
            is_bn_weight = key.endswith('weight')
            out[key] = (torch.rand(shape, generator=g) - 0.5) * 0.4 + (1.0 if is_bn_weight else 0.0)
    return out


def rig(seed: int = SEED) -> dict[str, torch.Tensor]:
    """Six cameras, image and BEV augmentation (B = 1). Frames: ``cam2ego`` camera -> ego (x fwd, y left, z up).

    Returns: ``cam2ego`` (1, 6, 4, 4), ``cam2img`` (1, 6, 3, 3) (of the 1600x900 original), ``post_rots``
    (1, 6, 3, 3), ``post_trans`` (1, 6, 3) (original pixels -> network input), ``bda`` (1, 3, 3), ``feats``
    (6, C_in, h, w) image features, ``gt_depth`` (6, H, W) sparse LiDAR-like depth, ``gt_boxes`` (K, 9) ego-frame
    gravity-centre boxes ``(x, y, z, dx, dy, dz, yaw, vx, vy)`` and ``gt_labels`` (K,).
    """
    g = torch.Generator().manual_seed(seed)
    cam_to_body = torch.tensor([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]])  # optical z -> ego x, image x -> -y
    cam2ego = torch.zeros(1, N_CAM, 4, 4)
    post_rots = torch.zeros(1, N_CAM, 3, 3)
    post_trans = torch.zeros(1, N_CAM, 3)
    for i in range(N_CAM):
        yaw = math.radians(60 * i) + 0.05 * (torch.rand(1, generator=g).item() - 0.5)
        rz = torch.tensor([[math.cos(yaw), -math.sin(yaw), 0], [math.sin(yaw), math.cos(yaw), 0], [0, 0, 1]])
        cam2ego[0, i, :3, :3] = rz @ cam_to_body
        cam2ego[0, i, :3, 3] = torch.tensor([1.0 * math.cos(yaw), 1.0 * math.sin(yaw), 1.5])
        cam2ego[0, i, 3, 3] = 1
        # resize 0.11 (1600x900 -> 176x99), crop 35 rows from the top, flip camera 1, rotate by a few degrees
        s = 0.11 + 0.004 * i
        rot = math.radians(3.0 * (i - 2.5))
        a = torch.tensor([[s, 0.0], [0.0, s]])
        b = torch.tensor([0.0, -35.0 - 2 * i])
        if i == 1:
            a = torch.tensor([[-1.0, 0], [0, 1]]) @ a
            b = torch.tensor([-1.0, 1.0]) * b + torch.tensor([INPUT_SIZE[1], 0.0])
        centre = torch.tensor([INPUT_SIZE[1] / 2, INPUT_SIZE[0] / 2])
        r = torch.tensor([[math.cos(rot), math.sin(rot)], [-math.sin(rot), math.cos(rot)]])
        a, b = r @ a, r @ (b - centre) + centre
        post_rots[0, i, :2, :2], post_rots[0, i, 2, 2], post_trans[0, i, :2] = a, 1.0, b
    cam2img = torch.tensor([[1266.0, 0, 816], [0, 1266, 491], [0, 0, 1]]).expand(1, N_CAM, 3, 3).clone()
    ang = math.radians(12.0)
    bda = torch.tensor([[[math.cos(ang), -math.sin(ang), 0], [math.sin(ang), math.cos(ang), 0], [0, 0, 1]]]) * 1.03
    bda = bda @ torch.diag(torch.tensor([1.0, -1.0, 1.0]))  # flip y
    h, w = INPUT_SIZE[0] // DOWNSAMPLE, INPUT_SIZE[1] // DOWNSAMPLE
    feats = torch.randn(N_CAM, IN_CHANNELS, h, w, generator=g)
    hit = torch.rand(N_CAM, *INPUT_SIZE, generator=g) < 0.05
    gt_depth = torch.where(hit, torch.rand(N_CAM, *INPUT_SIZE, generator=g) * 50.0, torch.zeros(()))
    k = 7
    xy = (torch.rand(k, 2, generator=g) - 0.5) * 80
    gt_boxes = torch.cat([xy, torch.full((k, 1), -0.5), torch.rand(k, 3, generator=g) * 3 + 0.5,
                          (torch.rand(k, 1, generator=g) - 0.5) * 6, torch.randn(k, 2, generator=g)], dim=1)
    gt_labels = torch.tensor([0, 1, 2, 0, 2, 1, 0])
    return dict(cam2ego=cam2ego, cam2img=cam2img, post_rots=post_rots, post_trans=post_trans, bda=bda, feats=feats,
                gt_depth=gt_depth, gt_boxes=gt_boxes, gt_labels=gt_labels)


def bev_pool_v2_pytorch(depth, feat, ranks_depth, ranks_feat, ranks_bev, bev_feat_shape, interval_starts,
                        interval_lengths):
    """PyTorch stand-in for the official CUDA ``bev_pool_v2`` (same arguments, same (B, C, Z, Y, X) output).

    The kernel sums ``depth[ranks_depth[j]] * feat[ranks_feat[j]]`` over each interval of equal ``ranks_bev`` and
    writes it to voxel ``ranks_bev[start]``; an ``index_add`` over all kept points is the same sum.
    """
    c = feat.shape[-1]
    out = feat.new_zeros(bev_feat_shape).view(-1, c)
    prod = depth.reshape(-1)[ranks_depth.long()].unsqueeze(1) * feat.reshape(-1, c)[ranks_feat.long()]
    out = out.index_add(0, ranks_bev.long(), prod).view(bev_feat_shape)
    return out.permute(0, 4, 1, 2, 3).contiguous()


def _bev_pool_v2_loop(depth, feat, ranks_depth, ranks_feat, ranks_bev, bev_feat_shape, interval_starts,
                      interval_lengths):
    """The CUDA kernel's semantics, one interval at a time (checks :func:`bev_pool_v2_pytorch`)."""
    c = feat.shape[-1]
    out = feat.new_zeros(bev_feat_shape).view(-1, c)
    d, f = depth.reshape(-1), feat.reshape(-1, c)
    for start, length in zip(interval_starts.tolist(), interval_lengths.tolist()):
        idx = slice(start, start + length)
        out[ranks_bev[start]] = (d[ranks_depth[idx].long()].unsqueeze(1) * f[ranks_feat[idx].long()]).sum(0)
    return out.view(bev_feat_shape).permute(0, 4, 1, 2, 3)


class _Registry:
    def register_module(self, *args, **kwargs):
        return lambda cls: cls


def _module(name: str, **attrs) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    return mod


def _load(path: str, name: str, package: str | None = None) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    if package:
        mod.__package__ = package
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_official(root: str) -> dict[str, types.ModuleType]:
    """The official modules, with their mmcv 1.x imports stubbed (script-only)."""
    import mmdet.models
    import mmdet3d.models.backbones
    from mmcv.cnn import ConvModule
    from mmdet.models.utils import multi_apply
    from mmdet.utils import reduce_mean
    from mmdet3d.models.utils import clip_sigmoid, draw_heatmap_gaussian, gaussian_radius
    from mmdet3d.registry import MODELS, TASK_UTILS
    from mmdet3d.structures import xywhr2xyxyr

    class BaseModule(nn.Module):
        def __init__(self, init_cfg=None):
            super().__init__()

    def force_fp32(*args, **kwargs):
        return lambda fn: fn

    _module('mmcv.runner', BaseModule=BaseModule, force_fp32=force_fp32)
    _module('mmdet3d.ops')
    _module('mmdet3d.ops.bev_pool_v2')
    _module('mmdet3d.ops.bev_pool_v2.bev_pool', bev_pool_v2=bev_pool_v2_pytorch)
    mmdet.models.BACKBONES = mmdet.models.NECKS = _Registry()
    _module('mmdet3d.models.backbones.resnet', ConvModule=ConvModule)  # lss_fpn imports it from there

    nms = _load(osp.join(root, 'mmdet3d/core/post_processing/box3d_nms.py'), 'official_box3d_nms')
    heads: dict[str, type] = {}

    def build_head(cfg):
        cfg = dict(cfg)
        return heads[cfg.pop('type')](**cfg)

    def build_loss(cfg):
        cfg = dict(cfg)
        return MODELS.build(dict(cfg, type='mmdet.' + cfg['type']))

    builder = _module('mmdet3d.models.builder', NECKS=_Registry(), HEADS=_Registry(), build_loss=build_loss,
                      build_head=build_head)
    _module('mmdet3d.core', circle_nms=nms.circle_nms, draw_heatmap_gaussian=draw_heatmap_gaussian,
            gaussian_radius=gaussian_radius, xywhr2xyxyr=xywhr2xyxyr)
    _module('mmdet3d.core.post_processing', nms_bev=nms.nms_bev)
    _module('mmdet.core', build_bbox_coder=TASK_UTILS.build, multi_apply=multi_apply, reduce_mean=reduce_mean)
    import mmdet3d.models
    mmdet3d.models.builder = builder
    sys.modules['mmdet3d.models.utils'].clip_sigmoid = clip_sigmoid
    mods = dict(
        vt=_load(osp.join(root, 'mmdet3d/models/necks/view_transformer.py'), 'mmdet3d.models.necks.official_vt',
                 'mmdet3d.models.necks'),
        resnet=_load(osp.join(root, 'mmdet3d/models/backbones/resnet.py'), 'official_resnet'),
        fpn=_load(osp.join(root, 'mmdet3d/models/necks/lss_fpn.py'), 'official_lss_fpn'),
        head=_load(osp.join(root, 'mmdet3d/models/dense_heads/centerpoint_head.py'),
                   'mmdet3d.models.dense_heads.official_centerpoint_head', 'mmdet3d.models.dense_heads'),
        nms=nms)
    heads['SeparateHead'] = mods['head'].SeparateHead
    return mods


def head_config() -> dict:
    """The CenterHead config shared by the official and our head (official key names)."""
    return dict(
        in_channels=FPN_OUT, tasks=TASKS, share_conv_channel=16,
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        bbox_coder=dict(type='CenterPointBBoxCoder', pc_range=PC_RANGE[:2], post_center_range=HEAD_TEST_CFG[
            'post_center_limit_range'], max_num=100, score_threshold=HEAD_TEST_CFG['score_threshold'],
            out_size_factor=2, voxel_size=VOXEL[:2], code_size=9),
        separate_head=dict(type='SeparateHead', init_bias=-2.19, final_kernel=3),
        loss_cls=dict(type='GaussianFocalLoss', reduction='mean'),
        loss_bbox=dict(type='L1Loss', reduction='mean', loss_weight=0.25), norm_bbox=True,
        train_cfg=dict(point_cloud_range=PC_RANGE, grid_size=[32, 32, 1], voxel_size=VOXEL, out_size_factor=2,
                       dense_reg=1, gaussian_overlap=0.1, max_objs=50, min_radius=2,
                       code_weights=[1.0] * 8 + [0.2, 0.2]))


def build_official(mods) -> dict[str, nn.Module]:
    vt = mods['vt'].LSSViewTransformerBEVDepth(
        grid_config=GRID, input_size=INPUT_SIZE, downsample=DOWNSAMPLE, in_channels=IN_CHANNELS,
        out_channels=OUT_CHANNELS, loss_depth_weight=3.0, depthnet_cfg=dict(use_dcn=False, aspp_mid_channels=ASPP_MID))
    nz = int(GRID['z'][1] - GRID['z'][0]) // int(GRID['z'][2])
    resnet = mods['resnet'].CustomResNet(numC_input=OUT_CHANNELS * nz, num_channels=list(BEV_CHANNELS))
    fpn = mods['fpn'].FPN_LSS(in_channels=BEV_CHANNELS[0] + BEV_CHANNELS[2], out_channels=FPN_OUT)
    cfg = head_config()
    head = mods['head'].CenterHead(test_cfg=dict(HEAD_TEST_CFG, nms_type=['rotate', 'rotate']), **cfg)
    return dict(vt=vt, resnet=resnet, fpn=fpn, head=head)


def record(mods, seed: int = SEED) -> tuple[dict, dict[str, np.ndarray]]:
    from mmdet3d.structures import LiDARInstance3DBoxes
    modules = build_official(mods)
    shapes = {f'{m}.{k}': tuple(v.shape) for m, mod in modules.items() for k, v in mod.state_dict().items()}
    weights = seeded_state_dict(shapes, seed)
    for m, mod in modules.items():
        mod.load_state_dict({k[len(m) + 1:]: v for k, v in weights.items() if k.startswith(m + '.')}, strict=True)
        mod.eval()
    r = rig(seed)
    vt, out = modules['vt'], {}
    b, n = 1, N_CAM
    sensor2ego, ego2global = r['cam2ego'], torch.eye(4).expand(1, n, 4, 4)
    geo = (sensor2ego, ego2global, r['cam2img'], r['post_rots'], r['post_trans'], r['bda'])
    mlp_input = vt.get_mlp_input(*geo)
    feats = r['feats'].view(b, n, *r['feats'].shape[1:])
    # bev_pool_v2 stand-in against the kernel's interval loop
    coor = vt.get_lidar_coor(*geo)
    prep = vt.voxel_pooling_prepare_v2(coor)
    g = torch.Generator().manual_seed(seed + 1)
    dep = torch.rand(b, n, vt.D, *feats.shape[-2:], generator=g)
    fea = torch.randn(b, n, *feats.shape[-2:], OUT_CHANNELS, generator=g)
    shape = (b, 2, 16, 16, OUT_CHANNELS)
    assert torch.allclose(bev_pool_v2_pytorch(dep, fea, prep[1], prep[2], prep[0], shape, *prep[3:]),
                          _bev_pool_v2_loop(dep, fea, prep[1], prep[2], prep[0], shape, *prep[3:]), atol=1e-5)
    with torch.no_grad():
        bev, depth = vt([feats, *geo, mlp_input])
        out.update(points=coor.numpy(), mlp_input=mlp_input.numpy(), depth=depth.numpy(), bev=bev.numpy())
        # pooling alone, on fixed depth / context (isolates the voxel index and the channel order)
        out['bev_fixed'] = vt.voxel_pooling_v2(coor, dep, fea.permute(0, 1, 4, 2, 3)).numpy()
        bev_levels = modules['resnet'](bev)
        bev_out = modules['fpn'](bev_levels)
        out.update(bev_levels_2=bev_levels[2].numpy(), bev_out=bev_out.numpy())
        preds = modules['head']([bev_out])
        for t, p in enumerate(preds):
            for k, v in p[0].items():
                out[f'head.{t}.{k}'] = v.clone().numpy()
    # depth loss and its gradient, on sharp depth probabilities (some target bins far below 1e-6)
    logits = torch.randn(n, vt.D, *feats.shape[-2:], generator=g) * 12
    probs = logits.softmax(1).requires_grad_(True)
    loss = vt.get_depth_loss(r['gt_depth'].view(b, n, *INPUT_SIZE), probs)
    loss.backward()
    out.update(depth_logits=logits.numpy(), depth_loss=loss.detach().numpy(), depth_grad=probs.grad.numpy())
    # head: targets, loss, decode, NMS
    head = modules['head']
    boxes = LiDARInstance3DBoxes(r['gt_boxes'], box_dim=9)
    targets = head.get_targets([boxes], [r['gt_labels']])
    for name, per_task in zip(('heatmaps', 'anno_boxes', 'inds', 'masks'), targets):
        for t, v in enumerate(per_task):
            out[f'targets.{name}.{t}'] = v.numpy()
    with torch.no_grad():
        # the official loss applies clip_sigmoid (in place) to the heatmaps: give it a copy
        losses = head.loss([boxes], [r['gt_labels']], [[{k: v.clone() for k, v in p[0].items()}] for p in preds])
    for k, v in losses.items():
        out[f'loss.{k}'] = v.numpy()
    metas = [dict(box_type_3d=LiDARInstance3DBoxes)]
    for nms_type in ('rotate', 'circle'):
        head.test_cfg['nms_type'] = [nms_type, nms_type]
        with torch.no_grad():
            bboxes, scores, labels = head.get_bboxes(preds, metas)[0]
        out[f'nms.{nms_type}.bboxes'] = bboxes.tensor.numpy()
        out[f'nms.{nms_type}.scores'] = scores.numpy()
        out[f'nms.{nms_type}.labels'] = labels.numpy()
    for k in ('cam2ego', 'cam2img', 'post_rots', 'post_trans', 'bda', 'feats', 'gt_depth', 'gt_boxes', 'gt_labels'):
        out[f'input.{k}'] = r[k].numpy()
    manifest = dict(seed=seed, shapes={k: list(v) for k, v in shapes.items()})
    return manifest, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--official-root', required=True, help='the BEVDet/ directory of the official dev2.0 code')
    parser.add_argument('--commit', required=True, help='the commit of that checkout (written to the manifest)')
    parser.add_argument('--out', default=osp.join(ROOT, 'tests/fixtures/official_bevdet'))
    args = parser.parse_args()
    torch.manual_seed(SEED)
    manifest, out = record(load_official(args.official_root))
    manifest.update(source='github.com/NVlabs/FB-BEV BEVDet/ (unmodified BEVDet dev2.0)', commit=args.commit)
    write_fixture(args.out, manifest, out)


def write_fixture(out_dir: str, manifest: dict, arrays: dict[str, np.ndarray]) -> None:
    """``manifest.json`` + ``forward.npz`` into ``out_dir``, written in a temporary folder and renamed over it."""
    tmp = tempfile.mkdtemp(dir=osp.dirname(osp.abspath(out_dir)) or '.')
    with open(osp.join(tmp, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=0, sort_keys=True)
    np.savez_compressed(osp.join(tmp, 'forward.npz'), **arrays)
    if osp.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    print(f'wrote {out_dir}: {len(manifest["shapes"])} weights, {len(arrays)} arrays')


if __name__ == '__main__':
    main()
