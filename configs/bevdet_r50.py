# BEVDet-R50 (BEVDet dev2 generation, METHOD.md section 2), model in _base_/models/bevdet_r50.py: ResNet-50 ->
# CustomFPN -> LSS (D=59) -> BEV ResNet + FPN_LSS -> CenterHead with Scale-NMS. Published: 28.3 mAP / 35.0 NDS
# on nuScenes val.
_base_ = ['./_base_/datasets/nuscenes_bevdet.py', './_base_/models/bevdet_r50.py', './_base_/schedules/bevdet_24e.py']
model = dict(img_view_transformer=dict(input_size=_base_.input_size))  # the pipelines' final_size
