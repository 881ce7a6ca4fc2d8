"""TuSimple lane annotations as ordered point groups for Hybrid-depth's coarse stage (language-guided ordering).

Label files (``label_data_*.json``) hold one JSON object per line: ``lanes`` (per lane, one x pixel per row of
``h_samples`` or -2 where there is no point), ``h_samples`` (image rows) and ``raw_file`` (``clips/.../20.jpg``).

``h_samples`` run top to bottom, i.e. **far to near** on a road seen from a forward camera. The official code
(``datasets/dataloader.py`` ``LaneDepthMixDataset`` keeps the label rows, ``modules/DepthCLIP_dino.py`` selects)
takes, of the n labelled points of a lane **in the label file's row order**, those at index ``j * ((n - 1) // 6)``
for j = 0..6, and pairs point j with depth word j (``order='label'``, the default: rank 0 = the topmost, farthest
point, paired with "very close"). ``order='near_to_far'`` (our option) sorts the points bottom (near) first before
selecting, so rank 0 = the nearest point, and picks other points when (n - 1) is not a multiple of 6.
``spacing='linspace'`` (our option) spreads the points over the whole lane. Lanes with fewer than 7 labelled points
are dropped.
"""
from __future__ import annotations

import json
import os.path as osp
from collections.abc import Sequence

import numpy as np
from mmdet3d.registry import DATASETS
from mmengine.dataset import BaseDataset

from .file_readers import DataFileError

__all__ = ['TuSimpleLaneOrderDataset', 'parse_label_line', 'select_lane_points']


SPACINGS = ('official', 'linspace')
ORDERS = ('label', 'near_to_far')


def parse_label_line(line: str, where: str) -> dict:
    """One TuSimple label line: ``{'lanes': [[x, ...], ...], 'h_samples': [y, ...], 'raw_file': str}``.

    Raises:
        DataFileError: naming ``where`` (``file:line``) when the line is not JSON or lacks / mistypes a field.
    """
    try:
        label = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataFileError(f'TuSimple label file {where}: not a JSON label line: {err}') from err
    if not isinstance(label, dict):
        raise DataFileError(f'TuSimple label file {where}: a JSON {type(label).__name__}, not an object')
    lacks = [k for k, t in (('lanes', list), ('h_samples', list), ('raw_file', str))
             if not isinstance(label.get(k), t)]
    if lacks:
        raise DataFileError(f'TuSimple label file {where}: missing or mistyped {lacks} '
                            '(expected lanes: list, h_samples: list, raw_file: str)')
    if any(not isinstance(lane, list) or len(lane) != len(label['h_samples']) for lane in label['lanes']):
        raise DataFileError(f'TuSimple label file {where}: a lane has not one x per h_sample '
                            f'({len(label["h_samples"])})')
    return label


