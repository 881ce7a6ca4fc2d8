# CPU demo of configs/bevdet_r50.py, shrunk only (configs/demo/_base_/nuscenes_demo.py: synthetic nuScenes, 128x352
# input, 1.6 m BEV cells, 2 m depth bins, narrow BEV encoder and head, batch 2, 2 epochs without EMA) with a
# ResNet-18 image backbone (random init, no ImageNet file) and a 64-ch neck. Like the full config it has no depth
# supervision (BEVDet's loss_depth_weight = 0): the baseline of the paper's Table 8.
#   python tools/train.py configs/demo/bevdet_r50_demo.py
#   python tools/test.py configs/demo/bevdet_r50_demo.py work_dirs/bevdet_r50_demo/epoch_2.pth
_base_ = ['./_base_/nuscenes_demo.py', '../_base_/models/bevdet_r50.py']
model = _base_.tiny_r50
default_hooks = dict(logger=dict(interval=8), checkpoint=dict(interval=2, max_keep_ckpts=1))
