# BEVDet with the Hybrid-depth image branch: CLIP RN50 + DINOv2 ViT-B/14 hybrid encoder (4 levels, 1024 ch,
# stride 14: 19x51 cells at 256x704) and the Hybrid depth branch (depth-token logits + DPT decoder -> a
# depth prior over the LSS bins, which the view transformer hands over, plus a learned residual), supervised
# BEVDepth-style by LiDAR depth (3.0), with the official depth configs' 0.5 m depth bins (D=118) and 80 context
# channels. Everything else (LSS grid, BEV encoder, CenterHead with Scale-NMS) is bevdet_r50. The frustum puts
# each 14x14 patch at its pixel centre (frustum_pixels='cell_centres'): the encoder pads 256x704 to 266x714,
# which BEVDet's linspace(0, W - 1, w) cannot describe.
# Weights: raw CLIP 'openai' and DINOv2 'lvd142m' from the local caches; after depth pretraining set
#   model.img_backbone.checkpoint and model.img_view_transformer.depth_net.checkpoint to the output of
#   tools/export_backbone.py (one file holds both).
_base_ = ['./bevdet_r50.py']
custom_imports = dict(imports=['hybrid_depth', 'hybrid_depth.models.backbones', 'hybrid_depth.models.depth_branch',
                               'projects.BEVDet.bevdet'], allow_failed_imports=False)

hybrid_checkpoint = None  # output of tools/export_backbone.py

model = dict(
    # the encoder normalises each tower itself: feed RGB in [0, 1]
    data_preprocessor=dict(mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0], bgr_to_rgb=True),
    img_backbone=dict(
        _delete_=True,
        type='HybridDepthBackbone',
        preset='rn50_vitb14',
        encoder=dict(clip_pretrained='openai', dino_pretrained='lvd142m'),
        out_indices=(0, 1, 2, 3),
        frozen=['dino.*'],  # DINOv2 frozen; CLIP image tower and align convs train
        norm_eval=True,
        checkpoint=hybrid_checkpoint),
    img_neck=None,
    img_view_transformer=dict(
        grid_config=dict(depth=(1.0, 60.0, 0.5)),
        downsample=14,
        out_channels=80,
        frustum_pixels='cell_centres',
        loss_depth_weight=3.0,
        depth_net=dict(
            _delete_=True,
            type='HybridLSSDepthNet',
            in_channels=1024,
            mid_channels=256,
            prompt_bank=dict(type='DepthPromptBank', clip_model='RN50', clip_pretrained='openai', num_depth_tokens=256),
            decoder=dict(type='HybridDPTDecoder', features=256, out_channels=(256, 512, 1024, 1024), patch_size=14),
            checkpoint=hybrid_checkpoint)),
    img_bev_encoder_backbone=dict(in_channels=80, num_channels=(160, 320, 640)),
    img_bev_encoder_neck=dict(in_channels=160 + 640))
