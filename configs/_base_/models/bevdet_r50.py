# BEVDet-R50 model (BEVDet dev2 generation, METHOD.md section 2): ResNet-50 stages 3-4 -> CustomFPN (256 ch,
# stride 16) -> LSS (D=59, 64 ch, 128x128 x 0.8 m, ego frame) -> BEV ResNet + FPN_LSS -> CenterHead (one
# task, 10 classes) with Scale-NMS. The view transformer's input_size is the pipelines' (the leaf hands it over).
# ImageNet weights as upstream (torchvision://resnet50), read from the local torch hub cache only
# (projects/BEVDet/bevdet/pretrained.py; a missing file stops with its path); from scratch:
# --cfg-options model.img_backbone.init_cfg=None.
_base_ = ['../default_runtime.py']
custom_imports = dict(imports=['hybrid_depth', 'projects.BEVDet.bevdet'], allow_failed_imports=False)

voxel_size = [0.1, 0.1, 0.2]
grid_config = dict(x=(-51.2, 51.2, 0.8), y=(-51.2, 51.2, 0.8), z=(-5.0, 3.0, 8.0), depth=(1.0, 60.0, 1.0))
# Scale-NMS factors in mmdet3d's class order (car, truck, trailer, bus, construction_vehicle, bicycle,
# motorcycle, pedestrian, traffic_cone, barrier)
nms_rescale_factor = [1.0, 0.7, 0.55, 0.4, 0.7, 1.0, 1.0, 1.5, 3.5, 1.1]
post_center_range = [-61.2, -61.2, -10.0, 61.2, 61.2, 10.0]

model = dict(
    type='BEVDet',
    data_preprocessor=dict(type='Det3DDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                           bgr_to_rgb=True),
    img_backbone=dict(type='mmdet.ResNet', depth=50, num_stages=4, out_indices=(2, 3), frozen_stages=-1,
                      norm_cfg=dict(type='BN', requires_grad=True), norm_eval=False, style='pytorch',
                      init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    img_neck=dict(type='BEVDetCustomFPN', in_channels=[1024, 2048], out_channels=256),
    img_view_transformer=dict(type='BEVDetLSSViewTransformer', grid_config=grid_config, downsample=16, out_channels=64,
                              loss_depth_weight=0.0, depth_net=dict(type='BEVDetDepthNet', in_channels=256)),
    img_bev_encoder_backbone=dict(type='BEVDetResNet', in_channels=64, num_layers=(2, 2, 2),
                                  num_channels=(128, 256, 512), strides=(2, 2, 2)),
    img_bev_encoder_neck=dict(type='BEVDetFPNLSS', in_channels=128 + 512, out_channels=256,
                              input_feature_index=(0, 2), scale_factor=4, extra_upsample=2),
    pts_bbox_head=dict(
        type='BEVDetCenterHead',
        in_channels=256,
        tasks=[dict(num_class=10, class_names=['car', 'truck', 'trailer', 'bus', 'construction_vehicle', 'bicycle',
                                               'motorcycle', 'pedestrian', 'traffic_cone', 'barrier'])],
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        share_conv_channel=64,
        bbox_coder=dict(type='CenterPointBBoxCoder', pc_range=[-51.2, -51.2], post_center_range=post_center_range,
                        max_num=500, score_threshold=0.1, out_size_factor=8, voxel_size=voxel_size[:2], code_size=9),
        separate_head=dict(type='SeparateHead', init_bias=-2.19, final_kernel=3),
        loss_cls=dict(type='mmdet.GaussianFocalLoss', reduction='mean'),
        loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
        norm_bbox=True,
        train_cfg=dict(point_cloud_range=[-51.2, -51.2, -5.0, 51.2, 51.2, 3.0], grid_size=[1024, 1024, 40],
                       voxel_size=voxel_size, out_size_factor=8, dense_reg=1, gaussian_overlap=0.1, max_objs=500,
                       min_radius=2, code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2]),
        test_cfg=dict(post_center_limit_range=post_center_range, score_threshold=0.1, pre_max_size=1000,
                      post_max_size=500, nms_type='rotate', nms_thr=0.2, nms_rescale_factor=[nms_rescale_factor])))
