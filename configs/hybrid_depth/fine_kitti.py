# Hybrid-depth stage 2 on KITTI (eigen_zhou, 224x672), encoder from the coarse stage (loaded with strict=False).
_base_ = ['./_base_/depth_runtime.py', './_base_/models/hybrid_fine.py', './_base_/datasets/kitti_mono.py',
          './_base_/schedules/fine_30e.py']
load_from = 'work_dirs/coarse_tusimple/epoch_20.pth'
