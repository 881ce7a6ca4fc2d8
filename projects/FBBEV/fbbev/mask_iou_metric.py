"""FRPN mask IoU: predicted vs. ground-truth BEV foreground masks, reported next to mAP / NDS.

Use it as a second evaluator entry: ``val_evaluator = [dict(type='NuScenesMetric', ...),
dict(type='FRPNMaskIoUMetric')]``. It reads ``pred_bev_mask`` and ``gt_bev_mask`` ((Y, X) bool tensors that
the ``FBBEV`` detector's ``predict`` attaches to each sample).
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet3d.registry import METRICS
from mmengine.evaluator import BaseMetric

__all__ = ['FRPNMaskIoUMetric', 'mask_intersection_union']


def mask_intersection_union(pred: torch.Tensor, gt: torch.Tensor) -> tuple[int, int]:
    """Args: pred, gt: (...) bool masks of one shape. Returns: ``(|pred & gt|, |pred | gt|)`` cell counts."""
    pred, gt = pred.bool(), gt.bool()
    return int((pred & gt).sum()), int((pred | gt).sum())


@METRICS.register_module()
class FRPNMaskIoUMetric(BaseMetric):
    """Dataset-level IoU ``sum |P & G| / sum |P | G|`` and the mean per-sample IoU (samples with a non-empty
    union) of the FRPN foreground masks.

    Args:
        prefix: Metric name prefix (``frpn``: keys ``frpn/mask_iou`` and ``frpn/mask_iou_per_sample``).
        collect_device: ``'cpu'`` or ``'gpu'`` for distributed collection.
    """

    default_prefix = 'frpn'

    def __init__(self, prefix: str | None = None, collect_device: str = 'cpu') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if 'pred_bev_mask' not in sample or 'gt_bev_mask' not in sample:
                raise KeyError('FRPNMaskIoUMetric needs pred_bev_mask and gt_bev_mask in the predictions '
                               '(FBBEV.predict with ground truth in eval_ann_info)')
            inter, union = mask_intersection_union(torch.as_tensor(sample['pred_bev_mask']),
                                                   torch.as_tensor(sample['gt_bev_mask']))
            self.results.append((inter, union))

    def compute_metrics(self, results: list) -> dict[str, float]:
        inter = sum(r[0] for r in results)
        union = sum(r[1] for r in results)
        per_sample = [i / u for i, u in results if u > 0]
        return dict(mask_iou=inter / union if union else 0.0,
                    mask_iou_per_sample=sum(per_sample) / len(per_sample) if per_sample else 0.0)
