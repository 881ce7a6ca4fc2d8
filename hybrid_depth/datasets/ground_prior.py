"""Flat-ground geometric prior: ordered image points at known distances, a second coarse-stage source.

For a calibrated camera mounted at a known height above flat ground, the ground point at horizontal distance
``d`` along the camera's heading (and lateral offset ``y``) projects to a known pixel; points with larger ``d``
are farther. Each lateral offset gives one group of P points ordered near to far, the same supervision as a
TuSimple lane, with no labels. Assumptions (stated, not checked): the road is flat and the prior's points are
not hidden by objects (an occluding object is nearer than the ground behind it, so most orderings still hold).
"""
from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

import numpy as np
from mmdet3d.registry import DATASETS

from .file_readers import read_image
from .kitti_raw import KittiRawDepthDataset
from .nuscenes_sweeps import NuScenesSweepsDepthDataset

__all__ = ['GroundPriorOrderDataset', 'NuScenesGroundPriorOrderDataset', 'ground_points_in_image',
           'level_camera_from_ground']

DEFAULT_DISTANCES = (6.0, 8.0, 11.0, 15.0, 21.0, 29.0, 40.0)
DEFAULT_OFFSETS = (-3.5, -1.75, 0.0, 1.75, 3.5)


def _check_distances(distances: Sequence[float]) -> None:
    if any(b <= a for a, b in zip(distances, distances[1:])):
        raise ValueError(f'distances must increase (near to far), got {list(distances)}')


def level_camera_from_ground(height: float) -> np.ndarray:
    """``T_cam_ground`` of a level camera ``height`` metres above the ground.

    Ground frame: x forward, y left, z up, origin on the ground below the camera. Camera frame: x right, y down,
    z forward (KITTI's rectified cameras are level to within a degree).

    Returns:
        (4, 4) transform from the ground frame to the camera frame.
    """
    T = np.eye(4)
    T[:3, :3] = np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], dtype=np.float64)  # x_cam=-y, y_cam=-z, z_cam=x
    T[1, 3] = height  # ground (z=0) lies `height` below the camera: y_cam = height
    return T


