# FB-BEV-R50 (METHOD.md section 3; Li et al., ICCV 2023; model: _base_/models/fbbev_r50.py), trained as the
# official depth configs: LiDAR depth supervision, CBGS, weight decay 1e-2. tools/test.py reports mAP / NDS and
# the FRPN mask IoU (FBBEVNuScenesMetric, at 0.5 as upstream's evaluation).
# Differences from the official code: projects/FBBEV/README.md.
_base_ = ['./_base_/nuscenes_bevdepth_24e.py', './_base_/models/fbbev_r50.py']
model = dict(img_view_transformer=dict(input_size=_base_.input_size))  # the pipelines' final_size
val_evaluator = dict(type='FBBEVNuScenesMetric')
test_evaluator = val_evaluator
