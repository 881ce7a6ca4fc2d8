# Coarse stage (official): AdamW 3.57e-4, weight decay 0.1, OneCycle, gradient clipping 0.1, 20 epochs, batch 6.
max_epochs = 20
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=3.57e-4, weight_decay=0.1),
                     clip_grad=dict(max_norm=0.1))
param_scheduler = [dict(type='OneCycleLR', eta_max=3.57e-4, total_steps=max_epochs, by_epoch=True,
                        convert_to_iter_based=True)]
auto_scale_lr = dict(enable=False, base_batch_size=6)
