"""Our BEVDet modules on the official dev2.0 weights equal the recorded official forward.

The fixture ``tests/fixtures/official_bevdet`` was recorded by ``tools/record_official_bevdet.py`` from the official
code (github.com/NVlabs/FB-BEV commit in the manifest, ``BEVDet/``: unmodified BEVDet dev2.0) with seeded weights
(:func:`seeded_state_dict` of the recorded key/shape manifest) on a 6-camera rig with image and BEV augmentation.
Here, without the official code: the weights are rebuilt, mapped to our keys by :data:`KEY_MAP` (every key must map),
and our LSS points and pooling, depth net, depth loss and gradient, BEV encoder and head (targets, loss, decode +
Scale-NMS, circle NMS) are compared with the record. Each comparison is also run on a perturbed piece and must fail.
"""
from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / 'tests/fixtures/official_bevdet'
sys.path.insert(0, str(ROOT / 'tools'))
import record_official_bevdet as rec  # noqa: E402

# official key (prefixed by module) -> ours; applied in order, the first matching rule wins
KEY_MAP: list[tuple[str, str | Callable[[re.Match], str]]] = [
    (r'vt\.depth_net\.reduce_conv\.', 'vt.depth_net.reduce.'),
    (r'vt\.depth_net\.bn\.', 'vt.depth_net.cam_bn.'),
    (r'vt\.depth_net\.(depth|context)_mlp\.fc1\.', r'vt.depth_net.\1_mlp.0.'),
    (r'vt\.depth_net\.(depth|context)_mlp\.fc2\.', r'vt.depth_net.\1_mlp.2.'),
    (r'vt\.depth_net\.(depth|context)_se\.conv_(reduce|expand)\.', r'vt.depth_net.\1_se.\2.'),
    (r'vt\.depth_net\.depth_conv\.3\.aspp([1-4])\.atrous_conv\.',
     lambda m: f'vt.depth_net.depth_conv.3.branches.{int(m[1]) - 1}.0.'),
    (r'vt\.depth_net\.depth_conv\.3\.aspp([1-4])\.bn\.',
     lambda m: f'vt.depth_net.depth_conv.3.branches.{int(m[1]) - 1}.1.'),
    (r'vt\.depth_net\.depth_conv\.3\.global_avg_pool\.([12])\.',
     lambda m: f'vt.depth_net.depth_conv.3.image_pool.1.{int(m[1]) - 1}.'),
    (r'vt\.depth_net\.depth_conv\.3\.conv1\.', 'vt.depth_net.depth_conv.3.project.0.'),
    (r'vt\.depth_net\.depth_conv\.3\.bn1\.', 'vt.depth_net.depth_conv.3.project.1.'),
    (r'vt\.depth_net\.(context_conv|depth_conv\.[0-24])\.', r'vt.depth_net.\1.'),
    (r'resnet\.layers\.(\d+)\.(\d+)\.downsample\.', r'resnet.stages.\1.\2.shortcut.'),
    (r'resnet\.layers\.(\d+)\.(\d+)\.(conv|bn)([12])\.', r'resnet.stages.\1.\2.\3\4.'),
    (r'fpn\.conv\.', 'fpn.conv.'),
    (r'fpn\.up2\.', 'fpn.up.'),
    (r'head\.', 'head.'),
]


def map_key(key: str) -> str:
    for pattern, repl in KEY_MAP:
        m = re.match(pattern, key)
        if m:
            return re.sub(pattern, repl, key, count=1) if isinstance(repl, str) else repl(m) + key[m.end():]
    raise KeyError(f'no rule maps official key {key}')


@pytest.fixture(scope='module')
def record():
    manifest = json.loads((FIXTURE / 'manifest.json').read_text())
    data = dict(np.load(FIXTURE / 'forward.npz'))
    shapes = {k: tuple(v) for k, v in manifest['shapes'].items()}
    return manifest, {k: torch.from_numpy(v) for k, v in data.items()}, rec.seeded_state_dict(shapes, manifest['seed'])


def _build_ours(**vt_options):
    from mmdet3d.registry import MODELS

    import projects.BEVDet.bevdet  # noqa: F401
    init_default_scope('mmdet3d')
    vt = MODELS.build(dict(
        type='BEVDetLSSViewTransformer', grid_config=rec.GRID, input_size=rec.INPUT_SIZE, downsample=rec.DOWNSAMPLE,
        out_channels=rec.OUT_CHANNELS, loss_depth_weight=3.0, **vt_options,
        depth_net=dict(type='BEVDepthCameraAwareDepthNet', in_channels=rec.IN_CHANNELS, mid_channels=rec.IN_CHANNELS,
                       aspp_mid_channels=rec.ASPP_MID)))
    resnet = MODELS.build(dict(type='BEVDetResNet', in_channels=rec.OUT_CHANNELS * 2, num_channels=rec.BEV_CHANNELS))
    fpn = MODELS.build(dict(type='BEVDetFPNLSS', in_channels=rec.BEV_CHANNELS[0] + rec.BEV_CHANNELS[2],
                            out_channels=rec.FPN_OUT))
    cfg = rec.head_config()
    cfg.update(type='BEVDetCenterHead', test_cfg=dict(rec.HEAD_TEST_CFG, nms_type=['rotate', 'rotate']),
               loss_cls=dict(cfg['loss_cls'], type='mmdet.GaussianFocalLoss'),
               loss_bbox=dict(cfg['loss_bbox'], type='mmdet.L1Loss'))
    head = MODELS.build(cfg)
    return torch.nn.ModuleDict(dict(vt=vt, resnet=resnet, fpn=fpn, head=head))


