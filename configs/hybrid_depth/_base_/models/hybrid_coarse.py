# Hybrid-depth coarse stage (official modules/DepthCLIP_dino.py): CLIP RN50 ('openai') + DINOv2 ViT-B/14
# ('lvd142m') fed the same ImageNet-normalised image, 7 depth words, point features reduced 4096 -> 1024 without
# parameters (every 4th channel), matrix-normalised text, rank + repulsion losses with the official normalisation.
model = dict(
    type='HybridCoarseDepthEstimator',
    encoder=dict(type='HybridEncoder', clip_model='RN50', clip_pretrained='openai',
                 dino_model='vit_base_patch14_dinov2', dino_pretrained='lvd142m', dino_indices=[2, 5, 8, 11],
                 clip_align_channels=256, normalize='imagenet', dino_pos_embed='official', autocast=None),
    prompt_bank=dict(type='DepthPromptBank', clip_model='RN50', clip_pretrained='openai', num_depth_tokens=0,
                     channel_reduction='interpolate', text_norm='matrix', logit_scale=100.0),
    rank_loss=dict(type='DepthRankLoss', margin=0.0, loss_weight=1.0, reduction='official'),
    repulsion_loss=dict(type='DistanceWeightedRepulsionLoss', loss_weight=1.0, reduction='official'),
    sample_mode='nearest',
    trainable='coarse',
    data_preprocessor=dict(type='DepthDataPreprocessor'))
