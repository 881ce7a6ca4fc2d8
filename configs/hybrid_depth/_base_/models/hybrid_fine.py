# Hybrid-depth fine stage (official Stage2/trainer.py, networks/dino_clip_encoder.py, depthclip_decoder.py, dpt.py):
# hybrid encoder fed raw [0, 1] images, 256 learnable depth tokens ([logits || features], matrix-normalised text),
# DPT decoder with one ReLU disparity at scale 0, ResNet-18 PoseNet, Monodepth2 self-supervision (min
# reprojection, auto-mask, smoothness 1e-3), depth in [0.1, 100]; trains everything named 'clip' but the text
# transformer, DINOv2 blocks.11, the depth tokens, decoder and PoseNet.
model = dict(
    type='HybridFineDepthEstimator',
    encoder=dict(type='HybridEncoder', clip_model='RN50', clip_pretrained='openai',
                 dino_model='vit_base_patch14_dinov2', dino_pretrained='lvd142m', dino_indices=[2, 5, 8, 11],
                 clip_align_channels=256, normalize='none', dino_pos_embed='official', autocast=None),
    prompt_bank=dict(type='DepthPromptBank', clip_model='RN50', clip_pretrained='openai', num_depth_tokens=256,
                     channel_reduction='interpolate', text_norm='matrix', logits_first=True, logit_scale=100.0),
    decoder=dict(type='HybridDPTDecoder', features=256, out_channels=[256, 512, 1024, 1024], head='official'),
    pose_net=dict(type='HybridPoseNet', depth=18, pretrained='tv_in1k', num_frames=2, normalize_input=False),
    photometric_loss=dict(type='MinReprojectionLoss', ssim_weight=0.85, use_automask=True),
    smoothness_loss=dict(type='EdgeAwareSmoothnessLoss', loss_weight=1e-3),
    frame_ids=[0, -1, 1],
    min_depth=0.1,
    max_depth=100.0,
    trainable='fine',
    data_preprocessor=dict(type='DepthDataPreprocessor'))
