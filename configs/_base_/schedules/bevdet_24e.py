# BEVDet schedule: AdamW 2e-4, weight decay 1e-7, grad-clip 5, 200-iteration linear warm-up, 24 epochs,
# batch 8 per GPU on 8 GPUs (auto_scale_lr base 64), BEVDepth's EMA of the weights (MEGVIIEMAHook: decay
# 0.999 (1 - exp(-n / 2000)) from n = 10560, over parameters and BN statistics; projects/BEVDet/bevdet/ema.py).
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-7),
                     clip_grad=dict(max_norm=5, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=200),
    dict(type='MultiStepLR', by_epoch=True, begin=0, end=24, milestones=[24], gamma=0.1),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=24, val_interval=24)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
auto_scale_lr = dict(enable=False, base_batch_size=64)
custom_hooks = [dict(type='EMAHook', ema_type='MEGVIIExponentialMovingAverage', decay=0.999, init_updates=10560,
                     update_buffers=True, priority='NORMAL')]