def _load(model, weights) -> None:
    ours = {map_key(k): v for k, v in weights.items()}
    model.load_state_dict(ours, strict=True)
    model.eval()


@pytest.fixture(scope='module')
def model(record):
    model = _build_ours()
    _load(model, record[2])
    return model


def _inputs(data):
    return {k: data[f'input.{k}'] for k in ('cam2ego', 'cam2img', 'post_rots', 'post_trans', 'bda', 'feats',
                                              'gt_depth', 'gt_boxes', 'gt_labels')}


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-4) -> bool:
    return a.shape == b.shape and bool((a - b).abs().max() <= tol * (1 + b.abs().max()))


def test_every_official_key_maps_to_one_of_ours(record, model):
    mapped = [map_key(k) for k in record[2]]
    assert len(set(mapped)) == len(mapped) == len(record[2])
    assert set(mapped) == set(model.state_dict())
    with pytest.raises(KeyError, match='no rule maps'):
        map_key('vt.depth_net.cost_volumn_net.0.weight')


def _lss(model, data):
    from projects.BEVDet.bevdet.view_transformer import frustum_to_bev
    x = _inputs(data)
    vt = model['vt']
    with torch.no_grad():
        points = frustum_to_bev(vt.frustum, x['cam2img'], x['cam2ego'], x['post_rots'], x['post_trans'], x['bda'])
        bev, depth = vt([x['feats']], x['cam2img'], x['cam2ego'], x['post_rots'], x['post_trans'], x['bda'])
    return points, bev, depth


def test_lss_points_depth_net_and_pooled_bev(record, model):
    _, data, _ = record
    points, bev, depth = _lss(model, data)
    assert _close(points, data['points'], 1e-5)
    assert _close(depth, data['depth']) and _close(bev, data['bev'])
    x = _inputs(data)
    cam = torch.from_numpy(np.asarray(data['mlp_input']))
    from projects.BEVDet.bevdet.view_transformer import camera_params_vector
    ours_cam = camera_params_vector(x['cam2img'], x['cam2ego'], x['post_rots'], x['post_trans'], x['bda'])
    assert _close(ours_cam, cam, 1e-6)


def test_pooling_alone_on_fixed_depth_and_context(record, model):
    """The recorder's ``bev_fixed``: official pooling of seeded depth / context; isolates the voxel index and the
    Z-major channel order (Z = 2 here)."""
    from projects.BEVDet.bevdet.bev_pool import bev_pool_index_add, voxel_ranks
    _, data, _ = record
    points, _, _ = _lss(model, data)
    vt = model['vt']
    g = torch.Generator().manual_seed(int(record[0]['seed']) + 1)
    b, n, (h, w) = 1, rec.N_CAM, vt.feature_size
    dep = torch.rand(b, n, vt.num_depth, h, w, generator=g)
    fea = torch.randn(b, n, h, w, rec.OUT_CHANNELS, generator=g)
    nx, ny, nz = vt.grid_size

    def pooled(index: str, order: str) -> torch.Tensor:
        ranks = voxel_ranks(points, vt.grid_lower, vt.grid_interval, torch.tensor(vt.grid_size), index)
        flat = bev_pool_index_add(dep.permute(0, 1, 3, 4, 2).reshape(-1, vt.num_depth),
                                  fea.reshape(-1, rec.OUT_CHANNELS), ranks, nx * ny * nz)
        grid = flat.view(b, nz, ny, nx, -1)
        grid = grid.permute(0, 1, 4, 2, 3) if order == 'z_major' else grid.permute(0, 4, 1, 2, 3)
        return grid.reshape(b, -1, ny, nx)

    official = data['bev_fixed']
    assert _close(pooled('trunc', 'z_major'), official, 1e-5)
    assert not _close(pooled('floor', 'z_major'), official, 1e-2)  # our former voxel index
    assert not _close(pooled('trunc', 'c_major'), official, 1e-2)  # our former channel order


def test_options_flip_the_lss_output(record):
    """With our former choices as options the recorded official BEV is no longer reproduced."""
    _, data, weights = record
    for options in (dict(voxel_index='floor'), dict(bev_channel_order='c_major')):
        model = _build_ours(**options)
        _load(model, weights)
        assert not _close(_lss(model, data)[1], data['bev'], 1e-2), options


