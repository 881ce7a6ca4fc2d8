"""FB-BEV detector: build from configs/fbbev_r50.py (shrunk like the demo) and run loss / predict on CPU with the
real data pipeline on the synthetic nuScenes; temporal fusion with the adjacent keyframe."""
from __future__ import annotations

import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

init_default_scope('mmdet3d')

from mmdet3d.registry import DATASETS, METRICS, MODELS  # noqa: E402

import hybrid_depth  # noqa: E402,F401  (registration)
import projects.BEVDet.bevdet  # noqa: E402,F401
import projects.FBBEV.fbbev  # noqa: E402,F401
from projects.FBBEV.fbbev.adjacent_frame import previous_indices  # noqa: E402
from projects.FBBEV.fbbev.bev_box_mask import gt_bev_masks  # noqa: E402

INPUT = (64, 176)
GRID = dict(x=(-51.2, 51.2, 3.2), y=(-51.2, 51.2, 3.2), z=(-5.0, 3.0, 8.0), depth=(1.0, 60.0, 1.0))
VOXEL = [0.4, 0.4, 0.2]  # x out_size_factor 8 = 3.2 m cells


def _config(root, infos) -> Config:
    """configs/fbbev_r50.py shrunk (ResNet-18 from scratch, small input and BEV), without the CBGS wrapper."""
    cfg = Config.fromfile('configs/fbbev_r50.py')
    cfg.train_dataloader.dataset = cfg.train_dataloader.dataset.dataset
    shrink = {
        'model.img_backbone.depth': 18, 'model.img_backbone.init_cfg': None, 'model.img_neck.in_channels': [256, 512],
        'model.img_neck.out_channels': 32,
        'model.img_view_transformer.grid_config': GRID, 'model.img_view_transformer.input_size': INPUT,
        'model.img_view_transformer.out_channels': 16, 'model.img_view_transformer.depth_net.in_channels': 32,
        'model.img_view_transformer.depth_net.mid_channels': 32, 'model.backward_projection.num_heads': 2,
        'model.backward_projection.num_points': 4,
        'model.backward_projection.ffn_channels': 32, 'model.img_bev_encoder_backbone.in_channels': 16,
        'model.img_bev_encoder_backbone.num_channels': (16, 32, 64), 'model.img_bev_encoder_neck.in_channels': 80,
        'model.img_bev_encoder_neck.out_channels': 32, 'model.pts_bbox_head.in_channels': 32,
        'model.pts_bbox_head.share_conv_channel': 16, 'model.pts_bbox_head.bbox_coder.voxel_size': VOXEL[:2],
        'model.pts_bbox_head.train_cfg.voxel_size': VOXEL, 'model.pts_bbox_head.train_cfg.grid_size': [256, 256, 40],
    }
    for split, key in (('train', 'train_dataloader'), ('val', 'val_dataloader')):
        shrink[f'{key}.dataset.data_root'] = str(root) + '/'
        shrink[f'{key}.dataset.ann_file'] = str(infos[split])
        shrink[f'{key}.dataset.pipeline.0.final_size'] = INPUT
    cfg.merge_from_dict(shrink, allow_list_keys=True)
    return cfg


def _batch(dataset, indices):
    return pseudo_collate([dataset[i] for i in indices])


@pytest.fixture(scope='module')
def cfg(synthetic_world, synthetic_nuscenes_infos):
    return _config(synthetic_world.nuscenes, synthetic_nuscenes_infos)


def test_build_loss_backward_predict(cfg):
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert type(model).__name__ == 'FBBEV' and model.backward_projection.bev_size == (32, 32)
    train_set = DATASETS.build(cfg.train_dataloader.dataset)
    data = model.data_preprocessor(_batch(train_set, [0, 1]), training=True)
    assert data['inputs']['imgs'].shape[-2:] == INPUT
    losses = model.loss(data['inputs'], data['data_samples'])
    for key in ('loss_frpn_bce', 'loss_frpn_dice', 'loss_depth', 'task0.loss_heatmap'):
        assert key in losses and torch.isfinite(losses[key]), key
    gt_mask = gt_bev_masks(data['data_samples'], model.img_view_transformer.grid_config, torch.device('cpu'))
    assert gt_mask.shape == (2, 32, 32) and gt_mask.any()  # the synthetic scenes have cars in range
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    bp = model.backward_projection
    context_conv = model.img_view_transformer.depth_net.context_conv.weight
    for p in (bp.sampling_offsets.weight, bp.value_proj.weight, bp.self_attn.sampling_offsets.weight,
              model.frpn.mask_net[0].weight, context_conv):
        assert p.grad is not None and p.grad.abs().sum() > 0

    model.eval()
    val_set = DATASETS.build(cfg.val_dataloader.dataset)
    data = model.data_preprocessor(_batch(val_set, [0]), training=False)
    with torch.no_grad():
        (sample,) = model.predict(data['inputs'], data['data_samples'])
    boxes = sample.pred_instances_3d.bboxes_3d
    assert type(boxes).__name__ == 'LiDARInstance3DBoxes' and boxes.tensor.shape[1] == 9
    assert sample.pred_bev_mask.shape == (32, 32) and sample.pred_bev_mask.dtype == torch.bool
    with torch.no_grad():  # the reported mask is the FRPN's at upstream's evaluation threshold, 0.5
        logits = model.extract_feat(data['inputs'], data['data_samples'])['mask_logits'][0]
    assert torch.equal(sample.pred_bev_mask, logits.sigmoid() > 0.5)
    assert sample.gt_bev_mask.shape == (32, 32) and sample.gt_bev_mask.any()  # from eval_ann_info, ego frame
    metric = METRICS.build(dict(type='FRPNMaskIoUMetric'))
    metric.process({}, [sample.to_dict()])
    iou = metric.compute_metrics(metric.results)['mask_iou']
    assert 0.0 <= iou <= 1.0


