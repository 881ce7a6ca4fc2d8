# nuScenes camera sweeps (6 cameras, 12 Hz triplets [0, -1, 1], their own intrinsics) for training; keyframes
# with the projected LIDAR_TOP depth for validation / testing. 252x448 keeps the 16:9 frame on the 1/14 grid.
data_root = 'data/nuscenes/'
version = 'v1.0-trainval'
img_height = 252
img_width = 448
frame_ids = [0, -1, 1]

train_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='RandomFlipDepthFrames', prob=0.5),
    dict(type='ColorJitterDepthFrames', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1, prob=0.5),
    dict(type='PackDepthInputs', frame_ids=frame_ids, num_scales=4),
]
test_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='LoadNuScenesLidarDepth'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='PackDepthInputs', frame_ids=[0], num_scales=4),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='NuScenesSweepsDepthDataset', data_root=data_root, version=version, split='train',
                 frame_ids=frame_ids, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='NuScenesSweepsDepthDataset', data_root=data_root, version=version, split='val',
                 frame_ids=[0], with_lidar_depth=True, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='NuScenesLidarDepthMetric')
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
