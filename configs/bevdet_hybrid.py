# BEVDet with the Hybrid-depth image branch (model: _base_/models/bevdet_hybrid.py), trained as the official
# depth configs: LiDAR depth supervision, CBGS, weight decay 1e-2; everything else as bevdet_r50.
_base_ = ['./_base_/nuscenes_bevdepth_24e.py', './_base_/models/bevdet_hybrid.py']
model = dict(img_view_transformer=dict(input_size=_base_.input_size))  # the pipelines' final_size
