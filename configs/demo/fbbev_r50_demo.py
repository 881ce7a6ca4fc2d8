# CPU demo of configs/fbbev_r50.py, shrunk only, as configs/demo/bevdet_r50_demo.py shrinks bevdet_r50
# (configs/demo/_base_/nuscenes_demo.py; ResNet-18 from scratch with a 64-ch neck) plus a narrow backward
# projection; the camera-aware depth net at 64 channels; no CBGS.
#   python tools/train.py configs/demo/fbbev_r50_demo.py
#   python tools/test.py configs/demo/fbbev_r50_demo.py work_dirs/fbbev_r50_demo/epoch_2.pth
_base_ = ['./_base_/nuscenes_demo.py', '../_base_/models/fbbev_r50.py']
model = dict(_base_.tiny_r50, backward_projection=_base_.tiny_backward_projection, img_view_transformer=dict(
    _base_.tiny_r50.img_view_transformer, depth_net=dict(in_channels=64, mid_channels=64)))
train_dataloader = dict(dataset=dict(pipeline=_base_.depth_train_pipeline))  # LiDAR depth supervision
default_hooks = dict(logger=dict(interval=8), checkpoint=dict(interval=2, max_keep_ckpts=1))
val_evaluator = dict(type='FBBEVNuScenesMetric')
test_evaluator = val_evaluator
