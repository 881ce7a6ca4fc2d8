# CPU demo of configs/bevdet_hybrid.py on the synthetic nuScenes (v1.0-mini layout), shrunk only:
# tiny hybrid encoder (random init), 128x352 input, 1.6 m BEV cells (64x64), 2 m depth bins, narrow BEV
# encoder and head, batch 2, 2 epochs of 160 iterations without EMA. mmengine cannot patch one list element
# from a config file, so the two pipelines are restated with only `final_size` changed (a test checks they
# match the base).
#   python tools/make_synthetic.py --out-dir data/synthetic --preset small --formats nuscenes
#   python tools/create_data.py nuscenes --root-path data/synthetic/nuscenes --out-dir data/synthetic/nuscenes \
#       --version v1.0-mini
#   python tools/train.py configs/demo/bevdet_hybrid_demo.py     # random init, or from the depth demo's export
#   (python tools/export_backbone.py <depth_fine_kitti checkpoint> export.pth, then add --cfg-options
#    model.img_backbone.checkpoint=export.pth model.img_view_transformer.depth_net.checkpoint=export.pth;
#    the depth branch here has the depth demo's decoder and tokens, so both load; make demo does this)
#   python tools/test.py configs/demo/bevdet_hybrid_demo.py work_dirs/bevdet_hybrid_demo/epoch_2.pth
_base_ = ['../bevdet_hybrid.py']

data_root = 'data/synthetic/nuscenes/'
input_size = (128, 352)
grid_config = dict(x=(-51.2, 51.2, 1.6), y=(-51.2, 51.2, 1.6), z=(-5.0, 3.0, 8.0), depth=(1.0, 61.0, 2.0))
voxel_size = [0.2, 0.2, 0.2]
# hybrid_depth.models.TINY_CLIP_CFG (tests check that they agree)
tiny_clip_cfg = dict(embed_dim=64, vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
                     text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))

model = dict(
    img_backbone=dict(preset='tiny', encoder=dict(_delete_=True), frozen=[]),
    img_view_transformer=dict(
        grid_config=grid_config, input_size=input_size, out_channels=32,
        depth_net=dict(in_channels=64, mid_channels=64, depth_bound=grid_config['depth'],
                       prompt_bank=dict(clip_pretrained=None, clip_model_cfg=tiny_clip_cfg, num_depth_tokens=16),
                       # the depth demo's head (configs/demo/depth_fine_kitti.py: the sigmoid option)
                       decoder=dict(features=32, out_channels=(32, 64, 128, 128), head='sigmoid'),
                       # the prior decoded at 4 x 4 samples per cell, not 14 x 14 (benchmarks/detector_step.py)
                       decode_pixels=4)),
    img_bev_encoder_backbone=dict(in_channels=32, num_channels=(64, 128, 256)),
    img_bev_encoder_neck=dict(in_channels=64 + 256, out_channels=128),
    pts_bbox_head=dict(
        in_channels=128, share_conv_channel=32,
        bbox_coder=dict(voxel_size=voxel_size[:2], max_num=300),
        train_cfg=dict(grid_size=[512, 512, 40], voxel_size=voxel_size),
        test_cfg=dict(pre_max_size=500, post_max_size=300)))

class_names = ['car', 'truck', 'trailer', 'bus', 'construction_vehicle', 'bicycle', 'motorcycle', 'pedestrian',
               'traffic_cone', 'barrier']
point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
meta_keys = ('sample_idx', 'token', 'box_type_3d', 'img_path', 'img_shape', 'ori_shape', 'cam2img', 'cam2ego',
             'post_rots', 'post_trans', 'bda', 'lidar2ego', 'ego2global')
train_pipeline = [
    dict(type='BEVDetLoadMultiViewImages', final_size=input_size, is_train=True, resize_lim=(-0.06, 0.11),
         bot_pct_lim=(0.0, 0.0), rot_lim=(-5.4, 5.4), flip=True),
    dict(type='LoadPointsFromFile', coord_type='LIDAR', load_dim=5, use_dim=5, backend_args=None),
    dict(type='BEVDetMultiViewDepthTargets', depth_range=(1.0, 60.0)),
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
    dict(type='BEVDetLidarBoxesToEgo'),
    dict(type='BEVDetBEVAugmentation', rot_lim=(-22.5, 22.5), scale_lim=(0.95, 1.05), flip_dx_ratio=0.5,
         flip_dy_ratio=0.5, is_train=True),
    dict(type='ObjectRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectNameFilter', classes=class_names),
    dict(type='BEVDetPackInputs', keys=['img', 'gt_bboxes_3d', 'gt_labels_3d'], meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='BEVDetLoadMultiViewImages', final_size=input_size, is_train=False, bot_pct_lim=(0.0, 0.0)),
    dict(type='BEVDetLidarBoxesToEgo'),
    dict(type='BEVDetBEVAugmentation', is_train=False),
    dict(type='BEVDetPackInputs', keys=['img'], meta_keys=meta_keys),
]
mini = dict(data_root=data_root, metainfo=dict(version='v1.0-mini'))
# no CBGS resampling here: on 320 samples it would change what the demo trains on (its epochs, class mix)
train_dataloader = dict(batch_size=2, num_workers=2, dataset=dict(
    _base_.train_dataloader.dataset.dataset, _delete_=True, data_root=data_root,
    metainfo=dict(_base_.train_dataloader.dataset.dataset.metainfo, version='v1.0-mini'), pipeline=train_pipeline))
val_dataloader = dict(num_workers=1, dataset=dict(mini, pipeline=test_pipeline))
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
default_hooks = dict(logger=dict(interval=8), checkpoint=dict(interval=2, max_keep_ckpts=1))
randomness = dict(seed=0)  # --cfg-options randomness.seed=N for the other seeds
