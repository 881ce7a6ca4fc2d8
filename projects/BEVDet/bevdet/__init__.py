"""BEVDet on mmdet3d 1.x (https://arxiv.org/abs/2112.11790): importing this package registers its modules.

Modules, one file per role: ``detector`` (``BEVDet``), ``view_transformer`` (``BEVDetLSSViewTransformer``),
``bev_pool`` (pure-PyTorch voxel pooling), ``depth_net`` (``BEVDetDepthNet``, ``BEVDepthCameraAwareDepthNet``),
``ema`` (``MEGVIIExponentialMovingAverage`` for mmengine's ``EMAHook``), ``pretrained`` (``torchvision://`` from
the local torch hub cache),
``bev_encoder`` (``BEVDetResNet``, ``BEVDetFPNLSS``), ``image_neck`` (``BEVDetCustomFPN``), ``head``
(``BEVDetCenterHead``), ``nuscenes_metric`` (``BEVDetNuScenesMetric``), ``transforms``, ``frames`` (camera ->
key ego, ego <-> LiDAR boxes) ``info_contract``
(``BEVDetNuScenesDataset``: mmdet3d 1.x infos or one clear error).
"""
from .bev_encoder import BEVDetFPNLSS, BEVDetResNet
from .bev_pool import bev_pool, bev_pool_index_add, bev_pool_reference, plan_bev_pool, voxel_ranks
from .depth_net import BEVDepthCameraAwareDepthNet, BEVDetDepthNet
from .detector import BEVDet
from .ema import MEGVIIExponentialMovingAverage
from .frames import cam2keyego, ego_to_lidar_boxes, lidar_to_ego_boxes, transform_boxes
from .head import BEVDetCenterHead, scale_nms
from .image_neck import BEVDetCustomFPN
from .info_contract import BEVDetNuScenesDataset, InfoFileError, check_nuscenes_infos
from .nuscenes_metric import BEVDetNuScenesMetric
from .pretrained import load_torchvision_from_hub_cache
from .transforms import (
    BEVDetBEVAugmentation,
    BEVDetLidarBoxesToEgo,
    BEVDetLoadMultiViewImages,
    BEVDetMultiViewDepthTargets,
    BEVDetPackInputs,
)
from .view_transformer import BEVDetLSSViewTransformer, bev_to_image, frustum_to_bev

__all__ = [
    'BEVDet', 'BEVDetBEVAugmentation', 'BEVDetCenterHead', 'BEVDetCustomFPN', 'BEVDetDepthNet', 'BEVDetFPNLSS',
    'BEVDetLSSViewTransformer', 'BEVDetLidarBoxesToEgo', 'BEVDetNuScenesDataset', 'BEVDetNuScenesMetric',
    'InfoFileError', 'cam2keyego', 'check_nuscenes_infos',
    'BEVDetLoadMultiViewImages', 'BEVDetMultiViewDepthTargets',
    'BEVDetPackInputs', 'BEVDetResNet', 'BEVDepthCameraAwareDepthNet', 'MEGVIIExponentialMovingAverage', 'bev_pool',
    'bev_pool_index_add', 'load_torchvision_from_hub_cache',
    'bev_pool_reference', 'bev_to_image', 'frustum_to_bev', 'ego_to_lidar_boxes', 'lidar_to_ego_boxes',
    'plan_bev_pool', 'scale_nms',
    'transform_boxes', 'voxel_ranks'
]
