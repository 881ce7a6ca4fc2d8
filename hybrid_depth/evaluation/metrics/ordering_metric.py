"""Pair-ordering accuracy of the coarse stage: does the model order the points of a group by depth?

The criterion is the one the rank loss trains: for points ``i < j`` of a group (ordered near to far), the
pair is ordered correctly when, on depth word ``j``, the farther point ``j`` scores higher than point ``i``
(``logits[j, j] > logits[i, j]``).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmdet3d.registry import METRICS
from mmengine.evaluator import BaseMetric

__all__ = ['DepthOrderingMetric', 'pair_ordering_counts']


def pair_ordering_counts(point_logits: np.ndarray, valid: np.ndarray) -> tuple[int, int]:
    """Correctly ordered pairs within each group.

    Args:
        point_logits: (G, P, K) score of point ``p`` on depth word ``k`` (P = K; points and words both ordered
            near to far).
        valid: (G, P) point validity.

    Returns:
        ``(correct, total)`` over valid pairs ``i < j`` of a group: correct when ``logits[j, j] > logits[i, j]``.
    """
    logits = np.asarray(point_logits, dtype=np.float64)
    v = np.asarray(valid, dtype=bool)
    p = logits.shape[1]
    if logits.shape[2] != p:
        raise ValueError(f'pair ordering needs as many depth words as points, got logits {logits.shape}')
    diag = np.diagonal(logits, axis1=1, axis2=2)  # (G, P): s[j, j]
    later = np.triu(np.ones((p, p), bool), k=1)  # [i, j] for i < j
    pairs = later[None] & v[:, :, None] & v[:, None, :]
    correct = pairs & (diag[:, None, :] > logits)  # s[j, j] > s[i, j]
    return int(correct.sum()), int(pairs.sum())


@METRICS.register_module()
class DepthOrderingMetric(BaseMetric):
    """Fraction of correctly ordered point pairs (``pair_acc``) and of groups ordered perfectly (``group_acc``).

    Reads ``point_logits`` (G, P, K) and ``points_valid`` (G, P) from ``HybridCoarseDepthEstimator.predict``.
    """

    default_prefix = 'ordering'

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            logits = np.asarray(sample['point_logits'])
            valid = np.asarray(sample['points_valid'])
            correct, total = pair_ordering_counts(logits, valid)
            groups = [pair_ordering_counts(logits[g:g + 1], valid[g:g + 1]) for g in range(len(logits))]
            groups = [c == t for c, t in groups if t > 0]
            self.results.append((correct, total, sum(groups), len(groups)))

    def compute_metrics(self, results: list) -> dict[str, float]:
        correct, total, good, n = (sum(r[i] for r in results) for i in range(4))
        if total == 0:
            raise ValueError('DepthOrderingMetric: no valid point pair was evaluated')
        return {'pair_acc': correct / total, 'group_acc': good / max(n, 1)}
