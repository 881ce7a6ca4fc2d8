# Monodepth2 baseline: ResNet-18 ('tv_in1k') encoder + U-Net decoder + ResNet-18 PoseNet, same losses.
model = dict(
    type='Monodepth2DepthEstimator',
    encoder=dict(type='Monodepth2ResNetEncoder', depth=18, pretrained='tv_in1k'),
    decoder=dict(type='Monodepth2DepthDecoder', scales=[0, 1, 2, 3]),
    pose_net=dict(type='HybridPoseNet', depth=18, pretrained='tv_in1k', num_frames=2, normalize_input=True),
    photometric_loss=dict(type='MinReprojectionLoss', ssim_weight=0.85, use_automask=True),
    smoothness_loss=dict(type='EdgeAwareSmoothnessLoss', loss_weight=1e-3),
    frame_ids=[0, -1, 1],
    min_depth=0.1,
    max_depth=100.0,
    trainable='monodepth2',
    data_preprocessor=dict(type='DepthDataPreprocessor'))
