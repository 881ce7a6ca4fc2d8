# Hybrid-depth stage 1 with the flat-ground prior on KITTI raw instead of TuSimple lanes (this project's extension).
_base_ = ['./_base_/depth_runtime.py', './_base_/models/hybrid_coarse.py', './_base_/datasets/ground_prior_kitti.py',
          './_base_/schedules/coarse_20e.py']
# the coarse stage predicts point ranks, not disparity maps: nothing for the disparity hook to draw
default_hooks = dict(visualization=dict(draw=False))
