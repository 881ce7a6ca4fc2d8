"""Readers of the sensor files datasets name: a missing or corrupt file is one clear error naming the file and
who needed it (sample token, split line), never ``None`` or a reshape traceback."""
from __future__ import annotations

import os.path as osp

import cv2
import mmcv
import numpy as np

__all__ = ['DataFileError', 'read_image', 'read_points']


class DataFileError(ValueError):
    """A data or info file that exists but cannot be used (the message names it and the sample)."""


def read_image(path: str, what: str, channel_order: str = 'bgr') -> np.ndarray:
    """Read a colour image, (H, W, 3) uint8.

    Args:
        path: Image file.
        what: Who needs it (sample token and camera), put in front of the error message.
        channel_order: ``'bgr'`` or ``'rgb'``.

    Raises:
        FileNotFoundError: the file does not exist.
        OSError: the file cannot be decoded, or is a JPEG without its end-of-image marker (OpenCV decodes a
            truncated JPEG silently, with a grey bottom).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what}: image not found: {path}')
    size = osp.getsize(path)
    if size == 0:
        raise OSError(f'{what}: image file is empty: {path}')
    try:
        img = mmcv.imread(path, 'color', channel_order=channel_order)
    except cv2.error as err:
        raise OSError(f'{what}: image cannot be decoded ({size} bytes): {path}: {err}') from err
    if img is None:
        raise OSError(f'{what}: image cannot be decoded (empty, truncated or not an image, '
                      f'{osp.getsize(path)} bytes): {path}')
    if path.lower().endswith(('.jpg', '.jpeg')):
        with open(path, 'rb') as f:
            f.seek(max(osp.getsize(path) - 64, 0))
            tail = f.read().rstrip(b'\x00\r\n ')
        if not tail.endswith(b'\xff\xd9'):
            raise OSError(f'{what}: truncated JPEG (no end-of-image marker, {osp.getsize(path)} bytes): {path}')
    return img


def read_points(path: str | None, num_feats: int, what: str) -> np.ndarray:
    """Read a LiDAR ``.bin`` / ``.pcd.bin`` file: (P, ``num_feats``) float32.

    Args:
        path: Point file (``None``: the info names none).
        num_feats: Floats per point (nuScenes 5, KITTI 4).
        what: Who needs it (the sample token), put in front of the error message.

    Raises:
        FileNotFoundError: no path or no file.
        DataFileError: the size is not a whole number of points.
    """
    if path is None or not osp.isfile(path):
        raise FileNotFoundError(f'{what}: LiDAR file not found: {path}')
    raw = np.fromfile(path, dtype=np.float32)
    if raw.size % num_feats:
        raise DataFileError(f'{what}: LiDAR file is not N x {num_feats} float32 ({raw.size * 4} bytes): {path}')
    return raw.reshape(-1, num_feats)
