"""Registered depth metrics: KITTI Eigen, nuScenes depth against projected LiDAR, coarse-stage ordering."""
from .kitti_eigen_metric import KittiEigenDepthMetric, format_depth_table
from .lidar_depth_metric import NuScenesLidarDepthMetric
from .ordering_metric import DepthOrderingMetric, pair_ordering_counts

__all__ = ['DepthOrderingMetric', 'KittiEigenDepthMetric', 'NuScenesLidarDepthMetric', 'format_depth_table',
           'pair_ordering_counts']
