"""Datasets: KITTI, TuSimple and nuScenes sequences, transforms, and the synthetic world (``synthetic``)."""
from . import depth_transforms, ground_prior, kitti_eigen, kitti_raw, nuscenes_sweeps, tusimple_lanes  # noqa: F401
