# What the four detector demos (configs/demo/{bevdet,fbbev}_{r50,hybrid}_demo.py) change in their real configs,
# stated once: the synthetic nuScenes (v1.0-mini layout; tools/make_synthetic.py --preset small --formats nuscenes
# --mmdet3d-infos), 128x352 input, 1.6 m BEV cells (64x64), 2 m depth bins, narrow BEV encoder and head, batch 2,
# 2 epochs of 160 iterations without EMA, seed 0; the model patches tiny_bev, tiny_r50 and tiny_hybrid (random
# init: a tiny hybrid encoder and depth branch with the depth demo's decoder and tokens, so tools/export_backbone.py
# output of configs/demo/depth_fine_kitti.py loads into it). A demo combines this file with a model fragment of
# configs/_base_/models/ and picks its patch.
_base_ = ['../../_base_/datasets/nuscenes_bevdet.py', '../../_base_/schedules/bevdet_24e.py', './tiny_hybrid.py']

data_root = 'data/synthetic/nuscenes/'
input_size = (128, 352)
# 2 m depth bins from 1 m (torch.arange(1, 60, 2): 30 bins, the last 59-61 m); LiDAR depth targets in [1, 60) m as
# BEVDet's PointToMultiViewDepth makes them (depth < grid_config['depth'][1])
tiny_grid = dict(x=(-51.2, 51.2, 1.6), y=(-51.2, 51.2, 1.6), depth=(1.0, 60.0, 2.0))
metainfo = dict(version='v1.0-mini')


def shrink(pipeline: list) -> list:
    """The real pipeline at the demo's input size, depth targets over the demo's depth bins."""
    patch = dict(BEVDetLoadMultiViewImages=dict(final_size=input_size),
                 BEVDetMultiViewDepthTargets=dict(depth_range=tiny_grid['depth'][:2]))
    return [dict(t, **patch.get(t['type'], {})) for t in pipeline]


train_pipeline = shrink(_base_.train_pipeline)
depth_train_pipeline = shrink(_base_.depth_train_pipeline)
test_pipeline = shrink(_base_.test_pipeline)
# no CBGS resampling here: on 320 samples it would change what the demo trains on (its epochs, class mix)
train_dataloader = dict(batch_size=2, num_workers=2,
                        dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(data_root=data_root, metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(data_root=data_root, ann_file=data_root + 'nuscenes_infos_val.pkl')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    # 2 epochs of the small world's 320 train samples (160 iterations each); the cosine steps every iteration
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=2, T_max=2, eta_min=1e-5,
         convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=2, val_interval=2)
custom_hooks = [dict(type='ValidateBeforeTrainHook')]  # no EMA; the untrained model's metrics open the log
randomness = dict(seed=0)  # --cfg-options randomness.seed=N for the other seeds

# model patches: the BEV side every demo shrinks, then each image branch
tiny_bev = dict(
    img_view_transformer=dict(grid_config=tiny_grid, input_size=input_size, out_channels=32),
    img_bev_encoder_backbone=dict(in_channels=32, num_channels=(64, 128, 256)),
    img_bev_encoder_neck=dict(in_channels=64 + 256, out_channels=128),
    pts_bbox_head=dict(
        in_channels=128, share_conv_channel=32,
        bbox_coder=dict(voxel_size=[0.2, 0.2], max_num=300),
        train_cfg=dict(grid_size=[512, 512, 40], voxel_size=[0.2, 0.2, 0.2]),
        test_cfg=dict(pre_max_size=500, post_max_size=300)))
tiny_r50 = dict(  # ResNet-18 from scratch (no ImageNet file) with a 64-ch neck
    tiny_bev, img_backbone=dict(depth=18, init_cfg=None), img_neck=dict(in_channels=[256, 512], out_channels=64),
    img_view_transformer=dict(tiny_bev['img_view_transformer'], depth_net=dict(in_channels=64)))
tiny_hybrid = dict(
    tiny_bev, img_backbone=dict(preset='tiny', encoder=dict(_delete_=True), frozen=[]),
    img_view_transformer=dict(tiny_bev['img_view_transformer'], depth_net=dict(
        in_channels=64, mid_channels=64,
        prompt_bank=dict(_base_.tiny_prompt_bank, num_depth_tokens=16), decoder=_base_.tiny_decoder,
        # the prior decoded at 4 x 4 samples per cell, not 14 x 14 (benchmarks/detector_step.py)
        decode_pixels=4)))
tiny_backward_projection = dict(num_heads=2, num_points=4, ffn_channels=64)