def test_fbbev_is_bevdets_template_with_its_hooks():
    """FB-BEV overrides BEVDet's frame hook and extends its loss / predict hooks; the entry points are BEVDet's."""
    from projects.BEVDet.bevdet import BEVDet
    from projects.FBBEV.fbbev import FBBEV
    assert {'image_to_bev', 'loss_by_feat', 'predict_by_feat'} <= set(vars(FBBEV))
    assert not {'extract_feat', 'loss', 'predict', '_forward'} & set(vars(FBBEV))
    assert all(name in vars(BEVDet) for name in ('extract_feat', 'loss', 'predict', '_forward', 'image_to_bev'))


def test_previous_indices():
    stamps = torch.tensor([10.0, 0.5, 0.0, 1.0, 10.5, 30.0]).numpy()
    assert previous_indices(stamps, 0.75).tolist() == [0, 2, 2, 1, 0, 5]


def test_temporal_fusion_with_the_adjacent_keyframe(cfg):
    cfg = copy.deepcopy(cfg)
    cfg.model.num_adjacent = 1
    cfg.model.img_bev_encoder_backbone.in_channels = 32  # current + aligned previous BEV
    dataset = cfg.train_dataloader.dataset
    dataset.type = 'FBBEVNuScenesDataset'
    loader = dict(dataset.pipeline[0], is_train=False)
    dataset.pipeline.insert(3, dict(type='FBBEVLoadAdjacentFrame', loader=loader))  # after the depth targets
    dataset.pipeline[-1].meta_keys = tuple(dataset.pipeline[-1].meta_keys) + ('curr2adj',)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    train_set = DATASETS.build(dataset)
    batch = _batch(train_set, [0, 1])
    curr2adj = [s.metainfo['curr2adj'] for s in batch['data_samples']]
    moved = [abs(c[0, :3, 3]).sum() > 0.5 for c in curr2adj]  # the synthetic ego drives: one of two is moving
    assert any(moved)
    for sample in batch['data_samples']:  # the adjacent cameras get the key frame's (random) image augmentation
        post_rots, post_trans = sample.metainfo['post_rots'], sample.metainfo['post_trans']
        assert (post_rots[:6] == post_rots[6:]).all() and (post_trans[:6] == post_trans[6:]).all()
        assert not (post_rots[:6, 0, 0] == post_rots[0, 0, 0]).all()  # different per camera: really sampled
    data = model.data_preprocessor(batch, training=True)
    assert data['inputs']['imgs'].shape[1] == 12  # 6 current + 6 adjacent cameras
    losses = model.loss(data['inputs'], data['data_samples'])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    assert model.backward_projection.sampling_offsets.weight.grad.abs().sum() > 0


def test_fbbev_nuscenes_metric_reports_map_nds_and_mask_iou(cfg, tmp_path):
    """Every val sample through predict and FBBEVNuScenesMetric (nuscenes-devkit DetectionEval)."""
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    val_set = DATASETS.build(cfg.val_dataloader.dataset)
    evaluator = dict(cfg.val_evaluator, data_root=cfg.val_dataloader.dataset.data_root,
                     ann_file=cfg.val_dataloader.dataset.ann_file, jsonfile_prefix=str(tmp_path / 'results'))
    metric = METRICS.build(evaluator)
    metric.dataset_meta = dict(val_set.metainfo, version='v1.0-mini')
    for i in range(len(val_set)):
        data = model.data_preprocessor(_batch(val_set, [i]), training=False)
        with torch.no_grad():
            samples = model.predict(data['inputs'], data['data_samples'])
        metric.process({}, [s.to_dict() for s in samples])
    results = metric.compute_metrics(metric.results)
    keys = {k.split('/')[-1] for k in results}
    assert {'mAP', 'NDS', 'frpn_mask_iou', 'frpn_mask_iou_per_sample'} <= keys, sorted(keys)
    assert 0.0 <= results['frpn_mask_iou'] <= 1.0


