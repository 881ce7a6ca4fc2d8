# Demo of configs/hybrid_depth/coarse_tusimple.py, shrunk for a CPU: tiny random-init encoder and text tower,
# synthetic TuSimple (tools/make_synthetic.py --out-dir data/synthetic --preset small; one label file, also used
# for evaluation), the official 224x392 input, 60 short epochs.
_base_ = ['../hybrid_depth/coarse_tusimple.py']

data_root = 'data/synthetic/tusimple/'
max_epochs = 60

tiny_clip = dict(embed_dim=64, vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
model = dict(
    encoder=dict(clip_pretrained=None, clip_model_cfg=tiny_clip, dino_model='vit_small_patch14_dinov2',
                 dino_pretrained=None, dino_kwargs=dict(img_size=56, embed_dim=48, depth=4, num_heads=2),
                 dino_indices=[0, 1, 2, 3], clip_align_channels=16),
    prompt_bank=dict(clip_pretrained=None, clip_model_cfg=tiny_clip))

train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, label_files=['label_data_0313.json']))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, label_files=['label_data_0313.json']))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=max_epochs, val_interval=20)
param_scheduler = [
    dict(type='OneCycleLR', eta_max=3.57e-3, total_steps=max_epochs, pct_start=0.3, div_factor=25.0,
         final_div_factor=100.0, anneal_strategy='cos', by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingMomentum', eta_min=0.85, begin=0, end=0.3 * max_epochs, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingMomentum', eta_min=0.95, begin=0.3 * max_epochs, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True),
]
optim_wrapper = dict(optimizer=dict(lr=3.57e-3))  # random-init tiny model: 10x the pretrained learning rate
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=20, max_keep_ckpts=1))
