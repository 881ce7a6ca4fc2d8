"""Deterministic file output shared by the writers: tokens, JPEG/PNG images, JSON tables, and the start method of
their process pools (the world is written into a temporary folder, :func:`~hybrid_depth.utils.atomic.atomic_directory`,
so these write in place)."""
from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ['token', 'save_jpeg', 'save_depth_png', 'load_depth_png', 'dump_json', 'save_npz', 'pool_context',
           'JPEG_QUALITY', 'DEPTH_PNG_SCALE']

JPEG_QUALITY = 95
DEPTH_PNG_SCALE = 256.0  # uint16 value = depth [m] * 256 (KITTI depth-benchmark convention), 0 = no depth


def pool_context() -> multiprocessing.context.BaseContext:
    """The writers' process-pool context: ``fork`` where the platform has it (workers start without re-importing
    torch and mmdet3d), else the platform default."""
    return multiprocessing.get_context('fork' if 'fork' in multiprocessing.get_all_start_methods() else None)


def token(seed: int, *parts: object) -> str:
    """A 32-hex-digit token derived from the seed and a key (stable across runs and machines)."""
    return hashlib.md5('/'.join(str(p) for p in (seed, *parts)).encode()).hexdigest()


def save_jpeg(path: Path, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 image as JPEG with a fixed quality (deterministic bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format='JPEG', quality=JPEG_QUALITY, optimize=False, progressive=False)


def save_depth_png(path: Path, depth: np.ndarray) -> None:
    """Write an (H, W) float depth map in metres as a 16-bit PNG (``depth * 256``, 0 = invalid)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    d = np.clip(np.round(depth * DEPTH_PNG_SCALE), 0, 65535).astype(np.uint16)
    Image.fromarray(d).save(path, format='PNG', optimize=False)


def load_depth_png(path: str | Path) -> np.ndarray:
    """Read a depth PNG written by :func:`save_depth_png`: (H, W) float32 metres, 0 = invalid."""
    return np.asarray(Image.open(path), dtype=np.float32) / DEPTH_PNG_SCALE


def dump_json(path: Path, obj: object) -> None:
    """Write JSON with a stable layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, indent=0)
        f.write('\n')


def save_npz(path: Path, **arrays: np.ndarray) -> None:
    """``np.savez_compressed`` with fixed zip timestamps (byte-identical output; object arrays pickled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, 'w', compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arr), allow_pickle=True)
            info = zipfile.ZipInfo(f'{key}.npy', date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())
