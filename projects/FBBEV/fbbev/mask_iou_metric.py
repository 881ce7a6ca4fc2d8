"""FRPN mask IoU: predicted vs. ground-truth BEV foreground masks, reported next to mAP / NDS.

Both metrics read ``pred_bev_mask`` and ``gt_bev_mask`` ((Y, X) bool tensors that the ``FBBEV`` detector's
``predict`` attaches to each sample):

- ``FBBEVNuScenesMetric``: ``NuScenesMetric`` plus ``frpn_mask_iou`` / ``frpn_mask_iou_per_sample`` (a drop-in
  ``type`` swap: the base config's ``data_root`` / ``ann_file`` and their ``--cfg-options`` stay valid);
- ``FRPNMaskIoUMetric``: the mask IoU alone, e.g. as a second evaluator entry.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet3d.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from projects.BEVDet.bevdet import BEVDetNuScenesMetric

__all__ = ['FBBEVNuScenesMetric', 'FRPNMaskIoUMetric', 'mask_intersection_union', 'mask_iou_summary']


def mask_intersection_union(pred: torch.Tensor, gt: torch.Tensor) -> tuple[int, int]:
    """Args: pred, gt: (...) bool masks of one shape. Returns: ``(|pred & gt|, |pred | gt|)`` cell counts."""
    pred, gt = pred.bool(), gt.bool()
    return int((pred & gt).sum()), int((pred | gt).sum())


def _sample_counts(sample: dict) -> tuple[int, int]:
    if 'pred_bev_mask' not in sample or 'gt_bev_mask' not in sample:
        raise KeyError('the FRPN mask IoU needs pred_bev_mask and gt_bev_mask in the predictions '
                       '(FBBEV.predict with an FRPN and ground truth in eval_ann_info)')
    return mask_intersection_union(torch.as_tensor(sample['pred_bev_mask']), torch.as_tensor(sample['gt_bev_mask']))


def mask_iou_summary(counts: Sequence[tuple[int, int]]) -> dict[str, float]:
    """Args: counts: per-sample ``(intersection, union)``. Returns: ``mask_iou`` (dataset level, summed counts)
    and ``mask_iou_per_sample`` (mean over samples with a non-empty union)."""
    inter = sum(c[0] for c in counts)
    union = sum(c[1] for c in counts)
    per_sample = [i / u for i, u in counts if u > 0]
    return dict(mask_iou=inter / union if union else 0.0,
                mask_iou_per_sample=sum(per_sample) / len(per_sample) if per_sample else 0.0)


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
        self.results.extend(_sample_counts(sample) for sample in data_samples)

    def compute_metrics(self, results: list) -> dict[str, float]:
        return mask_iou_summary(results)


@METRICS.register_module()
class FBBEVNuScenesMetric(BEVDetNuScenesMetric):
    """``NuScenesMetric`` (mAP, NDS, TP errors from nuscenes-devkit) plus the FRPN mask IoU.

    Arguments: as ``NuScenesMetric``. Adds ``frpn_mask_iou`` and ``frpn_mask_iou_per_sample`` (see
    :class:`FRPNMaskIoUMetric`) to the returned metrics.
    """

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        counts = [_sample_counts(sample) for sample in data_samples]
        super().process(data_batch, data_samples)
        for result, count in zip(self.results[-len(data_samples):], counts):
            result['bev_mask_counts'] = count

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        metrics = super().compute_metrics(results)
        summary = mask_iou_summary([r['bev_mask_counts'] for r in results])
        MMLogger.get_current_instance().info(f"FRPN mask IoU: {summary['mask_iou']:.4f} "
                                             f"(mean per sample {summary['mask_iou_per_sample']:.4f})")
        for key, value in summary.items():
            metrics[f'frpn_{key}'] = value
        return metrics
