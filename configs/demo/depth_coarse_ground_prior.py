# Demo of configs/hybrid_depth/coarse_ground_prior.py, shrunk for a CPU: tiny random-init encoder and text tower,
# synthetic KITTI (tools/make_synthetic.py --out-dir data/synthetic --preset small), 112x336 input
# (8 feature rows: nearest-cell sampling ties some of the 7 points), 20 short epochs.
_base_ = ['../hybrid_depth/coarse_ground_prior.py']

data_root = 'data/synthetic/kitti_raw/'
img_height = 112
img_width = 336
max_epochs = 20

tiny_clip = dict(embed_dim=64, vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
model = dict(
    encoder=dict(clip_pretrained=None, clip_model_cfg=tiny_clip, dino_model='vit_small_patch14_dinov2',
                 dino_pretrained=None, dino_kwargs=dict(img_size=56, embed_dim=48, depth=4, num_heads=2),
                 dino_indices=[0, 1, 2, 3], clip_align_channels=16),
    prompt_bank=dict(clip_pretrained=None, clip_model_cfg=tiny_clip))

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
