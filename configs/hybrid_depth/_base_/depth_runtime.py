# Runtime of the depth stages: the project runtime with the depth modules imported and disparity PNGs instead
# of the 3D-box visualisation.
_base_ = ['../../_base_/default_runtime.py']

custom_imports = dict(
    imports=['hybrid_depth', 'hybrid_depth.datasets.depth_transforms', 'hybrid_depth.datasets.kitti_raw',
             'hybrid_depth.datasets.kitti_eigen', 'hybrid_depth.datasets.tusimple_lanes',
             'hybrid_depth.datasets.ground_prior', 'hybrid_depth.datasets.nuscenes_sweeps',
             'hybrid_depth.models.estimators', 'hybrid_depth.evaluation.metrics', 'hybrid_depth.engine.hooks'],
    allow_failed_imports=False)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    visualization=dict(_delete_=True, type='DisparityVisualizationHook', draw=True, max_images=4))

visualizer = dict(_delete_=True, type='Visualizer', vis_backends={{_base_.vis_backends}}, name='visualizer')
randomness = dict(seed=0)