def test_depth_loss_and_gradient(record, model):
    _, data, _ = record
    vt = model['vt']
    x = _inputs(data)
    probs = data['depth_logits'].softmax(1).requires_grad_(True)
    loss = vt.loss_depth(probs, x['gt_depth'])
    loss.backward()
    assert abs(loss.item() - data['depth_loss'].item()) <= 1e-4 * data['depth_loss'].item()
    assert _close(probs.grad, data['depth_grad'], 1e-4)
    vt.depth_loss_clamp = 1e-6  # our former clamp: a different loss and no gradient past the clamp
    try:
        clamped = vt.loss_depth(data['depth_logits'].softmax(1), x['gt_depth'])
    finally:
        vt.depth_loss_clamp = None
    assert abs(clamped.item() - data['depth_loss'].item()) > 1.0


def test_bev_encoder(record, model):
    _, data, _ = record
    with torch.no_grad():
        levels = model['resnet'](data['bev'])
        out = model['fpn'](levels)
    assert _close(levels[2], data['bev_levels_2']) and _close(out, data['bev_out'])


def _head_preds(model, data):
    with torch.no_grad():
        return model['head']([data['bev_out']])


def test_head_forward_targets_and_loss(record, model):
    from mmdet3d.structures import LiDARInstance3DBoxes
    from mmengine.structures import InstanceData
    _, data, _ = record
    preds = _head_preds(model, data)
    for t, p in enumerate(preds):
        for k, v in p[0].items():
            assert _close(v, data[f'head.{t}.{k}']), (t, k)
    x = _inputs(data)
    gt = InstanceData(bboxes_3d=LiDARInstance3DBoxes(x['gt_boxes'], box_dim=9), labels_3d=x['gt_labels'])
    head = model['head']
    targets = head.get_targets([gt])
    for name, per_task in zip(('heatmaps', 'anno_boxes', 'inds', 'masks'), targets):
        for t, v in enumerate(per_task):
            assert _close(v.float(), data[f'targets.{name}.{t}'].float(), 1e-5), (name, t)
    with torch.no_grad():
        losses = head.loss_by_feat(preds, [gt])
    # official dev2.0 logs the box loss split (xy, z, whl, yaw, vel; each L1 sum / the same avg_factor): their sum
    parts = ('loss_xy', 'loss_z', 'loss_whl', 'loss_yaw', 'loss_vel')
    for t in range(len(rec.TASKS)):
        official = {'loss_heatmap': data[f'loss.task{t}.loss_heatmap'].item(),
                    'loss_bbox': sum(data[f'loss.task{t}.{p}'].item() for p in parts)}
        for k, ref in official.items():
            assert abs(losses[f'task{t}.{k}'].item() - ref) <= 1e-4 * (1 + abs(ref)), (t, k)
    assert len(losses) == 2 * len(rec.TASKS)


@pytest.mark.parametrize('nms_type', ['rotate', 'circle'])
def test_head_decode_and_nms(record, model, nms_type):
    from mmdet3d.structures import LiDARInstance3DBoxes
    _, data, _ = record
    head = model['head']
    preds = _head_preds(model, data)
    head.test_cfg['nms_type'] = [nms_type, nms_type]
    try:
        (res,) = head.predict_by_feat(preds, [dict(box_type_3d=LiDARInstance3DBoxes)])
    finally:
        head.test_cfg['nms_type'] = ['rotate', 'rotate']
    assert len(res.scores_3d) == len(data[f'nms.{nms_type}.scores']) > 0
    assert _close(res.bboxes_3d.tensor, data[f'nms.{nms_type}.bboxes'], 1e-5)
    assert _close(res.scores_3d, data[f'nms.{nms_type}.scores'], 1e-6)
    assert torch.equal(res.labels_3d.long(), data[f'nms.{nms_type}.labels'].long())
    # the two NMS kinds keep different sets on this record, so each comparison can fail
    assert len(data['nms.rotate.scores']) != len(data['nms.circle.scores'])


def test_a_perturbed_weight_breaks_each_comparison(record):
    """One official tensor per piece scaled: the piece's comparison must fail."""
    _, data, weights = record
    for key, check in (
            ('vt.depth_net.depth_conv.3.conv1.weight', lambda m: _close(_lss(m, data)[2], data['depth'])),
            ('vt.depth_net.context_conv.weight', lambda m: _close(_lss(m, data)[1], data['bev'])),
            ('resnet.layers.2.0.downsample.weight',
             lambda m: _close(m['resnet'](data['bev'])[2], data['bev_levels_2'])),
            ('fpn.up2.4.weight', lambda m: _close(m['fpn'](m['resnet'](data['bev'])), data['bev_out'])),
            ('head.task_heads.1.heatmap.1.bias',
             lambda m: _close(_head_preds(m, data)[1][0]['heatmap'], data['head.1.heatmap']))):
        w = dict(weights)
        w[key] = w[key] * 1.5 + 0.1
        model = _build_ours()
        _load(model, w)
        with torch.no_grad():
            assert not check(model), key