def test_hybrid_demo_config_loss_and_predict(synthetic_world, synthetic_nuscenes_infos):
    """configs/demo/fbbev_hybrid_demo.py (tiny Hybrid-depth encoder and depth branch, 256x704 input, stride 14)."""
    cfg = Config.fromfile('configs/demo/fbbev_hybrid_demo.py')
    root = str(synthetic_world.nuscenes) + '/'
    cfg.merge_from_dict({'train_dataloader.dataset.data_root': root, 'val_dataloader.dataset.data_root': root,
                         'train_dataloader.dataset.ann_file': str(synthetic_nuscenes_infos['train']),
                         'val_dataloader.dataset.ann_file': str(synthetic_nuscenes_infos['val'])})
    import hybrid_depth.models.backbones  # noqa: F401
    import hybrid_depth.models.depth_branch  # noqa: F401
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert model.backward_projection.feature_stride == 14 and model.backward_projection.bev_size == (64, 64)
    assert model.img_view_transformer.input_size == (128, 352)
    data = model.data_preprocessor(_batch(DATASETS.build(cfg.train_dataloader.dataset), [0]), training=True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert {'loss_frpn_bce', 'loss_frpn_dice', 'loss_depth'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.backward_projection.value_proj.weight.grad.abs().sum() > 0
    model.eval()
    data = model.data_preprocessor(_batch(DATASETS.build(cfg.val_dataloader.dataset), [0]), training=False)
    with torch.no_grad():
        (sample,) = model.predict(data['inputs'], data['data_samples'])
    assert sample.pred_bev_mask.shape == sample.gt_bev_mask.shape == (64, 64)


def test_r50_demo_config_builds_with_the_demo_grid():
    cfg = Config.fromfile('configs/demo/fbbev_r50_demo.py')
    model = MODELS.build(cfg.model)
    assert model.backward_projection.bev_size == (64, 64) and model.backward_projection.embed_dims == 32
    assert model.img_view_transformer.num_depth == 30 and cfg.val_evaluator.type == 'FBBEVNuScenesMetric'


@pytest.mark.slow
def test_full_size_hybrid_config_one_training_iteration(synthetic_world, synthetic_nuscenes_infos):
    """configs/fbbev_hybrid.py at full size (RN50 + ViT-B/14 hybrid encoder, 256x704, 128x128 BEV) with random
    weights (no CLIP / DINOv2 files here): one optimiser step on one synthetic sample."""
    cfg = Config.fromfile('configs/fbbev_hybrid.py')
    root = str(synthetic_world.nuscenes) + '/'
    cfg.merge_from_dict({
        'model.img_backbone.encoder.clip_pretrained': None, 'model.img_backbone.encoder.dino_pretrained': None,
        'model.img_view_transformer.depth_net.prompt_bank.clip_pretrained': None,
        'train_dataloader.dataset.dataset.data_root': root,
        'train_dataloader.dataset.dataset.ann_file': str(synthetic_nuscenes_infos['train'])})
    import hybrid_depth.models.backbones  # noqa: F401
    import hybrid_depth.models.depth_branch  # noqa: F401
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert model.backward_projection.bev_size == (128, 128) and model.backward_projection.feature_stride == 14
    data = model.data_preprocessor(_batch(DATASETS.build(cfg.train_dataloader.dataset.dataset), [0]), training=True)
    assert data['inputs']['imgs'].shape[-2:] == (256, 704)
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    losses = model.loss(data['inputs'], data['data_samples'])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    before = model.backward_projection.sampling_offsets.weight.detach().clone()
    optim.step()
    assert not torch.equal(before, model.backward_projection.sampling_offsets.weight)


@pytest.mark.slow
def test_full_size_r50_config_one_training_iteration(synthetic_world, synthetic_nuscenes_infos):
    """configs/fbbev_r50.py at full size (ResNet-50 from scratch, 512-ch neck, BEVDepth depth net, D=118, 80 ch,
    256x704, 128x128 BEV, every cell through the backward projection): one optimiser step on one sample."""
    cfg = Config.fromfile('configs/fbbev_r50.py')
    dataset = dict(cfg.train_dataloader.dataset.dataset, data_root=str(synthetic_world.nuscenes) + '/',
                   ann_file=str(synthetic_nuscenes_infos['train']))
    cfg.model.img_backbone.init_cfg = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.img_view_transformer.num_depth == 118 and model.backward_projection.embed_dims == 80
    data = model.data_preprocessor(_batch(DATASETS.build(dataset), [0]), training=True)
    assert data['inputs']['imgs'].shape[-2:] == (256, 704)
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    losses = model.loss(data['inputs'], data['data_samples'])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total) and 'loss_depth' in losses
    total.backward()
    before = model.backward_projection.self_attn.sampling_offsets.weight.detach().clone()
    optim.step()
    assert not torch.equal(before, model.backward_projection.self_attn.sampling_offsets.weight)
