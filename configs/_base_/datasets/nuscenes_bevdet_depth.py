# nuscenes_bevdet as the depth-supervised configs train on it (the official depth configs): CBGS resampling and
# the LiDAR depth maps of `depth_train_pipeline`.
_base_ = ['./nuscenes_bevdet.py']
train_dataloader = dict(dataset=dict(_delete_=True, type='CBGSDataset',
                                     dataset=dict(_base_.train_dataloader.dataset, pipeline=_base_.depth_train_pipeline)))
