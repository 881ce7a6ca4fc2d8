"""KITTI odometry frame pairs with ground-truth poses, for pose evaluation (Monodepth2 ``KITTIOdomDataset`` and
``evaluate_pose.py``).

Layout (``data_root``, Monodepth2's odometry ``data_path``)::

    sequences/XX/image_2/%06d<img_ext>    left colour camera ('l'); image_3 for 'r'
    poses/XX.txt                          N lines of 12 values: rows 0-2 of T_world_cam0 per frame (KITTI's
                                          ground truth of the left grey camera, world = the first frame's camera)
    splits/odom/test_files_XX.txt         "<sequence> <frame> <l|r>" per pair (Monodepth2: "9 0 l")
"""
from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

import numpy as np
from mmdet3d.registry import DATASETS

from .file_readers import DataFileError
from .kitti_raw import KittiRawDepthDataset

__all__ = ['KittiOdomPoseDataset', 'read_kitti_poses']

SIDE_TO_ODOM_CAMERA = {'l': 'image_2', 'r': 'image_3'}


def read_kitti_poses(path: str) -> np.ndarray:
    """KITTI odometry ``poses/XX.txt``.

    Returns:
        (N, 4, 4) float64 ``T_world_cam0`` of every frame.

    Raises:
        FileNotFoundError: naming ``path``.
        DataFileError: a line does not hold 12 numbers.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'KITTI odometry poses not found: {path}')
    try:
        rows = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as err:
        raise DataFileError(f'KITTI odometry poses: expected 12 numbers per line: {path}: {err}') from err
    if rows.shape[1] != 12 or not len(rows):
        raise DataFileError(f'KITTI odometry poses: expected N lines of 12 numbers, got {rows.shape}: {path}')
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    poses[:, :3] = rows.reshape(-1, 3, 4)
    return poses


@DATASETS.register_module()
class KittiOdomPoseDataset(KittiRawDepthDataset):
    """Consecutive frame pairs ``(i, i + 1)`` of KITTI odometry sequences with their ground-truth poses.

    One sample per split line ``"<sequence> <frame> <side>"``: frames ``frame + k`` for ``k`` in ``frame_ids``
    (``[0, 1]``: the pair the pose network sees, in that order, as Monodepth2's ``evaluate_pose.py``).

    Batch format as :class:`~hybrid_depth.datasets.kitti_raw.KittiRawDepthDataset` (``inputs['imgs']``
    (B, 2, 3, H, W): index 0 = frame i, 1 = frame i + 1; no intrinsics: the pose network needs none), plus the
    sample keys ``sequence`` (``'09'``), ``frame_index`` (i) and ``gt_poses`` (2, 4, 4) float64 ``T_world_cam0``
    of frames i and i + 1 (``PackDepthInputs(meta_keys=...)`` must list them to pass them to the metric).

    Args:
        data_root: KITTI odometry root.
        ann_file: Split file relative to ``data_root``.
        frame_ids: Temporal offsets loaded per sample (``[0, 1]``).
        img_ext: Image extension (``.png`` as KITTI odometry).
        poses_dir: Folder of ``XX.txt`` ground-truth poses relative to ``data_root``.
        pipeline: Transforms (``LoadDepthFrames``, ``ResizeDepthFrames``, ``PackDepthInputs``).
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.

    Raises:
        FileNotFoundError: at build, naming the first missing split file, image or poses file.
        DataFileError: a poses file has fewer frames than a pair needs.
    """

    METAINFO = {'dataset': 'kitti_odom'}

    def __init__(self, data_root: str, ann_file: str = 'splits/odom/test_files_09.txt',
                 frame_ids: Sequence[int] = (0, 1), img_ext: str = '.png', poses_dir: str = 'poses',
                 pipeline: Sequence = (), **kwargs) -> None:
        self.poses_dir = poses_dir
        kwargs.setdefault('test_mode', True)
        super().__init__(data_root=data_root, ann_file=ann_file, frame_ids=frame_ids, img_ext=img_ext,
                         pipeline=pipeline, **kwargs)

    def image_path(self, folder: str, frame: int, side: str) -> str:
        """Path of one frame: ``<root>/sequences/XX/image_x/%06d<ext>``."""
        return osp.join(self.data_root, 'sequences', f'{int(folder):02d}', SIDE_TO_ODOM_CAMERA[side],
                        f'{frame:06d}{self.img_ext}')

    def load_data_list(self) -> list[dict]:
        poses: dict[str, np.ndarray] = {}
        data_list = []
        for idx, (folder, frame, side) in enumerate(self._read_split()):
            seq = f'{int(folder):02d}'
            if seq not in poses:
                poses[seq] = read_kitti_poses(osp.join(self.data_root, self.poses_dir, f'{seq}.txt'))
            last = frame + max(self.frame_ids)
            if min(frame + min(self.frame_ids), last) < 0 or last >= len(poses[seq]):
                raise DataFileError(f'KITTI odometry poses/{seq}.txt has {len(poses[seq])} frames; the split line '
                                    f'"{folder} {frame} {side}" needs frame {last}')
            paths = {}
            for fid in self.frame_ids:
                path = self.image_path(folder, frame + fid, side)
                if not osp.isfile(path):
                    raise FileNotFoundError(f'KITTI odometry frame {fid:+d} of "{folder} {frame} {side}" not found: '
                                            f'{path}')
                paths[fid] = path
            data_list.append({'sample_idx': idx, 'frame_paths': paths, 'img_path': paths[0], 'sequence': seq,
                              'frame_index': frame, 'side': side, 'camera': SIDE_TO_ODOM_CAMERA[side],
                              'gt_poses': poses[seq][[frame + f for f in self.frame_ids]]})
        return data_list