def ground_points_in_image(cam2img: np.ndarray, T_cam_ground: np.ndarray, distances: Sequence[float],
                           lateral_offsets: Sequence[float], height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Project ground points at known distances into an image.

    The heading is the camera's optical axis projected onto the ground plane, so distances run away from the
    camera for any camera orientation (front, side or back cameras of a rig).

    Args:
        cam2img: (3, 3) intrinsics in pixels of a ``height x width`` image.
        T_cam_ground: (4, 4) ground frame (z up, plane z = 0) -> camera frame.
        distances: P horizontal distances in metres from the point below the camera, increasing.
        lateral_offsets: G lateral offsets in metres (positive = left of the heading).
        height: Image height.
        width: Image width.

    Returns:
        ``(points, valid)``: (G, P, 2) float32 pixel ``(u, v)`` ordered near to far, and (G, P) bool (in front of
        the camera and inside the image).
    """
    T_ground_cam = np.linalg.inv(T_cam_ground)
    axis = T_ground_cam[:3, 2].copy()  # optical axis in the ground frame
    axis[2] = 0.0
    if np.linalg.norm(axis) < 1e-6:
        raise ValueError('the camera looks straight up or down: no heading on the ground plane')
    fwd = axis / np.linalg.norm(axis)
    left = np.array([-fwd[1], fwd[0], 0.0])
    origin = T_ground_cam[:3, 3].copy()
    origin[2] = 0.0  # the ground point below the camera
    d = np.asarray(distances, np.float64)[None, :, None]  # (1, P, 1)
    y = np.asarray(lateral_offsets, np.float64)[:, None, None]  # (G, 1, 1)
    pts = origin + d * fwd + y * left  # (G, P, 3) ground frame
    cam = pts @ T_cam_ground[:3, :3].T + T_cam_ground[:3, 3]  # (G, P, 3) camera frame
    z = cam[..., 2]
    uvw = cam @ np.asarray(cam2img, np.float64).T
    uv = uvw[..., :2] / np.maximum(uvw[..., 2:3], 1e-6)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] <= width - 1) & (uv[..., 1] >= 0) & (uv[..., 1] <= height - 1)
    valid = (z > 0.1) & inside
    return uv.astype(np.float32), valid


@DATASETS.register_module()
class GroundPriorOrderDataset(KittiRawDepthDataset):
    """KITTI raw frames with flat-ground point groups (near to far) from the calibration and mounting height.

    Batch format as :class:`~hybrid_depth.datasets.tusimple_lanes.TuSimpleLaneOrderDataset` (``imgs`` of the
    target frame, ``points`` (B, G, P, 2), ``points_valid`` (B, G, P)); points are computed in pixels of the
    original image from the normalised intrinsics and rescaled by the pipeline.

    Args:
        data_root: KITTI raw root.
        ann_file: Split file relative to ``data_root`` (the target frames are used).
        camera_height: Mounting height of the camera above the ground in metres (KITTI colour cameras: 1.65).
        distances: P ground distances in metres, increasing (7 = number of depth words).
        lateral_offsets: G lateral offsets in metres.
        **kwargs: Other :class:`KittiRawDepthDataset` arguments (``img_ext``, ``pipeline``, ...).
    """

    METAINFO = {'dataset': 'ground_prior_kitti'}

    def __init__(self, data_root: str, ann_file: str = 'splits/eigen_zhou/train_files.txt',
                 camera_height: float = 1.65, distances: Sequence[float] = DEFAULT_DISTANCES,
                 lateral_offsets: Sequence[float] = DEFAULT_OFFSETS, **kwargs) -> None:
        _check_distances(distances)
        self.camera_height = camera_height
        self.distances = list(distances)
        self.lateral_offsets = list(lateral_offsets)
        kwargs['frame_ids'] = (0,)
        super().__init__(data_root=data_root, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> list[dict]:
        data_list = super().load_data_list()
        T = level_camera_from_ground(self.camera_height)
        sizes: dict[str, tuple[int, int]] = {}
        for info in data_list:
            key = osp.dirname(info['img_path'])  # the frames of one drive share a size
            if key not in sizes:
                sizes[key] = read_image(info['img_path'], f'sample {info["sample_idx"]}').shape[:2]
            h, w = sizes[key]
            K = info['intrinsics'].astype(np.float64) * np.array([[w], [h], [1.0]])
            points, valid = ground_points_in_image(K, T, self.distances, self.lateral_offsets, h, w)
            info['points'], info['points_valid'] = points, valid
        return data_list



@DATASETS.register_module()
class NuScenesGroundPriorOrderDataset(NuScenesSweepsDepthDataset):
    """nuScenes camera frames (any of the 6 cameras) with flat-ground point groups from their calibration.

    The ego frame of nuScenes has z up with its origin on the ground (below the rear axle), so each camera's
    ``calibrated_sensor`` pose gives ``T_cam_ground`` directly (mounting height = its z); the distances run along
    each camera's own heading. Batch format as :class:`GroundPriorOrderDataset`.

    Args:
        data_root: nuScenes dataroot.
        distances: P ground distances in metres, increasing.
        lateral_offsets: G lateral offsets in metres.
        **kwargs: Other :class:`~hybrid_depth.datasets.nuscenes_sweeps.NuScenesSweepsDepthDataset` arguments
            (``version``, ``split``, ``cameras``, ``keyframes_only``, ``pipeline``, ...).
    """

    METAINFO = {'dataset': 'ground_prior_nuscenes'}

    def __init__(self, data_root: str, distances: Sequence[float] = DEFAULT_DISTANCES,
                 lateral_offsets: Sequence[float] = DEFAULT_OFFSETS, **kwargs) -> None:
        _check_distances(distances)
        self.distances = list(distances)
        self.lateral_offsets = list(lateral_offsets)
        kwargs['frame_ids'] = (0,)
        super().__init__(data_root=data_root, **kwargs)

    def load_data_list(self) -> list[dict]:
        data_list = super().load_data_list()
        for info in data_list:
            h, w = info['image_size']
            T_cam_ground = np.linalg.inv(info['T_ego_cam'])
            points, valid = ground_points_in_image(info['cam2img_px'], T_cam_ground, self.distances,
                                                   self.lateral_offsets, h, w)
            info['points'], info['points_valid'] = points, valid
        return data_list
