"""``NuScenesMetric`` that also scores a prediction set with no box at all.

nuscenes-devkit cannot load a result file whose samples are all empty: ``filter_eval_boxes`` looks for the
class field of the first box and raises ``Invalid box type: None``. A detector early in training (or one that
emits non-finite scores, which the box coder filters out) can produce exactly that, and the whole test run
then dies after inference. :class:`BEVDetNuScenesMetric` evaluates such a set with the devkit's own metric
code instead: every class and distance threshold gets ``DetectionMetricData.no_predictions()``, and
``calc_ap`` / ``calc_tp`` / ``DetectionMetrics`` turn them into the summary the devkit would write (AP 0, TP
errors 1, the devkit's NaN rules for cones and barriers, mAP 0, NDS 0). Non-empty results go to the devkit
unchanged. With ``jsonfile_prefix`` set, ``results_nusc.json`` is written atomically (mmdet3d writes it in place).
"""
from __future__ import annotations

import json
import os
import os.path as osp
import tempfile
from collections.abc import Callable

import mmengine
import numpy as np
from mmdet3d.evaluation.metrics import NuScenesMetric
from mmdet3d.registry import METRICS
from mmengine.logging import MMLogger, print_log

from hybrid_depth.datasets.file_readers import DataFileError
from hybrid_depth.utils.atomic import TMP_MARK, atomic_write

__all__ = ['BEVDetNuScenesMetric', 'empty_prediction_summary', 'count_result_boxes', 'check_nuscenes_tables']


def count_result_boxes(result_path: str) -> int:
    """Number of boxes in a nuScenes detection result file (``{'results': {token: [box, ...]}}``)."""
    results = mmengine.load(result_path)
    if 'results' not in results:
        raise KeyError(f'{result_path}: no "results" field (not a nuScenes detection result file)')
    return sum(len(boxes) for boxes in results['results'].values())


# the tables nuscenes-devkit's NuScenes() reads, in its order
NUSCENES_TABLES = ('category', 'attribute', 'visibility', 'instance', 'sensor', 'calibrated_sensor', 'ego_pose',
                   'log', 'scene', 'sample', 'sample_data', 'sample_annotation', 'map')


def check_nuscenes_tables(table_root: str) -> None:
    """Name the nuScenes table the devkit cannot read (called when the devkit failed, to say which file).

    Raises:
        FileNotFoundError: the version folder or a table is missing.
        DataFileError: a table is empty, not JSON (truncated, garbage) or not a list of records.
    """
    if not osp.isdir(table_root):
        raise FileNotFoundError(f'nuScenes table folder not found: {table_root}')
    for name in NUSCENES_TABLES:
        path = osp.join(table_root, f'{name}.json')
        if not osp.isfile(path):
            raise FileNotFoundError(f'nuScenes table not found: {path}')
        try:
            with open(path) as f:
                table = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataFileError(f'nuScenes table is not valid JSON (empty, truncated or garbage, '
                                f'{osp.getsize(path)} bytes): {path}: {err}') from err
        if not isinstance(table, list) or any(not isinstance(r, dict) or 'token' not in r for r in table[:1]):
            raise DataFileError(f'nuScenes table is not a list of records with a "token": {path}')


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


def write_result_atomically(format_fn: Callable[..., str], *args, jsonfile_prefix: str) -> str:
    """Run mmdet3d's ``_format_*_bbox`` into a temporary folder in ``jsonfile_prefix``; rename its result file into
    ``jsonfile_prefix`` (a killed test run leaves no half-written ``results_nusc.json``)."""
    os.makedirs(jsonfile_prefix, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f'.results_nusc{TMP_MARK}', dir=jsonfile_prefix) as tmp:
        written = format_fn(*args, jsonfile_prefix=tmp)
        target = osp.join(jsonfile_prefix, osp.basename(written))
        os.replace(written, target)
    return target


@METRICS.register_module()
class BEVDetNuScenesMetric(NuScenesMetric):
    """mmdet3d's ``NuScenesMetric`` (same arguments, same keys), safe for a result set without boxes."""

    def _format_camera_bbox(self, results: list[dict], sample_idx_list: list, classes: list[str] | None = None,
                            jsonfile_prefix: str | None = None) -> str:
        return write_result_atomically(super()._format_camera_bbox, results, sample_idx_list, classes,
                                       jsonfile_prefix=jsonfile_prefix)

    def _format_lidar_bbox(self, results: list[dict], sample_idx_list: list, classes: list[str] | None = None,
                           jsonfile_prefix: str | None = None) -> str:
        return write_result_atomically(super()._format_lidar_bbox, results, sample_idx_list, classes,
                                       jsonfile_prefix=jsonfile_prefix)

    def _evaluate_single(self, result_path: str, classes: list[str] | None = None,
                         result_name: str = 'pred_instances_3d') -> dict[str, float]:
        if count_result_boxes(result_path) > 0:
            table_root = osp.join(self.data_root, self.version)
            if not osp.isdir(table_root):  # the devkit asserts on it without a message that names it
                raise FileNotFoundError(f'nuScenes table folder not found: {table_root}')
            try:
                return super()._evaluate_single(result_path, classes=classes, result_name=result_name)
            except (ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError):
                check_nuscenes_tables(table_root)  # raises naming the bad table, if one is bad
                raise
        print_log(f'{result_path}: the model predicted no box in any sample; scoring it as the devkit scores '
                  'classes without predictions (AP 0, TP errors 1)', logger=MMLogger.get_current_instance(),
                  level=30)
        summary = empty_prediction_summary(self.eval_detection_configs)
        with atomic_write(osp.join(osp.dirname(result_path), 'metrics_summary.json')) as tmp:
            mmengine.dump(summary, str(tmp))
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
