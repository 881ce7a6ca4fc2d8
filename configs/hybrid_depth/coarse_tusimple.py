# Hybrid-depth stage 1 on TuSimple lanes (official setting).
_base_ = ['./_base_/depth_runtime.py', './_base_/models/hybrid_coarse.py', './_base_/datasets/tusimple_lanes.py',
          './_base_/schedules/coarse_20e.py']
# the coarse stage predicts point ranks, not disparity maps: nothing for the disparity hook to draw
default_hooks = dict(visualization=dict(draw=False))
