# Demo of configs/hybrid_depth/coarse_ground_prior.py, shrunk for a CPU: tiny random-init encoder and text tower,
# synthetic KITTI (tools/make_synthetic.py --out-dir data/synthetic --preset small), 112x336 input
# (8 feature rows: nearest-cell sampling ties some of the 7 points), 20 short epochs.
_base_ = ['../hybrid_depth/coarse_ground_prior.py', './_base_/tiny_hybrid.py']

data_root = 'data/synthetic/kitti_raw/'
img_height = 112
img_width = 336
max_epochs = 20

model = dict(encoder=_base_.tiny_encoder, prompt_bank=_base_.tiny_prompt_bank)


def resized(pipeline: list) -> list:
    """The real pipeline at the demo's input size."""
    return [dict(t, height=img_height, width=img_width) if t['type'] == 'ResizeDepthFrames' else t for t in pipeline]


train_pipeline = resized(_base_.train_pipeline)
test_pipeline = resized(_base_.test_pipeline)
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=max_epochs, val_interval=10)
param_scheduler = [dict(type='OneCycleLR', eta_max=3.57e-3, total_steps=max_epochs, by_epoch=True,
                        convert_to_iter_based=True)]
optim_wrapper = dict(optimizer=dict(lr=3.57e-3))  # random-init tiny model: 10x the pretrained learning rate
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=10, max_keep_ckpts=1))
