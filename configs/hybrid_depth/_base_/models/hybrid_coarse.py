# Hybrid-depth coarse stage: CLIP RN50 ('openai') + DINOv2 ViT-B/14 ('lvd142m'), 7 depth words, rank + repulsion.
model = dict(
    type='HybridCoarseDepthEstimator',
    encoder=dict(type='HybridEncoder', clip_model='RN50', clip_pretrained='openai',
                 dino_model='vit_base_patch14_dinov2', dino_pretrained='lvd142m', dino_indices=[2, 5, 8, 11],
                 clip_align_channels=256),
    prompt_bank=dict(type='DepthPromptBank', clip_model='RN50', clip_pretrained='openai', num_depth_tokens=0),
    rank_loss=dict(type='DepthRankLoss', margin=0.0, loss_weight=1.0),
    repulsion_loss=dict(type='DistanceWeightedRepulsionLoss', loss_weight=1.0),
    sample_mode='nearest',
    trainable='coarse',
    data_preprocessor=dict(type='DepthDataPreprocessor'))
