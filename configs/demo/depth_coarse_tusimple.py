# Demo of configs/hybrid_depth/coarse_tusimple.py, shrunk for a CPU: tiny random-init encoder and text tower,
# synthetic TuSimple (tools/make_synthetic.py --out-dir data/synthetic --preset small; one label file, also used
# for evaluation), the official 224x392 input, 60 short epochs.
_base_ = ['../hybrid_depth/coarse_tusimple.py', './_base_/tiny_hybrid.py']

data_root = 'data/synthetic/tusimple/'
max_epochs = 60

model = dict(encoder=_base_.tiny_encoder, prompt_bank=_base_.tiny_prompt_bank)

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
