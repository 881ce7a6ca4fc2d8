# The synthetic model zoo's detector schedule (issue 24): the demo configs trained 30x longer on the same `small`
# world (320 train samples, batch 2: 160 iterations per epoch). Stated here once, under names no demo uses
# (mmengine refuses two bases with the same key); each zoo config assigns them. Checkpoints every epoch (about
# 2 min on 2 idle cores), so a run interrupted anywhere resumes with `tools/train.py CONFIG --resume`.
zoo_epochs = 60  # 9600 iterations
zoo_train_cfg = dict(max_epochs=zoo_epochs, val_interval=10)
zoo_param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=zoo_epochs, T_max=zoo_epochs, eta_min=1e-5,
         convert_to_iter_based=True),
]
zoo_default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, max_keep_ckpts=2))
