# FB-BEV with the Hybrid-depth image branch (METHOD.md sections 1 and 3): bevdet_hybrid (CLIP RN50 + DINOv2
# ViT-B/14 hybrid encoder, 4 levels of 1024 ch at stride 14, Hybrid depth branch supervised by LiDAR depth)
# plus FB-BEV's FRPN and depth-aware backward projection, which reads the deepest hybrid level and the
# Hybrid depth distribution. tools/test.py reports mAP / NDS and the FRPN mask IoU.
_base_ = ['./bevdet_hybrid.py']
custom_imports = dict(imports=['hybrid_depth', 'hybrid_depth.models.backbones', 'hybrid_depth.models.depth_branch',
                               'projects.BEVDet.bevdet', 'projects.FBBEV.fbbev'], allow_failed_imports=False)

model = dict(
    type='FBBEV',
    # grid, BEV channels and strides (14) are filled in from the view transformer
    backward_projection=dict(type='DepthAwareBackwardProjection', in_channels=1024, num_heights=4,
                             pillar_z_range=(-1.0, 3.0), num_heads=4, num_points=8, ffn_channels=128, dropout=0.1,
                             depth_aware=True),
    backward_in_index=3,
    frpn=dict(type='ForegroundRegionProposalNet', threshold=0.4, pos_weight=2.13))

val_evaluator = dict(type='FBBEVNuScenesMetric')
test_evaluator = dict(type='FBBEVNuScenesMetric')
