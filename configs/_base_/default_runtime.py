# Runtime shared by every config of the project (mmdet3d 1.x conventions).
default_scope = 'mmdet3d'
custom_imports = dict(imports=['hybrid_depth'], allow_failed_imports=False)
# Our runner: resumes its own checkpoints on torch>=2.6 and trains distributed on CPU with gloo.
runner_type = 'HybridDepthRunner'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='Det3DVisualizationHook'),
    # stop at the first NaN / inf loss, naming iteration and term (enabled=False: mmengine's behaviour, train on)
    nonfinite_loss=dict(type='NonFiniteLossHook'))

# cudnn_benchmark=False: the official BEVDet / FB-BEV default, and deterministic algorithm choice. The conv input
# shapes are fixed (256x704 images, 128x128 BEV), so True is safe and may be faster; not measured on a GPU yet.
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))  # HybridDepthRunner switches to gloo when there is no GPU

# TensorBoard on by default (plus local json/scalars for tools/analyze_logs.py).
vis_backends = [dict(type='LocalVisBackend'), dict(type='TensorboardVisBackend')]
visualizer = dict(type='Det3DLocalVisualizer', vis_backends=vis_backends, name='visualizer')

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
