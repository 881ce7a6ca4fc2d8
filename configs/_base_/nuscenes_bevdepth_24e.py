# nuscenes_bevdet and bevdet_24e as the depth-supervised configs train (the official depth configs): CBGS
# resampling, the LiDAR depth maps of `depth_train_pipeline`, weight decay 1e-2.
_base_ = ['./datasets/nuscenes_bevdet.py', './schedules/bevdet_24e.py']
train_dataloader = dict(dataset=dict(
    _delete_=True, type='CBGSDataset',
    dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.depth_train_pipeline)))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-2))
