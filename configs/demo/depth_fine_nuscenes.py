# Demo of configs/hybrid_depth/fine_nuscenes.py, shrunk for a CPU: the fine demo's tiny model on the synthetic
# nuScenes v1.0-mini (tools/make_synthetic.py --out-dir data/synthetic), 126x224 input, front cameras, 2 epochs.
_base_ = ['../hybrid_depth/fine_nuscenes.py', './_base_/tiny_hybrid.py']

data_root = 'data/synthetic/nuscenes/'
version = 'v1.0-mini'
img_height = 126
img_width = 224
load_from = None

model = _base_.tiny_fine  # the sigmoid head: configs/demo/_base_/tiny_hybrid.py


def resized(pipeline: list) -> list:
    """The real pipeline at the demo's input size."""
    return [dict(t, height=img_height, width=img_width) if t['type'] == 'ResizeDepthFrames' else t for t in pipeline]


train_pipeline = resized(_base_.train_pipeline)
test_pipeline = resized(_base_.test_pipeline)
cameras = ['CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT']
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, version=version, split='mini_train', cameras=cameras,
                                     pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, version=version, split='mini_val',
                                   pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=2, val_interval=2)
optim_wrapper = dict(optimizer=dict(lr=5e-4))  # random-init tiny model: a larger step than the pretrained one
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=1, max_keep_ckpts=2))
