# Demo of configs/hybrid_depth/monodepth2_kitti.py, shrunk for a CPU: random-init ResNet-18 encoder and PoseNet,
# synthetic KITTI (tools/make_synthetic.py --out-dir data/synthetic --preset small), 112x336 input, batch 4.
_base_ = ['../hybrid_depth/monodepth2_kitti.py']

data_root = 'data/synthetic/kitti_raw/'
img_height = 112
img_width = 336

model = dict(encoder=dict(pretrained=None), pose_net=dict(pretrained=None))

train_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='RandomFlipDepthFrames', prob=0.5),
    dict(type='ColorJitterDepthFrames', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1, prob=0.5),
    dict(type='PackDepthInputs', frame_ids=[0, -1, 1], num_scales=4),
]
val_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='LoadKittiVelodyneDepth'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='PackDepthInputs', frame_ids=[0], num_scales=4),
]
test_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='PackDepthInputs', frame_ids=[0], num_scales=4),
]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root=data_root, pipeline=test_pipeline))

train_cfg = dict(max_epochs=20, val_interval=10)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=5, max_keep_ckpts=2))
