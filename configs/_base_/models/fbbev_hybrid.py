# FB-BEV with the Hybrid-depth image branch (METHOD.md sections 1 and 3): the bevdet_hybrid model (CLIP RN50 +
# DINOv2 ViT-B/14 hybrid encoder, 4 levels of 1024 ch at stride 14, Hybrid depth branch) plus FB-BEV's FRPN and
# depth-aware backward projection as in fbbev_r50.py (it samples the Hybrid depth net's context features and
# reads its depth distribution). Differences from the official code: projects/FBBEV/README.md.
_base_ = ['./bevdet_hybrid.py']
custom_imports = dict(imports=['hybrid_depth', 'hybrid_depth.models.backbones', 'hybrid_depth.models.depth_branch',
                               'projects.BEVDet.bevdet', 'projects.FBBEV.fbbev'], allow_failed_imports=False)

model = dict(
    type='FBBEV',
    # grid, BEV channels (= the context channels it samples) and strides (14) are filled in from the view
    # transformer
    backward_projection=dict(type='DepthAwareBackwardProjection', num_heights=4, pillar_z_range=(-1.0, 5.4),
                             num_heads=8, num_points=8),
    frpn=dict(type='ForegroundRegionProposalNet', threshold=0.4, pos_weight=2.13))
