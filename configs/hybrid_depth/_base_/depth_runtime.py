# Runtime of the depth stages: the project runtime (custom_imports=['hybrid_depth'] registers the depth modules)
# with disparity PNGs instead of the 3D-box visualisation.
_base_ = ['../../_base_/default_runtime.py']

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    visualization=dict(_delete_=True, type='DisparityVisualizationHook', draw=True, max_images=4))

visualizer = dict(_delete_=True, type='Visualizer', vis_backends={{_base_.vis_backends}}, name='visualizer')
randomness = dict(seed=0)
