"""The KITTI Eigen test split (Eigen et al., NeurIPS 2014) with Monodepth2's exported ground truth.

``splits/eigen/test_files.txt`` (697 lines "<date>/<drive> <frame> l") and ``splits/eigen/gt_depths.npz``
(key ``data``: one (H, W) velodyne depth map per line, in the same order; Monodepth2's ``export_gt_depth.py``).
"""
from __future__ import annotations

import os.path as osp
import zipfile
from collections.abc import Sequence

import numpy as np
from mmdet3d.registry import DATASETS

from .file_readers import DataFileError
from .kitti_raw import KittiRawDepthDataset

__all__ = ['KittiEigenTestDataset']


@DATASETS.register_module()
class KittiEigenTestDataset(KittiRawDepthDataset):
    """Eigen test images (target frame only) with their sparse ground-truth depth in ``gt_depth``.

    Batch format as :class:`KittiRawDepthDataset` with ``frame_ids = [0]``; every data sample carries
    ``gt_depth`` (H_gt, W_gt) float32 metres at the original image resolution (0 = no velodyne point).

    Args:
        data_root: KITTI raw root.
        ann_file: Test split file relative to ``data_root``.
        gt_file: ``gt_depths.npz`` relative to ``data_root``.
        img_ext: Image extension.
        pipeline: Transforms (``LoadDepthFrames``, ``ResizeDepthFrames``, ``PackDepthInputs(frame_ids=[0])``).
        **kwargs: Other :class:`KittiRawDepthDataset` arguments.

    Raises:
        FileNotFoundError: the split, ground-truth, image or calibration file is missing (path named).
        ValueError: the ground truth does not have one map per split line.
    """

    METAINFO = {'dataset': 'kitti_eigen'}

    def __init__(self, data_root: str, ann_file: str = 'splits/eigen/test_files.txt',
                 gt_file: str = 'splits/eigen/gt_depths.npz', img_ext: str = '.jpg', pipeline: Sequence = (),
                 **kwargs) -> None:
        self.gt_file = osp.join(data_root, gt_file)
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file=ann_file, frame_ids=(0,), img_ext=img_ext,
                         pipeline=pipeline, **kwargs)

    def load_data_list(self) -> list[dict]:
        data_list = super().load_data_list()
        if not osp.isfile(self.gt_file):
            raise FileNotFoundError(f'KITTI Eigen ground truth not found: {self.gt_file}')
        try:
            gt = np.load(self.gt_file, fix_imports=True, encoding='latin1', allow_pickle=True)['data']
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            raise DataFileError(f'KITTI Eigen ground truth is unreadable (expected an .npz with key "data"): '
                             f'{self.gt_file}: {err}') from err
        if len(gt) != len(data_list):
            raise ValueError(f'{self.gt_file} has {len(gt)} depth maps but {self.ann_file} has '
                             f'{len(data_list)} lines')
        for info, depth in zip(data_list, gt):
            info['gt_depth'] = np.asarray(depth, dtype=np.float32)
        return data_list
