# Model zoo: BEVDet-hybrid, random-init towers (no depth pretraining: Table 8's control).
# configs/demo/bevdet_hybrid_demo.py with the zoo schedule (configs/zoo/_base_/zoo_schedule.py: 60 epochs = 9600
# iterations, checkpoint every epoch):
#   python tools/train.py configs/zoo/bevdet_hybrid_no_depth_pretraining_zoo.py \
#       --work-dir work_dirs/zoo/bevdet_hybrid_no_depth_pretraining_s0 [--resume]
_base_ = ['../demo/bevdet_hybrid_demo.py', './_base_/zoo_schedule.py']
train_cfg = _base_.zoo_train_cfg
param_scheduler = _base_.zoo_param_scheduler
default_hooks = _base_.zoo_default_hooks
