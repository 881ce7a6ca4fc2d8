"""KittiOdomPoseDataset on the synthetic world's odometry layout: pairs (i, i + 1) with the poses of both frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / 'configs/demo/depth_pose_kitti.py'


def test_dataset_pairs_with_ground_truth_score_zero(synthetic_world):
    """Samples are the pairs (i, i + 1) in order [0, 1] with T_world_cam0 of both frames; the metric fed the
    ground-truth relative poses of those pairs gives ATE 0, and the pair images are the sequence's frames."""
    from mmdet3d.registry import DATASETS, METRICS
    from mmengine.registry import init_default_scope

    import hybrid_depth  # noqa: F401
    from hybrid_depth.datasets.kitti_odom import read_kitti_poses
    init_default_scope('mmdet3d')
    from mmengine.config import Config
    cfg = Config.fromfile(str(CONFIG))
    cfg.test_dataloader.dataset.data_root = f'{synthetic_world.kitti_odom}/'
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    poses = read_kitti_poses(str(synthetic_world.kitti_odom / 'poses' / '09.txt'))
    assert len(dataset) == len(poses) - 1
    metric = METRICS.build(cfg.test_evaluator)
    for i in range(len(dataset)):
        item = dataset[i]
        sample = item['data_samples'].to_dict()
        assert item['inputs']['imgs'].shape == (2, 3, 64, 192) and sample['frame_ids'] == [0, 1]
        assert sample['sequence'] == '09' and sample['frame_index'] == i
        assert sample['img_path'].endswith(f'sequences/09/image_2/{i:06d}.png')
        np.testing.assert_array_equal(sample['gt_poses'], poses[i:i + 2])
        gt_rel = np.linalg.inv(sample['gt_poses'][1]) @ sample['gt_poses'][0]  # T_{i+1, i}
        metric.process({}, [{**sample, 'pred_pose': torch.from_numpy(gt_rel)}])
    out = metric.compute_metrics(metric.results)
    assert out['ate_mean'] == pytest.approx(0.0, abs=1e-9) and out['seq09_ate_mean'] == pytest.approx(0.0, abs=1e-9)


def test_missing_poses_and_short_poses_file_are_errors(synthetic_world, tmp_path):
    import shutil

    from hybrid_depth.datasets.file_readers import DataFileError
    from hybrid_depth.datasets.kitti_odom import KittiOdomPoseDataset
    root = tmp_path / 'odom'
    shutil.copytree(synthetic_world.kitti_odom, root)
    (root / 'poses' / '09.txt').write_text(''.join((root / 'poses' / '09.txt').read_text().splitlines(True)[:2]))
    with pytest.raises(DataFileError, match='has 2 frames'):
        KittiOdomPoseDataset(data_root=str(root))
    (root / 'poses' / '09.txt').unlink()
    with pytest.raises(FileNotFoundError, match='poses/09.txt'):
        KittiOdomPoseDataset(data_root=str(root))