def select_lane_points(xs: Sequence[float], h_samples: Sequence[float], num_points: int = 7,
                       spacing: str = 'official', order: str = 'label') -> np.ndarray | None:
    """``num_points`` labelled points of one lane, in the rank order the coarse stage pairs with its depth words.

    Args:
        xs: (R,) x pixel per row of ``h_samples`` (negative = no point).
        h_samples: (R,) image rows as the label file lists them (TuSimple: top to bottom).
        num_points: Points per group.
        spacing: ``'official'``: indices ``j * ((n - 1) // (num_points - 1))`` of the n labelled points;
            ``'linspace'``: ``round(linspace(0, n - 1, num_points))``.
        order: ``'label'`` (official): the label rows as listed (TuSimple: top / far first);
            ``'near_to_far'``: sorted bottom (near) first, then selected.

    Returns:
        (num_points, 2) float32 pixel ``(u, v)`` (rank 0 first), or ``None`` if the lane has fewer than
        ``num_points`` labelled points.
    """
    if spacing not in SPACINGS:
        raise ValueError(f'spacing must be one of {SPACINGS}, got {spacing!r}')
    if order not in ORDERS:
        raise ValueError(f'order must be one of {ORDERS}, got {order!r}')
    xs = np.asarray(xs, dtype=np.float32)
    ys = np.asarray(h_samples, dtype=np.float32)
    keep = xs >= 0
    pts = np.stack([xs[keep], ys[keep]], axis=1)  # (n, 2) in label row order
    if len(pts) < num_points:
        return None
    if order == 'near_to_far':
        pts = pts[np.argsort(-pts[:, 1], kind='stable')]  # bottom (near) first
    if spacing == 'official':
        idx = np.arange(num_points) * ((len(pts) - 1) // max(num_points - 1, 1))
    else:
        idx = np.round(np.linspace(0, len(pts) - 1, num_points)).astype(np.int64)
    return pts[idx]


@DATASETS.register_module()
class TuSimpleLaneOrderDataset(BaseDataset):
    """TuSimple images with lanes as ordered point groups (official: label row order, far first).

    Batch format: :class:`~hybrid_depth.datasets.kitti_raw.KittiRawDepthDataset` with ``frame_ids = [0]``
    (``imgs`` (B, 1, 3, H, W)), no ``cam2img``, and ``points`` (B, G, P, 2) / ``points_valid`` (B, G, P): G
    lanes (padded to ``PackDepthInputs.max_groups``) of P points in ``order`` (rank 0 first).

    Args:
        data_root: TuSimple root (the folder holding ``clips/`` and the label files).
        label_files: Label files relative to ``data_root``.
        num_points: Points per lane (7 = number of depth words).
        spacing: Point selection along a lane, ``'official'`` or ``'linspace'`` (see :func:`select_lane_points`).
        order: Rank order of a lane's points, ``'label'`` (official: label rows, far first) or ``'near_to_far'``.
        min_lanes: Images with fewer usable lanes are skipped.
        pipeline: Transforms (``LoadDepthFrames``, ``ResizeDepthFrames``, ..., ``PackDepthInputs``).
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.

    Raises:
        FileNotFoundError: a label file or an image it names is missing (path named).
    """

    METAINFO = {'dataset': 'tusimple'}

    def __init__(self, data_root: str, label_files: Sequence[str] = ('label_data_0313.json',),
                 num_points: int = 7, spacing: str = 'official', order: str = 'label', min_lanes: int = 1,
                 pipeline: Sequence = (), **kwargs) -> None:
        self.label_files = list(label_files)
        self.num_points = num_points
        self.spacing = spacing
        self.order = order
        self.min_lanes = min_lanes
        super().__init__(ann_file='', data_root=data_root, pipeline=list(pipeline), **kwargs)

    def load_data_list(self) -> list[dict]:
        data_list = []
        for label_file in self.label_files:
            path = osp.join(self.data_root, label_file)
            if not osp.isfile(path):
                raise FileNotFoundError(f'TuSimple label file not found: {path}')
            try:
                with open(path) as f:
                    lines = f.read().splitlines()
            except UnicodeDecodeError as err:
                raise DataFileError(f'TuSimple label file is not text: {path}') from err
            if not any(line.strip() for line in lines):
                raise DataFileError(f'TuSimple label file has no label line (empty): {path}')
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                label = parse_label_line(line, f'{path}:{n}')
                groups = [g for lane in label['lanes']
                          if (g := select_lane_points(lane, label['h_samples'], self.num_points, self.spacing,
                                                      self.order)) is not None]
                if len(groups) < self.min_lanes:
                    continue
                img = osp.join(self.data_root, label['raw_file'])
                if not osp.isfile(img):
                    raise FileNotFoundError(f'TuSimple image named in {path} not found: {img}')
                points = np.stack(groups).astype(np.float32)  # (G, P, 2)
                data_list.append({'sample_idx': len(data_list), 'frame_paths': {0: img}, 'img_path': img,
                                  'points': points, 'points_valid': np.ones(points.shape[:2], bool)})
        return data_list
