"""Generate the synthetic world in the requested dataset formats, atomically, into one folder.

``<out>/nuscenes`` (nuScenes v1.0-mini dataroot), ``<out>/kitti_raw`` (Monodepth2 ``data_path`` with
``splits/``), ``<out>/kitti_odom`` (KITTI odometry layout of the KITTI test drives, with ``poses/``),
``<out>/tusimple`` (TuSimple root) and ``<out>/synthetic_meta.json`` (preset, seed, counts).
"""
from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm import tqdm

from hybrid_depth.utils.atomic import atomic_directory

from .kitti_odometry_writer import write_kitti_odometry
from .kitti_writer import write_kitti
from .mmdet3d_infos import create_mmdet3d_nuscenes_infos
from .nuscenes_writer import MINI_SCENES, write_nuscenes
from .presets import SyntheticPreset, get_preset
from .tusimple_writer import write_tusimple

__all__ = ['SyntheticPaths', 'generate_synthetic', 'FORMATS']

FORMATS = ('nuscenes', 'kitti', 'tusimple')


@dataclass(frozen=True)
class SyntheticPaths:
    """Where a generated world lives.

    Attributes:
        root: the output folder.
        nuscenes: nuScenes dataroot (``NuScenes('v1.0-mini', nuscenes)``), or None if not generated.
        kitti: KITTI raw root with ``splits/``, or None.
        tusimple: TuSimple root with ``label_data_0313.json``, or None.
        kitti_odom: KITTI odometry root (``sequences/``, ``poses/``, ``splits/odom``) of the KITTI test drives, or
            None.
    """

    root: Path
    nuscenes: Path | None
    kitti: Path | None
    tusimple: Path | None
    kitti_odom: Path | None = None


def _keep_freed_buffers() -> None:
    """Ask glibc malloc to keep large freed buffers (no mmap/munmap per temporary array).

    The renderer allocates many short-lived arrays of a few hundred kB; with glibc's defaults each one is
    mmapped and unmapped, and the page faults cost as much time as the maths. No-op elsewhere.
    """
    if not sys.platform.startswith('linux'):
        return
    try:
        libc = ctypes.CDLL('libc.so.6')
    except OSError:
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    libc.mallopt(m_mmap_threshold, 1 << 25)  # glibc's maximum (32 MiB on 64-bit)
    libc.mallopt(m_trim_threshold, 1 << 30)
    libc.mallopt(m_top_pad, 1 << 26)


def _frame_count(preset: SyntheticPreset, formats: Sequence[str]) -> int:
    n = 0
    if 'nuscenes' in formats:
        c = preset.nuscenes
        n += len(MINI_SCENES) * 6 * (c.keyframes + (c.keyframes - 1) * c.cam_sweeps)
    if 'kitti' in formats:
        n += preset.kitti.drives * preset.kitti.frames
    if 'tusimple' in formats:
        n += preset.tusimple.clips * preset.tusimple.frames
    return n


def generate_synthetic(out_dir: str | Path, preset: str | SyntheticPreset = 'tiny', seed: int = 0,
                       formats: Sequence[str] = FORMATS, force: bool = False, progress: bool = True,
                       mmdet3d_infos: bool = False, workers: int = 1) -> SyntheticPaths:
    """Render the world and write it in the requested formats.

    The folder is built under a temporary name next to ``out_dir`` and renamed when complete, so an
    interrupted run leaves nothing under ``out_dir``.

    Args:
        out_dir: output folder; must be absent or empty unless ``force``.
        preset: a preset name (``'tiny'``, ``'small'``, ``'depth'``, ``'full'``) or a :class:`SyntheticPreset`.
        seed: world seed; the same seed gives byte-identical files.
        formats: any of ``'nuscenes'``, ``'kitti'``, ``'tusimple'``.
        force: replace a non-empty ``out_dir``.
        progress: show a tqdm progress bar.
        mmdet3d_infos: also run mmdet3d's nuScenes info creation (``nuscenes_infos_{train,val}.pkl`` in the
            nuScenes root, see :mod:`.mmdet3d_infos`).
        workers: processes rendering the 10 nuScenes scenes or the KITTI drives in parallel, and updating the
            mmdet3d infos (1: in this process); the rendered files are byte-identical for any value, the infos
            equal entry for entry.

    Returns:
        The output paths.

    Raises:
        FileExistsError: ``out_dir`` is not empty and ``force`` is False.
        ValueError: an unknown format, or ``workers`` < 1.
    """
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise ValueError(f'unknown format(s) {bad}; choose from {list(FORMATS)}')
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    preset_name = preset if isinstance(preset, str) else 'custom'
    cfg = get_preset(preset) if isinstance(preset, str) else preset
    out = Path(out_dir).absolute()
    counts = {}
    _keep_freed_buffers()
    with atomic_directory(out, force=force) as tmp, \
            tqdm(total=_frame_count(cfg, formats), desc='synthetic world', unit='frame',
                 disable=not progress) as bar:
        if 'nuscenes' in formats:
            counts['nuscenes'] = write_nuscenes(tmp / 'nuscenes', cfg.nuscenes, seed, bar.update,
                                                workers=workers)
        if 'nuscenes' in formats and mmdet3d_infos:
            bar.set_postfix_str("running mmdet3d's info converter")
            create_mmdet3d_nuscenes_infos(tmp / 'nuscenes', workers=workers)
            bar.set_postfix_str('')
        if 'kitti' in formats:
            counts['kitti'] = write_kitti(tmp / 'kitti_raw', cfg.kitti, seed, bar.update, workers=workers)
            counts['kitti_odom'] = write_kitti_odometry(tmp / 'kitti_raw', tmp / 'kitti_odom')
        if 'tusimple' in formats:
            counts['tusimple'] = write_tusimple(tmp / 'tusimple', cfg.tusimple, seed, bar.update)
        meta = {'preset': preset_name, 'seed': seed, 'formats': list(formats), 'config': asdict(cfg),
                'counts': counts}
        (tmp / 'synthetic_meta.json').write_text(json.dumps(meta, indent=1, sort_keys=True) + '\n')
    return SyntheticPaths(root=out, nuscenes=out / 'nuscenes' if 'nuscenes' in formats else None,
                          kitti=out / 'kitti_raw' if 'kitti' in formats else None,
                          tusimple=out / 'tusimple' if 'tusimple' in formats else None,
                          kitti_odom=out / 'kitti_odom' if 'kitti' in formats else None)
