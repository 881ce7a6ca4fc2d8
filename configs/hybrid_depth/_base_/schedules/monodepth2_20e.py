# Monodepth2 (official): Adam 1e-4, StepLR(15, 0.1), 20 epochs, batch 12.
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=1)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=1e-4))
param_scheduler = [dict(type='StepLR', step_size=15, gamma=0.1, by_epoch=True)]
auto_scale_lr = dict(enable=False, base_batch_size=12)
