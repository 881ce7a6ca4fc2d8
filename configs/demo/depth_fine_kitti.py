# Demo of configs/hybrid_depth/fine_kitti.py, shrunk for a CPU: tiny random-init encoder/text tower/decoder,
# random-init PoseNet, synthetic KITTI (tools/make_synthetic.py --out-dir data/synthetic --preset small),
# 64x192 input, batch 4, 35 short epochs (420 iterations), no coarse checkpoint.
_base_ = ['../hybrid_depth/fine_kitti.py', './_base_/tiny_hybrid.py']

data_root = 'data/synthetic/kitti_raw/'
img_height = 64
img_width = 192
load_from = None

model = _base_.tiny_fine  # the sigmoid head: configs/demo/_base_/tiny_hybrid.py


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

train_cfg = dict(max_epochs=35, val_interval=35)
param_scheduler = [dict(type='StepLR', step_size=30, gamma=0.1, by_epoch=True)]
optim_wrapper = dict(optimizer=dict(lr=5e-4))  # random-init tiny model: a larger step than the pretrained one
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=5, max_keep_ckpts=2))
