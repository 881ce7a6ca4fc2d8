# Fine stage (official): AdamW 1e-4, weight decay 0.01, StepLR(15, 0.1), 30 epochs, batch 16.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=30, val_interval=1)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01))
param_scheduler = [dict(type='StepLR', step_size=15, gamma=0.1, by_epoch=True)]
auto_scale_lr = dict(enable=False, base_batch_size=16)
