# Hybrid-depth stage 2 on nuScenes camera sweeps (the detector's domain), encoder from the coarse stage.
_base_ = ['./_base_/depth_runtime.py', './_base_/models/hybrid_fine.py', './_base_/datasets/nuscenes_sweeps.py',
          './_base_/schedules/fine_30e.py']
load_from = 'work_dirs/coarse_tusimple/epoch_20.pth'
