"""nuScenes camera sweeps as frame triplets for self-supervised depth in the detector's own domain.

Each camera of nuScenes records at 12 Hz (keyframes at 2 Hz plus sweeps in between); ``sample_data`` rows are
linked per camera by ``prev`` / ``next`` tokens. A sample is one camera frame with its temporal neighbours
(``frame_ids``, Monodepth2's ``[0, -1, 1]``) of the same camera, with that camera's real intrinsics
(``calibrated_sensor.camera_intrinsic``). Read straight from the JSON tables (no devkit index needed);
scene splits are nuscenes-devkit's (``mini_train``, ``mini_val``, ``train``, ``val``).

For evaluation, ``with_lidar_depth=True`` keeps keyframes only and adds what ``LoadNuScenesLidarDepth`` needs to
project the sample's ``LIDAR_TOP`` sweep into the camera (lidar -> ego at the lidar time -> global -> ego at the
camera time -> camera), the depth metric's ground truth.
"""
from __future__ import annotations

import json
import os.path as osp
from collections.abc import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.registry import DATASETS, TRANSFORMS
from mmengine.dataset import BaseDataset
from pyquaternion import Quaternion

from .file_readers import DataFileError, read_points

__all__ = ['NUSCENES_CAMERAS', 'LoadNuScenesLidarDepth', 'NuScenesSweepsDepthDataset', 'lidar_depth_map']

NUSCENES_CAMERAS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK', 'CAM_BACK_LEFT', 'CAM_BACK_RIGHT')


def _transform(rotation: Sequence[float], translation: Sequence[float]) -> np.ndarray:
    """(4, 4) ``T_parent_child`` from a nuScenes quaternion (w, x, y, z) and translation."""
    T = np.eye(4)
    T[:3, :3] = Quaternion(rotation).rotation_matrix
    T[:3, 3] = translation
    return T


def lidar_depth_map(points: np.ndarray, T_cam_lidar: np.ndarray, cam2img: np.ndarray, height: int,
                    width: int, min_depth: float = 0.1) -> np.ndarray:
    """Sparse depth image of lidar points (camera z; the closest point wins a pixel).

    Args:
        points: (N, >=3) lidar points, lidar frame.
        T_cam_lidar: (4, 4) lidar -> camera transform.
        cam2img: (3, 3) intrinsics in pixels.
        height: Image height.
        width: Image width.
        min_depth: Points closer than this (or behind the camera) are dropped.

    Returns:
        (height, width) float32 depth in metres, 0 where no point projects.
    """
    pts = points[:, :3].astype(np.float64) @ T_cam_lidar[:3, :3].T + T_cam_lidar[:3, 3]  # (N, 3) camera frame
    pts = pts[pts[:, 2] > min_depth]
    uvw = pts @ np.asarray(cam2img, np.float64).T
    u = np.floor(uvw[:, 0] / uvw[:, 2]).astype(np.int64)
    v = np.floor(uvw[:, 1] / uvw[:, 2]).astype(np.int64)
    ok = (u >= 0) & (v >= 0) & (u < width) & (v < height)
    depth = np.full(height * width, np.inf)
    np.minimum.at(depth, v[ok] * width + u[ok], pts[ok, 2])
    depth[~np.isfinite(depth)] = 0
    return depth.reshape(height, width).astype(np.float32)


@TRANSFORMS.register_module()
class LoadNuScenesLidarDepth(BaseTransform):
    """Add ``gt_depth`` (H, W): the keyframe's ``LIDAR_TOP`` points (``lidar_path``, (N, 5) float32) projected with
    ``T_cam_lidar`` and the camera's pixel ``cam2img_px`` into an image of ``image_size`` (H, W)."""

    def transform(self, results: dict) -> dict:
        path = results['lidar_path']
        if not osp.isfile(path):
            raise FileNotFoundError(f'nuScenes lidar sweep not found: {path}')
        points = read_points(path, 5, f'sample {results.get("sample_idx")}')
        h, w = results['image_size']
        results['gt_depth'] = lidar_depth_map(points, results['T_cam_lidar'], results['cam2img_px'], h, w)
        return results


