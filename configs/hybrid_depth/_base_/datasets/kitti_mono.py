# KITTI raw, Monodepth2 protocol: eigen_zhou triplets [0, -1, 1] for training, eigen_zhou val with velodyne
# depth for validation, the Eigen test split (697 images, gt_depths.npz) for tools/test.py.
data_root = 'data/kitti_raw/'
img_height = 224
img_width = 672
frame_ids = [0, -1, 1]
num_scales = 4

train_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='RandomFlipDepthFrames', prob=0.5),
    dict(type='ColorJitterDepthFrames', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1, prob=0.5),
    dict(type='PackDepthInputs', frame_ids=frame_ids, num_scales=num_scales),
]
val_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='LoadKittiVelodyneDepth'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='PackDepthInputs', frame_ids=[0], num_scales=num_scales),
]
test_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='PackDepthInputs', frame_ids=[0], num_scales=num_scales),
]

train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='KittiRawDepthDataset', data_root=data_root, ann_file='splits/eigen_zhou/train_files.txt',
                 frame_ids=frame_ids, img_ext='.jpg', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='KittiRawDepthDataset', data_root=data_root, ann_file='splits/eigen_zhou/val_files.txt',
                 frame_ids=[0], img_ext='.jpg', with_velodyne=True, test_mode=True, pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='KittiEigenTestDataset', data_root=data_root, ann_file='splits/eigen/test_files.txt',
                 gt_file='splits/eigen/gt_depths.npz', img_ext='.jpg', pipeline=test_pipeline))
# validation: the same protocol on the eigen_zhou val frames, ground truth projected from their velodyne scans
val_evaluator = dict(type='KittiEigenDepthMetric', prefix='kitti_val')
test_evaluator = dict(type='KittiEigenDepthMetric')
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
