# FB-BEV-R50 model (METHOD.md section 3; Li et al., ICCV 2023): BEVDet-R50 turned into the depth-supervised
# BEVDet/BEVDepth model of the official depth configs (CustomFPN 512 ch, BEVDepth camera-aware depth net with
# BasicBlocks + ASPP, LiDAR depth supervision weight 3, 0.5 m depth bins (D=118), 80 context channels), plus
# FB-OCC's FRPN (BCE pos_weight 2.13 + Dice, threshold 0.4) and backward projection (one BEVFormer layer: BEV
# self-attention, depth-aware cross-attention on the depth net's context features, 8 heads, FFN 4x, dropout 0,
# output + LSS BEV); CenterHead with Scale-NMS. Differences from the official code: projects/FBBEV/README.md.
_base_ = ['./bevdet_r50.py']
custom_imports = dict(imports=['hybrid_depth', 'projects.BEVDet.bevdet', 'projects.FBBEV.fbbev'],
                      allow_failed_imports=False)

numC_Trans = 80
model = dict(
    type='FBBEV',
    img_neck=dict(out_channels=512),
    img_view_transformer=dict(
        grid_config=dict(depth=(1.0, 60.0, 0.5)), out_channels=numC_Trans, loss_depth_weight=3.0,
        depth_net=dict(_delete_=True, type='BEVDepthCameraAwareDepthNet', in_channels=512, mid_channels=512)),
    img_bev_encoder_backbone=dict(in_channels=numC_Trans, num_channels=(2 * numC_Trans, 4 * numC_Trans,
                                                                        8 * numC_Trans)),
    img_bev_encoder_neck=dict(in_channels=2 * numC_Trans + 8 * numC_Trans),
    # grid, BEV channels (= the context channels it samples) and strides are filled in from the view transformer;
    # pillar heights as FB-OCC's grid_config_bevformer (z from -1 to 5.4 m in 4 slices)
    backward_projection=dict(type='DepthAwareBackwardProjection', num_heights=4, pillar_z_range=(-1.0, 5.4),
                             num_heads=8, num_points=8),
    frpn=dict(type='ForegroundRegionProposalNet', threshold=0.4, pos_weight=2.13))
