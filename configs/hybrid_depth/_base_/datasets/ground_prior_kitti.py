# Flat-ground prior on KITTI raw: 5 lateral offsets x 7 distances (6-40 m) below the 1.65 m high colour camera.
data_root = 'data/kitti_raw/'
img_height = 224
img_width = 672

train_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='RandomFlipDepthFrames', prob=0.5),
    dict(type='ColorJitterDepthFrames', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1, prob=0.5),
    dict(type='PackDepthInputs', frame_ids=[0], max_groups=5),
]
test_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='PackDepthInputs', frame_ids=[0], max_groups=5),
]
ground_prior = dict(camera_height=1.65, distances=[6.0, 8.0, 11.0, 15.0, 21.0, 29.0, 40.0],
                    lateral_offsets=[-3.5, -1.75, 0.0, 1.75, 3.5])
train_dataloader = dict(
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='GroundPriorOrderDataset', data_root=data_root, ann_file='splits/eigen_zhou/train_files.txt',
                 pipeline=train_pipeline, **ground_prior))
val_dataloader = dict(
    batch_size=6,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='GroundPriorOrderDataset', data_root=data_root, ann_file='splits/eigen_zhou/val_files.txt',
                 test_mode=True, pipeline=test_pipeline, **ground_prior))
test_dataloader = val_dataloader
val_evaluator = dict(type='DepthOrderingMetric')
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
