"""The four detector demos are their real configs with only the documented shrinkings (configs/demo/_base_/).

Each built demo config is compared with its built real config leaf by leaf; every difference must be one of
SHRUNK (the model's widths, grid, input size and image branch; data root and version, loader sizes, no CBGS;
schedule, hooks, seed), and the pipelines must be the real ones but for the input size and the depth bins.
"""
from __future__ import annotations

from fnmatch import fnmatch
from pathlib import Path

import pytest
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
DEMOS = {'bevdet_r50_demo': 'bevdet_r50', 'bevdet_hybrid_demo': 'bevdet_hybrid', 'fbbev_r50_demo': 'fbbev_r50',
         'fbbev_hybrid_demo': 'fbbev_hybrid'}
SHRUNK = [
    # model: image branch (ResNet-18 / tiny hybrid), 128x352 input, 1.6 m cells, 2 m depth bins, narrow BEV side
    'model.img_backbone.*', 'model.img_neck.*', 'model.img_view_transformer.grid_config.[xy]',
    'model.img_view_transformer.grid_config.depth', 'model.img_view_transformer.input_size',
    'model.img_view_transformer.out_channels', 'model.img_view_transformer.depth_net.*',
    'model.img_bev_encoder_backbone.in_channels', 'model.img_bev_encoder_backbone.num_channels',
    'model.img_bev_encoder_neck.*_channels', 'model.pts_bbox_head.in_channels',
    'model.pts_bbox_head.share_conv_channel', 'model.pts_bbox_head.bbox_coder.voxel_size',
    'model.pts_bbox_head.bbox_coder.max_num', 'model.pts_bbox_head.train_cfg.grid_size',
    'model.pts_bbox_head.train_cfg.voxel_size', 'model.pts_bbox_head.test_cfg.p*_max_size',
    'model.backward_projection.num_heads', 'model.backward_projection.num_points',
    'model.backward_projection.ffn_channels',
    # data: the synthetic v1.0-mini world, batch 2, fewer workers, no CBGS (its own pipelines: compared below)
    'data_root', 'input_size', 'metainfo.version', '*_dataloader.dataset.data_root',
    '*_dataloader.dataset.metainfo.version', '*_dataloader.dataset.pipeline', '*_pipeline',
    'train_dataloader.batch_size', '*_dataloader.num_workers', '*_evaluator.data_root', '*_evaluator.ann_file',
    # schedule and hooks: 2 epochs, larger learning rate, no EMA, validation before training, seed 0
    'optim_wrapper.optimizer.lr', 'optim_wrapper.optimizer.weight_decay', 'param_scheduler', 'train_cfg.*',
    'custom_hooks', 'default_hooks.logger.interval', 'default_hooks.checkpoint.*', 'randomness.seed',
    # the demo base's own names
    'tiny_*', 'shrink',
]


def _flat(x, prefix=''):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _flat(v, f'{prefix}.{k}' if prefix else str(k))
    else:
        yield prefix, x


def _built(path: str) -> dict:
    cfg = Config.fromfile(str(ROOT / 'configs' / path)).to_dict()
    loader = cfg['train_dataloader']
    if loader['dataset']['type'] == 'CBGSDataset':  # the demos train without CBGS resampling
        loader['dataset'] = loader['dataset']['dataset']
    return cfg


@pytest.mark.parametrize('demo, real', sorted(DEMOS.items()))
def test_demo_is_the_real_config_but_for_the_documented_shrinkings(demo, real):
    small, full = _built(f'demo/{demo}.py'), _built(f'{real}.py')
    a, b = dict(_flat(full)), dict(_flat(small))
    changed = {k for k in a.keys() | b.keys() if a.get(k, '<absent>') != b.get(k, '<absent>')}
    undocumented = sorted(k for k in changed if not any(fnmatch(k, p) for p in SHRUNK))
    assert not undocumented, undocumented
    vt = small['model']['img_view_transformer']
    assert tuple(vt['input_size']) == (128, 352) and tuple(vt['grid_config']['depth']) == (1.0, 60.0, 2.0)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for tf, ts in zip(full[loader]['dataset']['pipeline'], small[loader]['dataset']['pipeline'], strict=True):
            shrunk = {k for k in tf.keys() | ts.keys() if tf.get(k) != ts.get(k)}
            assert shrunk <= {'final_size', 'depth_range'}, (loader, tf['type'], shrunk)
            if 'final_size' in shrunk:
                assert tuple(ts['final_size']) == tuple(vt['input_size'])


@pytest.mark.parametrize('path', [*(f'{r}.py' for r in DEMOS.values()), *(f'demo/{d}.py' for d in DEMOS)])
def test_one_image_size_and_depth_range(path):
    """The view transformer's input size is the pipelines' final size; LiDAR depth targets over the depth bins."""
    cfg = Config.fromfile(str(ROOT / 'configs' / path))
    vt = cfg.model.img_view_transformer
    for loader in ('train_dataloader', 'val_dataloader'):
        dataset = cfg[loader].dataset
        for t in (dataset.get('dataset') or dataset).pipeline:
            if t.type == 'BEVDetLoadMultiViewImages':
                assert tuple(t.final_size) == tuple(vt.input_size) == tuple(cfg.input_size)
            if t.type == 'BEVDetMultiViewDepthTargets':
                d_min, d_max, step = vt.grid_config['depth']
                assert tuple(t.depth_range) == (d_min, d_max)
    assert 'depth_bound' not in vt.depth_net  # handed over by the view transformer


def test_demo_tiny_parts_are_the_model_library_ones():
    """configs/demo/_base_/tiny_hybrid.py and its Python twins (tests, the backbone's preset='tiny') agree."""
    from hybrid_depth.models import TINY_CLIP_CFG, TINY_ENCODER_KWARGS
    tiny = Config.fromfile(str(ROOT / 'configs/demo/_base_/tiny_hybrid.py'))
    assert tiny.tiny_clip.to_dict() == TINY_CLIP_CFG
    encoder = tiny.tiny_encoder.to_dict()
    assert dict(encoder, dino_indices=tuple(encoder['dino_indices'])) == TINY_ENCODER_KWARGS
