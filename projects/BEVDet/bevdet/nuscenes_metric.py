"""``NuScenesMetric`` that also scores a prediction set with no box at all.

nuscenes-devkit cannot load a result file whose samples are all empty: ``filter_eval_boxes`` looks for the
class field of the first box and raises ``Invalid box type: None``. A detector early in training (or one that
emits non-finite scores, which the box coder filters out) can produce exactly that, and the whole test run
then dies after inference. :class:`BEVDetNuScenesMetric` evaluates such a set with the devkit's own metric
code instead: every class and distance threshold gets ``DetectionMetricData.no_predictions()``, and
``calc_ap`` / ``calc_tp`` / ``DetectionMetrics`` turn them into the summary the devkit would write (AP 0, TP
errors 1, the devkit's NaN rules for cones and barriers, mAP 0, NDS 0). Non-empty results go to the devkit
unchanged.
"""
from __future__ import annotations

import os.path as osp

import mmengine
import numpy as np
from mmdet3d.evaluation.metrics import NuScenesMetric
from mmdet3d.registry import METRICS
from mmengine.logging import MMLogger, print_log

__all__ = ['BEVDetNuScenesMetric', 'empty_prediction_summary', 'count_result_boxes']


def count_result_boxes(result_path: str) -> int:
    """Number of boxes in a nuScenes detection result file (``{'results': {token: [box, ...]}}``)."""
    results = mmengine.load(result_path)
    if 'results' not in results:
        raise KeyError(f'{result_path}: no "results" field (not a nuScenes detection result file)')
    return sum(len(boxes) for boxes in results['results'].values())


def empty_prediction_summary(eval_config) -> dict:
    """The devkit's ``metrics_summary.json`` content for a prediction set without boxes.

    Args:
        eval_config: ``nuscenes.eval.detection.data_classes.DetectionConfig``.

    Returns:
        ``DetectionMetrics.serialize()`` with every class scored from ``DetectionMetricData.no_predictions()``.
    """
    from nuscenes.eval.detection.algo import calc_ap, calc_tp
    from nuscenes.eval.detection.constants import TP_METRICS
    from nuscenes.eval.detection.data_classes import DetectionMetricData, DetectionMetrics

    metrics = DetectionMetrics(eval_config)
    empty = DetectionMetricData.no_predictions()
    for class_name in eval_config.class_names:
        for dist_th in eval_config.dist_ths:
            metrics.add_label_ap(class_name, dist_th, calc_ap(empty, eval_config.min_recall,
                                                              eval_config.min_precision))
        for metric_name in TP_METRICS:
            # the same exclusions as nuscenes.eval.detection.evaluate.DetectionEval.evaluate
            if class_name == 'traffic_cone' and metric_name in ('attr_err', 'vel_err', 'orient_err'):
                tp = np.nan
            elif class_name == 'barrier' and metric_name in ('attr_err', 'vel_err'):
                tp = np.nan
            else:
                tp = calc_tp(empty, eval_config.min_recall, metric_name)
            metrics.add_label_tp(class_name, metric_name, tp)
    metrics.add_runtime(0.0)
    return metrics.serialize()


@METRICS.register_module()
class BEVDetNuScenesMetric(NuScenesMetric):
    """mmdet3d's ``NuScenesMetric`` (same arguments, same keys), safe for a result set without boxes."""

    def _evaluate_single(self, result_path: str, classes: list[str] | None = None,
                         result_name: str = 'pred_instances_3d') -> dict[str, float]:
        if count_result_boxes(result_path) > 0:
            return super()._evaluate_single(result_path, classes=classes, result_name=result_name)
        print_log(f'{result_path}: the model predicted no box in any sample; scoring it as the devkit scores '
                  'classes without predictions (AP 0, TP errors 1)', logger=MMLogger.get_current_instance(),
                  level=30)
        summary = empty_prediction_summary(self.eval_detection_configs)
        mmengine.dump(summary, osp.join(osp.dirname(result_path), 'metrics_summary.json'))
        prefix = f'{result_name}_NuScenes'
        detail: dict[str, float] = {}
        for name in classes:
            for k, v in summary['label_aps'][name].items():
                detail[f'{prefix}/{name}_AP_dist_{k}'] = float(f'{v:.4f}')
            for k, v in summary['label_tp_errors'][name].items():
                detail[f'{prefix}/{name}_{k}'] = float(f'{v:.4f}')
        for k, v in summary['tp_errors'].items():
            detail[f'{prefix}/{self.ErrNameMapping[k]}'] = float(f'{v:.4f}')
        detail[f'{prefix}/NDS'] = summary['nd_score']
        detail[f'{prefix}/mAP'] = summary['mean_ap']
        return detail
