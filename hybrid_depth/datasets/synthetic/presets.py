"""Size presets of the synthetic world: ``tiny`` (CI), ``small`` (the demo), ``depth`` (the small world with a KITTI
large enough to train and measure depth on), ``full`` (configurable)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

__all__ = ['NuScenesConfig', 'KittiConfig', 'TuSimpleConfig', 'SyntheticPreset', 'PRESETS', 'get_preset']


@dataclass(frozen=True)
class NuScenesConfig:
    """nuScenes ``v1.0-mini`` writer settings.

    Attributes:
        keyframes: samples per scene (2 Hz); the 10 mini scenes are always written.
        cam_sweeps: camera sweeps between consecutive keyframes (12 Hz spacing, at most 5).
        scale: image scale of the 1600 x 900 cameras.
        lidar_azimuth: LIDAR_TOP firings per revolution and beam (32 beams).
        depth_maps: also write the exact depth of every camera frame (``depth/{samples,sweeps}/CAM_*/*.png``).
    """

    keyframes: int = 3
    cam_sweeps: int = 2
    scale: float = 0.25
    lidar_azimuth: int = 1080
    depth_maps: bool = True


@dataclass(frozen=True)
class KittiConfig:
    """KITTI raw writer settings.

    Attributes:
        drives: number of drives; the last ``test_drives`` form the Eigen test split.
        frames: frames per drive (10 Hz).
        test_drives: drives reserved for ``splits/eigen/test_files.txt`` and ``gt_depths.npz``.
        test_frames: Eigen test frames per test drive, spread evenly over its frames with both neighbours
            (``None``: all of them).
        scale: image scale of the 1242 x 375 cameras.
        lidar_azimuth: velodyne firings per revolution and beam (64 beams).
    """

    drives: int = 3
    frames: int = 5
    test_drives: int = 1
    test_frames: int | None = None
    scale: float = 0.5
    lidar_azimuth: int = 1000


@dataclass(frozen=True)
class TuSimpleConfig:
    """TuSimple writer settings.

    Attributes:
        clips: number of labelled clips.
        frames: frames written per clip, ending with the labelled ``20.jpg``.
        scale: image scale of the 1280 x 720 camera (labels are in pixels of the written image).
    """

    clips: int = 4
    frames: int = 1
    scale: float = 0.5


@dataclass(frozen=True)
class SyntheticPreset:
    """All writer settings of one preset."""

    nuscenes: NuScenesConfig = field(default_factory=NuScenesConfig)
    kitti: KittiConfig = field(default_factory=KittiConfig)
    tusimple: TuSimpleConfig = field(default_factory=TuSimpleConfig)


PRESETS: dict[str, SyntheticPreset] = {
    'tiny': SyntheticPreset(
        NuScenesConfig(keyframes=2, cam_sweeps=2, scale=0.25, lidar_azimuth=1080),
        KittiConfig(drives=3, frames=4, test_drives=1, scale=0.4, lidar_azimuth=900),
        TuSimpleConfig(clips=3, frames=1, scale=0.5)),
    # the demo's world: nuScenes at the demo detectors' resolution (352 x 198 -> their 128 x 352 crop) and the real
    # v1.0-mini's scene length (~40 keyframes: 320 train / 80 val samples); no camera sweeps (nothing in the demo
    # reads them) keeps the render at ~5 min on 2 cores
    'small': SyntheticPreset(
        NuScenesConfig(keyframes=40, cam_sweeps=0, scale=0.22, lidar_azimuth=1440),
        KittiConfig(drives=3, frames=10, test_drives=1, scale=0.75, lidar_azimuth=1500),
        TuSimpleConfig(clips=8, frames=1, scale=0.75)),
    # the small world with a KITTI to learn depth from and measure it on (issue 24): 40 train drives x 100 frames
    # at the small preset's scale (6320 eigen_zhou train / 1520 val lines), 6 test drives x 20 frames spread over
    # each (120 Eigen test frames); render KITTI alone with --formats kitti, in parallel with --workers
    'depth': SyntheticPreset(
        NuScenesConfig(keyframes=40, cam_sweeps=0, scale=0.22, lidar_azimuth=1440),
        KittiConfig(drives=46, frames=100, test_drives=6, test_frames=20, scale=0.75, lidar_azimuth=1500),
        TuSimpleConfig(clips=8, frames=1, scale=0.75)),
    'full': SyntheticPreset(
        NuScenesConfig(keyframes=20, cam_sweeps=5, scale=1.0, lidar_azimuth=2160),
        KittiConfig(drives=10, frames=50, test_drives=2, scale=1.0, lidar_azimuth=2000),
        TuSimpleConfig(clips=100, frames=1, scale=1.0)),
}


def get_preset(name: str, scale: float | None = None, **overrides: int | float) -> SyntheticPreset:
    """A preset with optional changes.

    Args:
        name: ``'tiny'``, ``'small'``, ``'depth'`` or ``'full'``.
        scale: if given, the image scale of every format.
        **overrides: ``<format>_<field>`` values, e.g. ``nuscenes_keyframes=10``, ``kitti_frames=100``.

    Returns:
        The preset.

    Raises:
        KeyError: unknown preset name or override key.
    """
    if name not in PRESETS:
        raise KeyError(f'unknown preset {name!r}; choose one of {sorted(PRESETS)}')
    preset = PRESETS[name]
    parts = {'nuscenes': preset.nuscenes, 'kitti': preset.kitti, 'tusimple': preset.tusimple}
    if scale is not None:
        parts = {k: replace(v, scale=float(scale)) for k, v in parts.items()}
    for key, value in overrides.items():
        if value is None:
            continue
        fmt, _, fld = key.partition('_')
        if fmt not in parts or fld not in {f.name for f in fields(parts[fmt])}:
            raise KeyError(f'unknown preset override {key!r}')
        parts[fmt] = replace(parts[fmt], **{fld: value})
    if parts['nuscenes'].keyframes < 2:
        raise ValueError(f'nuscenes_keyframes must be >= 2 (got {parts["nuscenes"].keyframes})')
    if not 0 <= parts['nuscenes'].cam_sweeps <= 5:
        raise ValueError(f'nuscenes_cam_sweeps must be in 0..5 (got {parts["nuscenes"].cam_sweeps})')
    if parts['kitti'].frames < 3 or parts['kitti'].drives <= parts['kitti'].test_drives:
        raise ValueError('kitti needs frames >= 3 and more drives than test_drives')
    if parts['kitti'].test_frames is not None and parts['kitti'].test_frames < 1:
        raise ValueError(f'kitti_test_frames must be >= 1 (got {parts["kitti"].test_frames})')
    return SyntheticPreset(**parts)