@DATASETS.register_module()
class NuScenesSweepsDepthDataset(BaseDataset):
    """Frame triplets of the 6 nuScenes cameras (keyframes and sweeps) with their intrinsics.

    Batch format: :class:`~hybrid_depth.datasets.kitti_raw.KittiRawDepthDataset` (``imgs`` (B, F, 3, H, W), ...,
    ``cam2img`` from each camera's own intrinsics); data samples also carry ``camera`` (channel name), and with
    ``with_lidar_depth`` the field ``gt_depth`` (H_img, W_img) from the projected keyframe lidar.

    Args:
        data_root: nuScenes dataroot (holding ``<version>/``, ``samples/``, ``sweeps/``).
        version: Table folder, e.g. ``'v1.0-mini'``, ``'v1.0-trainval'``.
        split: nuscenes-devkit scene split name (``'mini_train'``, ``'mini_val'``, ``'train'``, ``'val'``).
        cameras: Camera channels used.
        frame_ids: Temporal offsets in camera frames (12 Hz); frames without both neighbours are skipped.
        keyframes_only: Use keyframe targets only (2 Hz).
        with_lidar_depth: Keyframe targets only, plus the lidar needed for ``LoadNuScenesLidarDepth``.
        pipeline: Transforms.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.

    Raises:
        FileNotFoundError: a table or an image of a sample is missing (path named).
    """

    METAINFO = {'dataset': 'nuscenes_sweeps'}

    def __init__(self, data_root: str, version: str = 'v1.0-trainval', split: str = 'train',
                 cameras: Sequence[str] = NUSCENES_CAMERAS, frame_ids: Sequence[int] = (0, -1, 1),
                 keyframes_only: bool = False, with_lidar_depth: bool = False, pipeline: Sequence = (),
                 **kwargs) -> None:
        if not frame_ids or frame_ids[0] != 0:
            raise ValueError(f'frame_ids must start with the target frame 0, got {list(frame_ids)}')
        unknown = sorted(set(cameras) - set(NUSCENES_CAMERAS))
        if unknown:
            raise ValueError(f'unknown nuScenes cameras {unknown}; choose from {NUSCENES_CAMERAS}')
        self.version = version
        self.split = split
        self.cameras = list(cameras)
        self.frame_ids = list(frame_ids)
        self.keyframes_only = keyframes_only or with_lidar_depth
        self.with_lidar_depth = with_lidar_depth
        super().__init__(ann_file='', data_root=data_root, pipeline=list(pipeline), **kwargs)

    def _table(self, name: str) -> list[dict]:
        path = osp.join(self.data_root, self.version, f'{name}.json')
        if not osp.isfile(path):
            raise FileNotFoundError(f'nuScenes table not found: {path}')
        try:
            with open(path) as f:
                return json.load(f)
        except json.JSONDecodeError as err:
            raise DataFileError(f'nuScenes table is not valid JSON: {path}: {err}') from err

    def load_data_list(self) -> list[dict]:
        from nuscenes.utils.splits import create_splits_scenes
        splits = create_splits_scenes()
        if self.split not in splits:
            raise KeyError(f'unknown nuScenes split {self.split!r}; choose from {sorted(splits)}')
        scene_names = set(splits[self.split])
        scenes = {s['token'] for s in self._table('scene') if s['name'] in scene_names}
        sample_scene = {s['token']: s['scene_token'] for s in self._table('sample')}
        channel = {s['token']: s['channel'] for s in self._table('sensor')}
        calib = {c['token']: c for c in self._table('calibrated_sensor')}
        ego = {e['token']: e for e in self._table('ego_pose')}
        rows = self._table('sample_data')
        by_token = {r['token']: r for r in rows}
        lidar_of_sample = {r['sample_token']: r for r in rows if r['is_key_frame']
                           and channel[calib[r['calibrated_sensor_token']]['sensor_token']] == 'LIDAR_TOP'}

        def neighbour(row: dict, offset: int) -> dict | None:
            for _ in range(abs(offset)):
                token = row['prev'] if offset < 0 else row['next']
                if not token:
                    return None
                row = by_token[token]
            return row

        data_list = []
        for row in rows:
            cal = calib[row['calibrated_sensor_token']]
            cam = channel[cal['sensor_token']]
            if cam not in self.cameras or sample_scene.get(row['sample_token']) not in scenes:
                continue
            if self.keyframes_only and not row['is_key_frame']:
                continue
            frames = {fid: neighbour(row, fid) for fid in self.frame_ids}
            if any(f is None for f in frames.values()):
                continue
            paths = {fid: osp.join(self.data_root, f['filename']) for fid, f in frames.items()}
            for fid, path in paths.items():
                if not osp.isfile(path):
                    raise FileNotFoundError(f'nuScenes image (frame {fid:+d} of {row["token"]}) not found: {path}')
            K = np.asarray(cal['camera_intrinsic'], np.float64)
            w, h = row['width'], row['height']
            intrinsics = np.eye(3, dtype=np.float32)
            intrinsics[0, 0], intrinsics[0, 2] = K[0, 0] / w, K[0, 2] / w
            intrinsics[1, 1], intrinsics[1, 2] = K[1, 1] / h, K[1, 2] / h
            info = {'sample_idx': len(data_list), 'frame_paths': paths, 'img_path': paths[0], 'camera': cam,
                    'intrinsics': intrinsics, 'token': row['token'], 'image_size': (h, w), 'cam2img_px': K,
                    'T_ego_cam': _transform(**_rt(cal))}
            if self.with_lidar_depth:
                lidar = lidar_of_sample.get(row['sample_token'])
                if lidar is None:
                    raise FileNotFoundError(f'no LIDAR_TOP keyframe for sample {row["sample_token"]}')
                lcal = calib[lidar['calibrated_sensor_token']]
                T_global_lidar = (_transform(**_rt(ego[lidar['ego_pose_token']]))
                                  @ _transform(**_rt(lcal)))
                T_global_cam = _transform(**_rt(ego[row['ego_pose_token']])) @ _transform(**_rt(cal))
                info.update(lidar_path=osp.join(self.data_root, lidar['filename']),
                            T_cam_lidar=np.linalg.inv(T_global_cam) @ T_global_lidar)
            data_list.append(info)
        return data_list


def _rt(record: dict) -> dict:
    """``rotation`` / ``translation`` of a nuScenes record as keyword arguments of :func:`_transform`."""
    return {'rotation': record['rotation'], 'translation': record['translation']}
