"""KITTI odometry pose metric for ``tools/test.py`` (Monodepth2 ``evaluate_pose.py`` protocol).

Each prediction is one frame pair ``(i, i + 1)`` of a sequence; per sequence, the pairs are put in frame order
and :func:`~hybrid_depth.evaluation.pose_metrics.snippet_ates` gives the 5-frame snippet ATE with scale
alignment against the ground-truth poses the dataset attached to the pairs.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmdet3d.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..pose_metrics import snippet_ates

__all__ = ['KittiPoseMetric']


@METRICS.register_module()
class KittiPoseMetric(BaseMetric):
    """Snippet ATE per sequence over predictions carrying ``pred_pose``, ``sequence``, ``frame_index``, ``gt_poses``.

    Each prediction dict (``SelfSupervisedDepthEstimator.predict`` with ``eval_task='pose'`` on
    ``KittiOdomPoseDataset``) holds ``pred_pose`` (4, 4) ``T_{i+1, i}``, ``sequence`` (e.g. ``'09'``),
    ``frame_index`` i and ``gt_poses`` (2, 4, 4) ``T_world_cam`` of frames i and i + 1. A sequence's pairs must
    cover consecutive frames (the protocol chains them); a pair seen twice (padding of a distributed sampler)
    counts once.

    Args:
        track_length: Frames per snippet (Monodepth2: 5).
        collect_device: mmengine ``BaseMetric`` argument.
        prefix: Metric name prefix (``kitti_odom/ate_mean``, ...).

    Returns (``compute_metrics``): ``ate_mean`` / ``ate_std`` over the snippets of all sequences, and
    ``seqXX_ate_mean`` / ``seqXX_ate_std`` per sequence (metres, the ground truth's units).
    """

    default_prefix = 'kitti_odom'

    def __init__(self, track_length: int = 5, collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if track_length < 2:
            raise ValueError(f'track_length must be >= 2, got {track_length}')
        self.track_length = track_length

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            missing = [k for k in ('pred_pose', 'sequence', 'frame_index', 'gt_poses') if k not in sample]
            if missing:
                raise KeyError(f'pose prediction without {missing}: evaluate a model with eval_task="pose" on '
                               'KittiOdomPoseDataset (PackDepthInputs meta_keys with sequence, frame_index, gt_poses)')
            self.results.append({'sequence': str(sample['sequence']), 'frame_index': int(sample['frame_index']),
                                 'pred_pose': np.asarray(sample['pred_pose'], np.float64).reshape(4, 4),
                                 'gt_poses': np.asarray(sample['gt_poses'], np.float64).reshape(2, 4, 4)})

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        if not results:
            raise ValueError('KittiPoseMetric: no frame pair was evaluated')
        by_seq: dict[str, dict[int, dict]] = {}
        for r in results:
            by_seq.setdefault(r['sequence'], {})[r['frame_index']] = r
        metrics, lines, all_ates = {}, [], []
        for seq in sorted(by_seq):
            pairs = [by_seq[seq][i] for i in sorted(by_seq[seq])]
            frames = [p['frame_index'] for p in pairs]
            if frames != list(range(frames[0], frames[0] + len(frames))):
                gaps = sorted(set(range(frames[0], frames[-1] + 1)) - set(frames))
                raise ValueError(f'KittiPoseMetric: sequence {seq} misses the pairs of frames {gaps[:5]}: the snippet '
                                 'ATE chains consecutive pairs, evaluate the whole sequence')
            pred = np.stack([p['pred_pose'] for p in pairs])  # (N - 1, 4, 4)
            gt = np.concatenate([np.stack([p['gt_poses'][0] for p in pairs]), pairs[-1]['gt_poses'][1:]])  # (N, 4, 4)
            ates = snippet_ates(pred, gt, self.track_length)
            all_ates.append(ates)
            metrics[f'seq{seq}_ate_mean'] = float(ates.mean())
            metrics[f'seq{seq}_ate_std'] = float(ates.std())
            lines.append(f'sequence {seq}: {len(pairs) + 1} frames, {len(ates)} snippets of {self.track_length}'
                         f' | Trajectory error: {ates.mean():0.3f}, std: {ates.std():0.3f}')
        ates = np.concatenate(all_ates)
        print_log('\n' + '\n'.join([f'{type(self).__name__} (snippet ATE, scale-aligned, metres)', *lines]),
                  logger='current')
        return {'ate_mean': float(ates.mean()), 'ate_std': float(ates.std()), **metrics}
