"""Pose evaluation end to end: ``tools/test.py configs/demo/depth_pose_kitti.py CKPT --task pose`` on the synthetic
world's odometry sequence 09 (random-init demo model) prints the snippet ATE; the dataset feeds the metric the pairs
and poses that make the ground truth score 0."""
from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/demo/depth_pose_kitti.py'


def _config(odom_root: Path):
    from mmengine.config import Config
    cfg = Config.fromfile(str(CONFIG))
    cfg.test_dataloader.dataset.data_root = f'{odom_root}/'
    return cfg


def test_dataset_pairs_with_ground_truth_score_zero(synthetic_world):
    """Samples are the pairs (i, i + 1) in order [0, 1] with T_world_cam0 of both frames; the metric fed the
    ground-truth relative poses of those pairs gives ATE 0, and the pair images are the sequence's frames."""
    from mmdet3d.registry import DATASETS, METRICS
    from mmengine.registry import init_default_scope

    import hybrid_depth  # noqa: F401
    from hybrid_depth.datasets.kitti_odom import read_kitti_poses
    init_default_scope('mmdet3d')
    cfg = _config(synthetic_world.kitti_odom)
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


def _tool_main(argv: list[str], capsys) -> tuple[int, str]:
    from mmengine.logging import MMLogger
    for logger in MMLogger._instance_dict.values():  # handlers of earlier runners hold earlier tests' streams
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, 'closed', False):
                handler.stream = sys.stdout
    spec = importlib.util.spec_from_file_location('_tool_test_pose', ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capsys.readouterr()
    code = module.main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_tools_test_task_pose_prints_ate(synthetic_world, tmp_path, capsys):
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import hybrid_depth  # noqa: F401
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    ckpt = tmp_path / 'fine.pth'
    torch.save({'state_dict': MODELS.build(Config.fromfile(str(CONFIG)).model).state_dict(), 'meta': {}}, ckpt)
    opts = ['--cfg-options', f'test_dataloader.dataset.data_root={synthetic_world.kitti_odom}/']
    code, text = _tool_main([str(CONFIG), str(ckpt), '--task', 'pose', '--work-dir', str(tmp_path / 'w'), *opts],
                            capsys)
    assert code == 0, text[-2000:]
    assert 'sequence 09: 4 frames, 3 snippets of 5 | Trajectory error:' in text
    assert 'kitti_odom/ate_mean:' in text and 'kitti_odom/ate_std:' in text
    # the PoseNet is needed: a checkpoint without it is refused (a depth test would accept it)
    state = torch.load(ckpt, weights_only=True)['state_dict']
    torch.save({'state_dict': {k: v for k, v in state.items() if not k.startswith('pose_net.')}, 'meta': {}}, ckpt)
    code, text = _tool_main([str(CONFIG), str(ckpt), '--task', 'pose', '--work-dir', str(tmp_path / 'w'), *opts],
                            capsys)
    assert code != 0 and 'pose_net.' in text
    # --task pose on a depth config: one line saying what is wrong
    code, text = _tool_main([str(ROOT / 'configs/demo/depth_fine_kitti.py'), str(ckpt), '--task', 'pose'], capsys)
    assert code == 2 and 'eval_task="pose"' in text.strip().splitlines()[-1]
