# FB-BEV-R50 (METHOD.md section 3; Li et al., ICCV 2023): BEVDet-R50 with the BEVDepth camera-aware depth net
# (LiDAR depth supervision, weight 3), FRPN foreground mask (BCE pos_weight 2.13 + Dice, threshold 0.4) and
# depth-aware backward projection on the foreground cells; CenterHead with Scale-NMS. tools/test.py reports
# mAP / NDS and the FRPN mask IoU (FBBEVNuScenesMetric).
_base_ = ['./bevdet_r50.py']
custom_imports = dict(imports=['hybrid_depth', 'projects.BEVDet.bevdet', 'projects.FBBEV.fbbev'],
                      allow_failed_imports=False)

model = dict(
    type='FBBEV',
    img_view_transformer=dict(
        loss_depth_weight=3.0,
        depth_net=dict(type='BEVDepthCameraAwareDepthNet', in_channels=256, mid_channels=256)),
    # grid, BEV channels and strides are filled in from the view transformer
    backward_projection=dict(type='DepthAwareBackwardProjection', in_channels=256, num_heights=4,
                             pillar_z_range=(-1.0, 3.0), num_heads=4, num_points=8, ffn_channels=128, dropout=0.1,
                             depth_aware=True),
    frpn=dict(type='ForegroundRegionProposalNet', threshold=0.4, pos_weight=2.13))

val_evaluator = dict(type='FBBEVNuScenesMetric')
test_evaluator = dict(type='FBBEVNuScenesMetric')
