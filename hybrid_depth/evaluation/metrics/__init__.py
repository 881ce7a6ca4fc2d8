"""Registered depth metrics: KITTI Eigen, nuScenes depth against projected LiDAR, coarse-stage ordering; KITTI
odometry pose (snippet ATE)."""
from .kitti_eigen_metric import KittiEigenDepthMetric, format_depth_table
from .kitti_pose_metric import KittiPoseMetric
from .lidar_depth_metric import NuScenesLidarDepthMetric
from .ordering_metric import DepthOrderingMetric, pair_ordering_counts

__all__ = ['DepthOrderingMetric', 'KittiEigenDepthMetric', 'KittiPoseMetric', 'NuScenesLidarDepthMetric',
           'format_depth_table', 'pair_ordering_counts']
