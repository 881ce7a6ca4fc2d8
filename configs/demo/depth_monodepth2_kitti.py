# Demo of configs/hybrid_depth/monodepth2_kitti.py, shrunk for a CPU: random-init ResNet-18 encoder and PoseNet,
# synthetic KITTI (tools/make_synthetic.py --out-dir data/synthetic --preset small), 112x336 input, batch 4.
_base_ = ['../hybrid_depth/monodepth2_kitti.py']

data_root = 'data/synthetic/kitti_raw/'
img_height = 112
img_width = 336

model = dict(encoder=dict(pretrained=None), pose_net=dict(pretrained=None))


def resized(pipeline: list) -> list:
    """The real pipeline at the demo's input size."""
    return [dict(t, height=img_height, width=img_width) if t['type'] == 'ResizeDepthFrames' else t for t in pipeline]


train_pipeline = resized(_base_.train_pipeline)
val_pipeline = resized(_base_.val_pipeline)
test_pipeline = resized(_base_.test_pipeline)
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=val_pipeline))
test_dataloader = dict(num_workers=0, persistent_workers=False,
                       dataset=dict(data_root=data_root, pipeline=test_pipeline))

train_cfg = dict(max_epochs=20, val_interval=10)
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=5, max_keep_ckpts=2))
