"""Oracle test of the detection chain on the synthetic val split.

Ground truth of every val sample goes through the same steps as a prediction: LiDAR -> key ego
(``BEVDetLidarBoxesToEgo``), the head's own training targets (``get_targets``), raised to dense head outputs
(every cell of an object's Gaussian regresses that object, scored by the Gaussian times a per-object
confidence, so duplicates interleave with other objects' peaks and only NMS removes them), the bbox coder,
Scale-NMS, key ego -> LiDAR (``ego_to_lidar_boxes``, as ``BEVDet.predict`` / ``FBBEV.predict``) and
``BEVDetNuScenesMetric`` (nuscenes-devkit). A correct chain scores mAP >= 0.95 and NDS >= 0.9 with small TP
errors; breaking the frame, the yaw convention, the box origin, the velocity or the NMS fails it.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from mmdet3d.structures import LiDARInstance3DBoxes
from mmengine.structures import InstanceData

from projects.BEVDet.bevdet.frames import ego_to_lidar_boxes, lidar_to_ego_boxes

REPO = Path(__file__).resolve().parents[3]
CAMS = ['CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT']


def _head_cfg(config: str) -> tuple[dict, list[str]]:
    from mmengine.config import Config
    cfg = Config.fromfile(str(REPO / config))
    return copy.deepcopy(cfg.model.pts_bbox_head), list(cfg.class_names)


@pytest.fixture(scope='module')
def val_set(synthetic_world, synthetic_nuscenes_infos):
    from mmdet3d.datasets import NuScenesDataset
    from mmengine.registry import init_default_scope

    import projects.BEVDet.bevdet  # noqa: F401  (registration)
    import projects.FBBEV.fbbev  # noqa: F401
    init_default_scope('mmdet3d')
    _, classes = _head_cfg('configs/bevdet_r50.py')
    prefix = dict(pts='samples/LIDAR_TOP', sweeps='sweeps/LIDAR_TOP', **{c: f'samples/{c}' for c in CAMS})
    dataset = NuScenesDataset(data_root=str(synthetic_world.nuscenes), ann_file=str(synthetic_nuscenes_infos['val']),
                              data_prefix=prefix, metainfo=dict(classes=classes), pipeline=[], test_mode=True,
                              modality=dict(use_lidar=True, use_camera=True))
    samples = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        ann = dataset.parse_ann_info(info)
        keep = np.asarray(ann['gt_labels_3d']) >= 0
        samples.append(dict(sample_idx=i, token=info['token'], lidar2ego=np.asarray(info['lidar_points']['lidar2ego']),
                            boxes=ann['gt_bboxes_3d'][torch.as_tensor(keep)],
                            labels=torch.as_tensor(np.asarray(ann['gt_labels_3d'])[keep])))
    return dataset, samples, classes


def oracle_head_outputs(head, ego_boxes: LiDARInstance3DBoxes, labels: torch.Tensor) -> tuple:
    """Dense head outputs whose decoding is the given boxes (see the module docstring).

    Args:
        head: A ``BEVDetCenterHead`` (one task, as BEVDet's configs).
        ego_boxes: (M, 9) key-ego boxes, bottom centre, with velocity.
        labels: (M,) class indices.

    Returns:
        ``preds_dicts`` as ``CenterHead.forward`` returns them: ``([{'reg', 'height', 'dim', 'rot', 'vel',
        'heatmap'}],)`` with (1, c, Y, X) maps (heatmap as logits).
    """
    gt = InstanceData(bboxes_3d=ego_boxes, labels_3d=labels.long())
    heatmaps, anno_boxes, inds, masks = head.get_targets([gt])
    heat, box, ind, mask = heatmaps[0][0], anno_boxes[0][0], inds[0][0], masks[0][0].bool()
    num_cls, ny, nx = heat.shape
    box, ind = box[mask].double(), ind[mask]
    cy, cx = (ind // nx).double() + box[:, 1], (ind % nx).double() + box[:, 0]  # object centres, cell units
    confidence = 0.35 + 0.6 * ((torch.arange(len(ind), dtype=torch.float64) * 0.618034) % 1.0)
    gy, gx = torch.meshgrid(torch.arange(ny, dtype=torch.float64), torch.arange(nx, dtype=torch.float64),
                            indexing='ij')
    owner = ((gx.reshape(-1, 1) - cx) ** 2 + (gy.reshape(-1, 1) - cy) ** 2).argmin(1).view(ny, nx)  # nearest centre
    maps = {}
    maps['reg'] = torch.stack([cx[owner] - gx, cy[owner] - gy])
    maps['height'] = box[owner][..., 2][None]
    maps['dim'] = box[owner][..., 3:6].permute(2, 0, 1)
    maps['rot'] = box[owner][..., 6:8].permute(2, 0, 1)
    maps['vel'] = box[owner][..., 8:10].permute(2, 0, 1)
    score = heat.double() * confidence[owner][None]
    maps['heatmap'] = torch.logit(score.clamp(1e-12, 1 - 1e-6))
    return ([{k: v[None].float() for k, v in maps.items()}],)


def run_oracle(config: str, val_set, tmp_path, *, frame: str = 'ego', flip_yaw: bool = False,
               gravity_origin: bool = False, drop_velocity: bool = False, nms: bool = True) -> dict:
    """The chain on every val sample; the keyword arguments break one link each.

    Returns:
        The devkit's metrics (``mAP``, ``NDS``, ``mATE``...) and ``boxes_per_gt``: predictions scoring >= 0.3
        per GT box.
    """
    from mmdet3d.registry import MODELS

    from projects.BEVDet.bevdet import BEVDetNuScenesMetric
    dataset, samples, classes = val_set
    head_cfg, _ = _head_cfg(config)
    if not nms:
        head_cfg['test_cfg']['nms_thr'] = 1.0
    head = MODELS.build(head_cfg)
    metric = BEVDetNuScenesMetric(data_root=dataset.data_root, ann_file=dataset.ann_file, metric='bbox',
                                  jsonfile_prefix=str(tmp_path / 'results'))
    metric.version = 'v1.0-mini'
    metric.dataset_meta = dict(dataset.metainfo, version='v1.0-mini')
    confident, num_gt = 0, 0
    for s in samples:
        gt = s['boxes'].clone()
        if drop_velocity:
            gt.tensor[:, 7:9] = 0
        ego = lidar_to_ego_boxes(gt, s['lidar2ego']) if frame == 'ego' else gt
        if flip_yaw:
            ego.tensor[:, 6] = -ego.tensor[:, 6]
        pred = head.predict_by_feat(oracle_head_outputs(head, ego, s['labels']),
                                    [dict(box_type_3d=LiDARInstance3DBoxes)])[0]
        if gravity_origin:  # report gravity centres where bottom centres are expected
            pred.bboxes_3d.tensor[:, 2] += pred.bboxes_3d.tensor[:, 5] / 2
        pred.bboxes_3d = ego_to_lidar_boxes(pred.bboxes_3d, s['lidar2ego'])
        confident += int((pred.scores_3d >= 0.3).sum())
        num_gt += len(s['labels'])
        metric.process({}, [dict(pred_instances_3d=pred.to_dict(), pred_instances={}, sample_idx=s['sample_idx'])])
    out = metric.compute_metrics(metric.results)
    # every GT box has confidence >= 0.35: more boxes than that above 0.3 are duplicates NMS let through
    return dict({k.split('/')[-1]: v for k, v in out.items()}, boxes_per_gt=confident / num_gt)


def _z_errors(config: str, val_set, gravity_origin: bool) -> np.ndarray:
    """|z| error (m) of each GT box's nearest prediction (xy), LiDAR frame."""
    from mmdet3d.registry import MODELS
    _, samples, _ = val_set
    head = MODELS.build(_head_cfg(config)[0])
    errs = []
    for s in samples:
        ego = lidar_to_ego_boxes(s['boxes'], s['lidar2ego'])
        pred = head.predict_by_feat(oracle_head_outputs(head, ego, s['labels']),
                                    [dict(box_type_3d=LiDARInstance3DBoxes)])[0]
        if gravity_origin:
            pred.bboxes_3d.tensor[:, 2] += pred.bboxes_3d.tensor[:, 5] / 2
        p = ego_to_lidar_boxes(pred.bboxes_3d, s['lidar2ego']).tensor.numpy()
        g = s['boxes'].tensor.numpy()
        nearest = np.linalg.norm(g[:, None, :2] - p[None, :, :2], axis=-1).argmin(1)
        errs.append(np.abs(p[nearest, 2] - g[:, 2]))
    return np.concatenate(errs)


def _passes(m: dict) -> bool:
    return (m['mAP'] >= 0.95 and m['NDS'] >= 0.9 and m['mATE'] < 0.1 and m['mASE'] < 0.05 and m['mAOE'] < 0.05
            and m['mAVE'] < 0.1 and m['boxes_per_gt'] < 1.1)


@pytest.mark.parametrize('config', ['configs/bevdet_r50.py', 'configs/fbbev_r50.py'])
def test_oracle_chain_scores_like_ground_truth(config, val_set, tmp_path):
    m = run_oracle(config, val_set, tmp_path)
    assert _passes(m), m
    assert np.quantile(_z_errors(config, val_set, gravity_origin=False), 0.95) < 0.05


@pytest.mark.parametrize('broken', ['frame', 'yaw', 'velocity', 'nms'])
def test_oracle_chain_fails_when_a_link_breaks(broken, val_set, tmp_path):
    kwargs = dict(frame=dict(frame='lidar'), yaw=dict(flip_yaw=True), velocity=dict(drop_velocity=True),
                  nms=dict(nms=False))[broken]
    assert not _passes(run_oracle('configs/bevdet_r50.py', val_set, tmp_path, **kwargs))


def test_oracle_box_origin_is_checked_in_3d(val_set):
    """nuScenes' centre distance ignores z: a gravity-vs-bottom centre mix-up is caught by the 3D check."""
    assert np.quantile(_z_errors('configs/bevdet_r50.py', val_set, gravity_origin=True), 0.95) > 0.3
