# Coarse stage (official, modules/MainRunnerLM_vit2.py + params/basicParams_freeze_dino_clip_nodepth.yaml):
# AdamW 3.57e-4, weight decay 0.1, OneCycle per iteration (div 25, final_div 100, 30 % warm-up, cosine) with
# momentum (AdamW beta1) cycled 0.95 -> 0.85 -> 0.95, gradient-norm clipping 0.1, batch 6, 20 epochs.
max_epochs = 20
lr = 3.57e-4
pct_start = 0.3
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=lr, weight_decay=0.1, betas=(0.95, 0.999)),
                     clip_grad=dict(max_norm=0.1))
param_scheduler = [
    dict(type='OneCycleLR', eta_max=lr, total_steps=max_epochs, pct_start=pct_start, div_factor=25.0,
         final_div_factor=100.0, anneal_strategy='cos', by_epoch=True, convert_to_iter_based=True),
    # torch's OneCycleLR(cycle_momentum=True, base_momentum=0.85, max_momentum=0.95): cosine down, then up
    dict(type='CosineAnnealingMomentum', eta_min=0.85, begin=0, end=pct_start * max_epochs, by_epoch=True,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingMomentum', eta_min=0.95, begin=pct_start * max_epochs, end=max_epochs, by_epoch=True,
         convert_to_iter_based=True),
]
auto_scale_lr = dict(enable=False, base_batch_size=6)
