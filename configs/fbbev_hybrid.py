# FB-BEV with the Hybrid-depth image branch (METHOD.md sections 1 and 3; model: _base_/models/fbbev_hybrid.py),
# trained as bevdet_hybrid. tools/test.py reports mAP / NDS and the FRPN mask IoU.
# Differences from the official code: projects/FBBEV/README.md.
_base_ = ['./_base_/nuscenes_bevdepth_24e.py', './_base_/models/fbbev_hybrid.py']
model = dict(img_view_transformer=dict(input_size=_base_.input_size))  # the pipelines' final_size
val_evaluator = dict(type='FBBEVNuScenesMetric')
test_evaluator = val_evaluator
