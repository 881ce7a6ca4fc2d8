"""KITTI raw sequences as Monodepth2 reads them (Godard et al., ICCV 2019), for self-supervised depth training.

Layout (``data_root``)::

    <date>/calib_cam_to_cam.txt                                   S_rect_02/03, P_rect_02/03
    <date>/<date>_drive_XXXX_sync/image_02/data/%010d<img_ext>    left colour camera ('l')
    <date>/<date>_drive_XXXX_sync/image_03/data/%010d<img_ext>    right colour camera ('r')
    splits/<split>/{train,val}_files.txt                          "<date>/<drive> <frame> <l|r>" per line

Differences from Monodepth2: intrinsics are read from ``calib_cam_to_cam.txt`` (``P_rect_0x``, made 0-based and
normalised by ``S_rect_0x``) instead of one hard-coded KITTI matrix, and every frame and calibration file is
checked when the dataset is built (a missing one fails there, with its path, not mid-training).
"""
from __future__ import annotations

import os.path as osp
from collections.abc import Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.registry import DATASETS, TRANSFORMS
from mmengine.dataset import BaseDataset

from .file_readers import DataFileError, read_points

__all__ = ['KittiRawDepthDataset', 'LoadKittiVelodyneDepth', 'kitti_normalised_intrinsics', 'kitti_velodyne_depth',
           'calib_entry', 'read_kitti_calib']

SIDE_TO_CAMERA = {'l': 'image_02', 'r': 'image_03'}


