# Model zoo: BEVDet with the demo's ResNet-18 stand-in (Table 8's baseline).
# configs/demo/bevdet_r50_demo.py with the zoo schedule (configs/zoo/_base_/zoo_schedule.py: 60 epochs = 9600
# iterations, checkpoint every epoch):
#   python tools/train.py configs/zoo/bevdet_r50_zoo.py \
#       --work-dir work_dirs/zoo/bevdet_r50_s0 [--resume]
_base_ = ['../demo/bevdet_r50_demo.py', './_base_/zoo_schedule.py']
train_cfg = _base_.zoo_train_cfg
param_scheduler = _base_.zoo_param_scheduler
default_hooks = _base_.zoo_default_hooks
