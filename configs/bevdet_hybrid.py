# BEVDet with the Hybrid-depth image branch (model: _base_/models/bevdet_hybrid.py), trained as the official
# depth configs: LiDAR depth supervision, CBGS, weight decay 1e-2; everything else as bevdet_r50.
_base_ = ['./_base_/datasets/nuscenes_bevdet_depth.py', './_base_/models/bevdet_hybrid.py',
          './_base_/schedules/bevdet_24e.py']
model = dict(img_view_transformer=dict(input_size=_base_.input_size))  # the pipelines' final_size
optim_wrapper = dict(optimizer=dict(weight_decay=1e-2))