def read_kitti_calib(path: str) -> dict[str, np.ndarray]:
    """Numeric entries of a KITTI calibration file (``key: v1 v2 ...`` lines; non-numeric values skipped).

    Raises:
        FileNotFoundError: naming ``path``.
        DataFileError: the file is empty, not text, or has no numeric entry.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'KITTI calibration file not found: {path}')
    data = {}
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as err:
        raise DataFileError(f'KITTI calibration file is not text: {path}') from err
    for line in lines:
        key, sep, value = line.partition(':')
        if not sep:
            continue
        try:
            data[key.strip()] = np.array([float(x) for x in value.split()])
        except ValueError:
            pass
    if not data:
        raise DataFileError(f'KITTI calibration file has no "key: numbers" line ({osp.getsize(path)} bytes): {path}')
    return data


def calib_entry(calib: dict[str, np.ndarray], key: str, size: int, path: str) -> np.ndarray:
    """``calib[key]``, checked to hold ``size`` numbers.

    Raises:
        DataFileError: naming the key and the file when it is missing or has another count (a truncated file).
    """
    if key not in calib:
        raise DataFileError(f'KITTI calibration file lacks {key}: {path}')
    if calib[key].size != size:
        raise DataFileError(f'KITTI calibration file: {key} has {calib[key].size} numbers, expected {size}: {path}')
    return calib[key]


def kitti_normalised_intrinsics(calib: dict[str, np.ndarray], camera: str, path: str = '') -> np.ndarray:
    """Normalised 0-based ``cam2img`` of a rectified KITTI camera.

    ``P_rect_0x`` uses KITTI's 1-based pixel coordinates (Monodepth2's ``generate_depth_map`` subtracts 1
    after projecting), so the principal point is shifted by -1 before dividing by the ``S_rect_0x`` size.

    Args:
        calib: Parsed ``calib_cam_to_cam.txt``.
        camera: ``'image_02'`` or ``'image_03'``.
        path: File name used in error messages.

    Returns:
        (3, 3) float32: ``[[fx/W, 0, cx/W], [0, fy/H, cy/H], [0, 0, 1]]``.
    """
    idx = camera[-2:]
    P = calib_entry(calib, f'P_rect_{idx}', 12, path).reshape(3, 4)
    w, h = calib_entry(calib, f'S_rect_{idx}', 2, path)
    K = np.eye(3, dtype=np.float32)
    K[0, 0], K[0, 2] = P[0, 0] / w, (P[0, 2] - 1.0) / w
    K[1, 1], K[1, 2] = P[1, 1] / h, (P[1, 2] - 1.0) / h
    return K


def kitti_velodyne_depth(calib_dir: str, velo_path: str, camera: str = 'image_02') -> np.ndarray:
    """Sparse depth of a velodyne scan in a rectified camera (Monodepth2 ``generate_depth_map``).

    ``P_rect_0x R_rect_00 [R|T]_velo_to_cam`` projects points ahead of the sensor; pixels are rounded and made
    0-based; the depth stored is the velodyne x (forward distance, as Monodepth2's exported ground truth); the
    closest point wins a pixel.

    Args:
        calib_dir: ``<date>`` folder with ``calib_cam_to_cam.txt`` and ``calib_velo_to_cam.txt``.
        velo_path: (N, 4) float32 ``.bin`` scan (x, y, z, reflectance) in the velodyne frame.
        camera: ``'image_02'`` or ``'image_03'``.

    Returns:
        (H, W) float32 depth in metres (0 = no point), H x W from ``S_rect_0x``.
    """
    cam_path, velo_calib_path = (osp.join(calib_dir, f'calib_{n}.txt') for n in ('cam_to_cam', 'velo_to_cam'))
    cam2cam = read_kitti_calib(cam_path)
    velo2cam = read_kitti_calib(velo_calib_path)
    if not osp.isfile(velo_path):
        raise FileNotFoundError(f'KITTI velodyne scan not found: {velo_path}')
    idx = camera[-2:]
    T = np.eye(4)
    T[:3, :3] = calib_entry(velo2cam, 'R', 9, velo_calib_path).reshape(3, 3)
    T[:3, 3] = calib_entry(velo2cam, 'T', 3, velo_calib_path)
    R_rect = np.eye(4)
    R_rect[:3, :3] = calib_entry(cam2cam, 'R_rect_00', 9, cam_path).reshape(3, 3)
    P = calib_entry(cam2cam, f'P_rect_{idx}', 12, cam_path).reshape(3, 4) @ R_rect @ T  # (3, 4) velo -> image
    w, h = calib_entry(cam2cam, f'S_rect_{idx}', 2, cam_path).astype(np.int64)
    velo = read_points(velo_path, 4, 'KITTI depth ground truth')
    pts = np.concatenate([velo[:, :3], np.ones((len(velo), 1), np.float32)], axis=1)
    pts = pts[pts[:, 0] >= 0]  # ahead of the sensor
    im = pts @ P.T  # (N, 3)
    u = np.round(im[:, 0] / im[:, 2]) - 1
    v = np.round(im[:, 1] / im[:, 2]) - 1
    ok = (u >= 0) & (v >= 0) & (u < w) & (v < h) & (im[:, 2] > 0)
    depth = np.full(h * w, np.inf)
    np.minimum.at(depth, (v[ok] * w + u[ok]).astype(np.int64), pts[ok, 0])
    depth[~np.isfinite(depth)] = 0
    return depth.reshape(h, w).astype(np.float32)


@TRANSFORMS.register_module()
class LoadKittiVelodyneDepth(BaseTransform):
    """Add ``gt_depth`` (H, W) metres from the sample's velodyne scan (``velo_path``, ``calib_dir``, ``camera``)."""

    def transform(self, results: dict) -> dict:
        results['gt_depth'] = kitti_velodyne_depth(results['calib_dir'], results['velo_path'], results['camera'])
        return results


@DATASETS.register_module()
class KittiRawDepthDataset(BaseDataset):
    """KITTI raw frame triplets for Monodepth2-style self-supervision.

    One sample per split line ``"<date>/<drive> <frame> <side>"``: the target frame 0 and its temporal
    neighbours ``frame + i`` for every ``i`` in ``frame_ids`` (Monodepth2: ``[0, -1, 1]``), all from the camera of
    ``side`` (``l`` = ``image_02``, ``r`` = ``image_03``).

    Batch format (after :class:`~hybrid_depth.datasets.depth_transforms.PackDepthInputs` and the
    ``DepthDataPreprocessor``; every depth dataset of this package follows it):

    - ``inputs['imgs']``: (B, F, 3, H, W) float RGB in [0, 1], colour-jittered (network input). Index ``k`` of
      the F axis is frame ``frame_ids[k]``: 0 = target, -1 = previous, +1 = next frame of the sequence;
    - ``inputs['imgs_raw']``: (B, F, 3, H, W) the same frames without colour jitter (photometric loss);
    - ``inputs['cam2img']``: (B, S, 3, 3) intrinsics in pixels of pyramid scale ``s`` (image size
      ``(H // 2**s, W // 2**s)``), rescaled from the normalised intrinsics stored per sample; flipped samples
      have the mirrored principal point;
    - ``inputs['points']`` / ``inputs['points_valid']`` (coarse datasets only): (B, G, P, 2) pixel ``(u, v)`` of
      G groups of P points ordered near to far (rank 0 = nearest), and their (B, G, P) validity;
    - ``data_samples``: list of B mmengine ``BaseDataElement`` with metainfo ``sample_idx``, ``img_path``
      (target frame), ``frame_ids``, ``flip``, ``ori_shape`` / ``img_shape`` ``(H, W)``, normalised
      ``intrinsics`` (3, 3), ``camera``; evaluation sets add the field ``gt_depth`` (H_gt, W_gt) float32 metres
      at the original resolution (0 = no measurement). ``sample.to_dict()`` gives all of them as one dict.

    Args:
        data_root: KITTI raw root (Monodepth2's ``data_path``).
        ann_file: Split file relative to ``data_root`` (e.g. ``splits/eigen_zhou/train_files.txt``).
        frame_ids: Temporal offsets loaded per sample; the first must be 0.
        img_ext: Image extension (``.jpg`` as Monodepth2's default, or ``.png``).
        with_velodyne: Also require each target frame's velodyne scan and calibration (for
            ``LoadKittiVelodyneDepth``, e.g. depth metrics on the validation split).
        pipeline: Transforms (``LoadDepthFrames``, ``ResizeDepthFrames``, ..., ``PackDepthInputs``).
        test_mode: mmengine flag (no effect on loading).
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments (``indices``, ``lazy_init``, ...).

    Raises:
        FileNotFoundError: at build, naming the first missing split file, image or calibration file.
    """

    METAINFO = {'dataset': 'kitti_raw'}

    def __init__(self, data_root: str, ann_file: str = 'splits/eigen_zhou/train_files.txt',
                 frame_ids: Sequence[int] = (0, -1, 1), img_ext: str = '.jpg', with_velodyne: bool = False,
                 pipeline: Sequence = (), test_mode: bool = False, **kwargs) -> None:
        if not frame_ids or frame_ids[0] != 0:
            raise ValueError(f'frame_ids must start with the target frame 0, got {list(frame_ids)}')
        self.frame_ids = list(frame_ids)
        self.img_ext = img_ext
        self.with_velodyne = with_velodyne
        super().__init__(ann_file=ann_file, data_root=data_root, pipeline=list(pipeline), test_mode=test_mode,
                         **kwargs)

    def image_path(self, folder: str, frame: int, side: str) -> str:
        """Path of one frame: ``<root>/<folder>/image_0x/data/%010d<ext>``."""
        return osp.join(self.data_root, folder, SIDE_TO_CAMERA[side], 'data', f'{frame:010d}{self.img_ext}')

    def _read_split(self) -> list[tuple[str, int, str]]:
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'KITTI split file not found: {self.ann_file}')
        lines = []
        try:
            with open(self.ann_file) as f:
                text = f.read().splitlines()
        except UnicodeDecodeError as err:
            raise DataFileError(f'KITTI split file is not text: {self.ann_file}') from err
        for n, line in enumerate(text, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 3 or parts[2] not in SIDE_TO_CAMERA or not parts[1].isdigit():
                raise DataFileError(f'KITTI split file {self.ann_file}:{n}: expected "<date>/<drive> <frame> <l|r>", '
                                    f'got {line.strip()[:80]!r}')
            lines.append((parts[0], int(parts[1]), parts[2]))
        if not lines:
            raise DataFileError(f'KITTI split file has no "<date>/<drive> <frame> <l|r>" line: {self.ann_file}')
        return lines

    def load_data_list(self) -> list[dict]:
        calib_cache: dict[str, dict] = {}
        data_list = []
        for idx, (folder, frame, side) in enumerate(self._read_split()):
            date = folder.split('/')[0]
            if date not in calib_cache:
                calib_cache[date] = read_kitti_calib(osp.join(self.data_root, date, 'calib_cam_to_cam.txt'))
            camera = SIDE_TO_CAMERA[side]
            paths = {}
            for fid in self.frame_ids:
                path = self.image_path(folder, frame + fid, side)
                if not osp.isfile(path):
                    raise FileNotFoundError(f'KITTI frame {fid:+d} of "{folder} {frame} {side}" not found: {path}')
                paths[fid] = path
            intrinsics = kitti_normalised_intrinsics(
                calib_cache[date], camera, osp.join(self.data_root, date, 'calib_cam_to_cam.txt'))
            info = {'sample_idx': idx, 'frame_paths': paths, 'img_path': paths[0], 'intrinsics': intrinsics,
                    'camera': camera, 'folder': folder, 'frame_index': frame, 'side': side,
                    'calib_dir': osp.join(self.data_root, date)}
            if self.with_velodyne:
                info['velo_path'] = osp.join(self.data_root, folder, 'velodyne_points', 'data', f'{frame:010d}.bin')
                for path in (info['velo_path'], osp.join(info['calib_dir'], 'calib_velo_to_cam.txt')):
                    if not osp.isfile(path):
                        raise FileNotFoundError(f'KITTI file needed for depth ground truth not found: {path}')
            data_list.append(info)
        return data_list
