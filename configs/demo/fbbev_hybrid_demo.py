# CPU demo of configs/fbbev_hybrid.py, shrunk only, exactly as configs/demo/bevdet_hybrid_demo.py shrinks
# bevdet_hybrid (configs/demo/_base_/nuscenes_demo.py, so the two demos compare) plus a narrow backward projection.
#   python tools/make_synthetic.py --out-dir data/synthetic --preset small --formats nuscenes --mmdet3d-infos
#   python tools/train.py configs/demo/fbbev_hybrid_demo.py
#   python tools/test.py configs/demo/fbbev_hybrid_demo.py work_dirs/fbbev_hybrid_demo/epoch_2.pth
_base_ = ['./_base_/nuscenes_demo.py', '../_base_/models/fbbev_hybrid.py']
model = dict(_base_.tiny_hybrid, backward_projection=_base_.tiny_backward_projection)
train_dataloader = dict(dataset=dict(pipeline=_base_.depth_train_pipeline))  # LiDAR depth supervision
default_hooks = dict(logger=dict(interval=8), checkpoint=dict(interval=2, max_keep_ckpts=1))
val_evaluator = dict(type='FBBEVNuScenesMetric')
test_evaluator = val_evaluator
