# nuScenes for BEVDet: 6 cameras at 256x704, BEVDet image-view and BEV augmentation, ground truth moved to the
# ego frame, NuScenesMetric (nuscenes-devkit). `train_pipeline` loads no LiDAR (BEVDet has no depth loss);
# depth-supervised variants (loss_depth_weight > 0) train on `depth_train_pipeline`, which adds the LiDAR
# points and their depth maps in the augmented images.
# Info files: `python tools/create_data.py nuscenes --root-path DATA_ROOT --out-dir DATA_ROOT`.
dataset_type = 'BEVDetNuScenesDataset'  # NuScenesDataset + the info-file contract
data_root = 'data/nuscenes/'
class_names = ['car', 'truck', 'trailer', 'bus', 'construction_vehicle', 'bicycle', 'motorcycle', 'pedestrian',
               'traffic_cone', 'barrier']
metainfo = dict(classes=class_names, version='v1.0-trainval')  # NuScenesMetric reads the version here
point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]  # ego frame
input_size = (256, 704)
input_modality = dict(use_lidar=True, use_camera=True)  # LiDAR only for the depth targets
cameras = ['CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT']
data_prefix = dict(pts='samples/LIDAR_TOP', sweeps='sweeps/LIDAR_TOP', **{cam: f'samples/{cam}' for cam in cameras})
backend_args = None
meta_keys = ('sample_idx', 'token', 'box_type_3d', 'img_path', 'img_shape', 'ori_shape', 'cam2img', 'cam2ego',
             'post_rots', 'post_trans', 'bda', 'lidar2ego', 'ego2global')

train_pipeline = [
    dict(type='BEVDetLoadMultiViewImages', final_size=input_size, cameras=cameras, is_train=True,
         resize_lim=(-0.06, 0.11), bot_pct_lim=(0.0, 0.0), rot_lim=(-5.4, 5.4), flip=True),
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
    dict(type='BEVDetLidarBoxesToEgo'),
    dict(type='BEVDetBEVAugmentation', rot_lim=(-22.5, 22.5), scale_lim=(0.95, 1.05), flip_dx_ratio=0.5,
         flip_dy_ratio=0.5, is_train=True),
    dict(type='ObjectRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectNameFilter', classes=class_names),
    dict(type='BEVDetPackInputs', keys=['img', 'gt_bboxes_3d', 'gt_labels_3d'], meta_keys=meta_keys),
]
depth_train_pipeline = train_pipeline[:1] + [
    dict(type='LoadPointsFromFile', coord_type='LIDAR', load_dim=5, use_dim=5, backend_args=backend_args),
    # the range of the models' grid_config['depth'] (tests/configs/test_detector_demo_configs.py checks it)
    dict(type='BEVDetMultiViewDepthTargets', depth_range=(1.0, 60.0)),
] + train_pipeline[1:]
test_pipeline = [
    dict(type='BEVDetLoadMultiViewImages', final_size=input_size, cameras=cameras, is_train=False,
         bot_pct_lim=(0.0, 0.0)),
    dict(type='BEVDetLidarBoxesToEgo'),
    dict(type='BEVDetBEVAugmentation', is_train=False),
    dict(type='BEVDetPackInputs', keys=['img'], meta_keys=meta_keys),
]

# pin_memory: page-locked batches for faster, asynchronous host-to-GPU copies (ignored without a GPU). The
# workers hand batches over through shared memory (/dev/shm): see the README ("Many processes, GPUs and nodes").
train_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='nuscenes_infos_train.pkl', pipeline=train_pipeline,
                 metainfo=metainfo, modality=input_modality, data_prefix=data_prefix, test_mode=False,
                 use_valid_flag=True, box_type_3d='LiDAR', backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='nuscenes_infos_val.pkl', pipeline=test_pipeline,
                 metainfo=metainfo, modality=input_modality, data_prefix=data_prefix, test_mode=True,
                 box_type_3d='LiDAR', backend_args=backend_args))
test_dataloader = val_dataloader

# mmdet3d's NuScenesMetric, plus a devkit-consistent score (mAP 0, NDS 0) for a result set without any box
val_evaluator = dict(type='BEVDetNuScenesMetric', data_root=data_root, ann_file=data_root + 'nuscenes_infos_val.pkl',
                     metric='bbox', backend_args=backend_args)
test_evaluator = val_evaluator
