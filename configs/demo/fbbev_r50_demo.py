# CPU demo of configs/fbbev_r50.py on the synthetic nuScenes (v1.0-mini layout), shrunk only: ResNet-18 image
# backbone (random init) with a 64-ch neck, then the BEV side and schedule of configs/demo/fbbev_hybrid_demo.py
# (1.6 m BEV cells, narrow BEV encoder, head and backward projection, 20 epochs). Input stays 256x704.
#   python tools/train.py configs/demo/fbbev_r50_demo.py
#   python tools/test.py configs/demo/fbbev_r50_demo.py work_dirs/fbbev_r50_demo/epoch_20.pth
_base_ = ['../fbbev_r50.py']

data_root = 'data/synthetic/nuscenes/'
grid_config = dict(x=(-51.2, 51.2, 1.6), y=(-51.2, 51.2, 1.6), z=(-5.0, 3.0, 8.0), depth=(1.0, 61.0, 2.0))
voxel_size = [0.2, 0.2, 0.2]

model = dict(
    img_backbone=dict(depth=18),
    img_neck=dict(in_channels=[256, 512], out_channels=64),
    img_view_transformer=dict(grid_config=grid_config, out_channels=32,
                              depth_net=dict(in_channels=64, mid_channels=64)),
    backward_projection=dict(in_channels=64, num_heads=2, num_points=4, ffn_channels=64),
    img_bev_encoder_backbone=dict(in_channels=32, num_channels=(64, 128, 256)),
    img_bev_encoder_neck=dict(in_channels=64 + 256, out_channels=128),
    pts_bbox_head=dict(
        in_channels=128, share_conv_channel=32,
        bbox_coder=dict(voxel_size=voxel_size[:2], max_num=300),
        train_cfg=dict(grid_size=[512, 512, 40], voxel_size=voxel_size),
        test_cfg=dict(pre_max_size=500, post_max_size=300)))

mini = dict(data_root=data_root, metainfo=dict(version='v1.0-mini'))
train_dataloader = dict(batch_size=4, num_workers=2, dataset=mini)
val_dataloader = dict(num_workers=1, dataset=mini)
test_dataloader = val_dataloader
val_evaluator = dict(data_root=data_root, ann_file=data_root + 'nuscenes_infos_val.pkl')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=20, T_max=20, eta_min=1e-5),
]
train_cfg = dict(max_epochs=20, val_interval=20)
custom_hooks = []
default_hooks = dict(logger=dict(interval=4), checkpoint=dict(interval=5, max_keep_ckpts=1))
