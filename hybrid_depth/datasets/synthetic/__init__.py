"""A procedural driving world written in the real dataset formats (nuScenes v1.0-mini, KITTI raw, TuSimple).

Entry points: :func:`generate_synthetic` (also ``tools/make_synthetic.py``), :func:`make_contact_sheet`,
and the building blocks (:func:`make_world`, :func:`render_camera`, :func:`render_lidar`).
"""
from .camera_rig import (
           Camera,
           Lidar,
           kitti_cameras,
           kitti_lidar,
           nuscenes_cameras,
           nuscenes_lidar,
           tusimple_camera,
)
from .contact_sheet import make_contact_sheet
from .generate import FORMATS, SyntheticPaths, generate_synthetic
from .kitti_writer import kitti_depth_map, read_calib_file
from .mmdet3d_infos import create_mmdet3d_nuscenes_infos
from .output import load_depth_png
from .presets import PRESETS, SyntheticPreset, get_preset
from .renderer import CameraRender, LidarScan, render_camera, render_lidar
from .world import World, make_world

__all__ = ['generate_synthetic', 'SyntheticPaths', 'FORMATS', 'make_contact_sheet', 'PRESETS',
           'SyntheticPreset',
           'get_preset', 'World', 'make_world', 'render_camera', 'render_lidar', 'CameraRender', 'LidarScan',
           'Camera', 'Lidar', 'nuscenes_cameras', 'nuscenes_lidar', 'kitti_cameras', 'kitti_lidar',
           'tusimple_camera', 'kitti_depth_map', 'read_calib_file', 'load_depth_png',
           'create_mmdet3d_nuscenes_infos']
