# Model zoo: FB-BEV-hybrid, random-init towers.
# configs/demo/fbbev_hybrid_demo.py with the zoo schedule (configs/zoo/_base_/zoo_schedule.py: 60 epochs = 9600
# iterations, checkpoint every epoch):
#   python tools/train.py configs/zoo/fbbev_hybrid_no_depth_pretraining_zoo.py \
#       --work-dir work_dirs/zoo/fbbev_hybrid_no_depth_pretraining_s0 [--resume]
_base_ = ['../demo/fbbev_hybrid_demo.py', './_base_/zoo_schedule.py']
train_cfg = _base_.zoo_train_cfg
param_scheduler = _base_.zoo_param_scheduler
default_hooks = _base_.zoo_default_hooks
