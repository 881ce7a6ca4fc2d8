# CPU demo of configs/bevdet_hybrid.py, shrunk only (configs/demo/_base_/nuscenes_demo.py: synthetic nuScenes,
# tiny hybrid encoder and depth branch (random init), 128x352 input, 1.6 m BEV cells (64x64), 2 m depth bins,
# narrow BEV encoder and head, batch 2, 2 epochs of 160 iterations without EMA, no CBGS).
#   python tools/make_synthetic.py --out-dir data/synthetic --preset small --formats nuscenes
#   python tools/create_data.py nuscenes --root-path data/synthetic/nuscenes --out-dir data/synthetic/nuscenes \
#       --version v1.0-mini
#   python tools/train.py configs/demo/bevdet_hybrid_demo.py     # random init, or from the depth demo's export
#   (python tools/export_backbone.py <depth_fine_kitti checkpoint> export.pth, then add --cfg-options
#    model.img_backbone.checkpoint=export.pth model.img_view_transformer.depth_net.checkpoint=export.pth;
#    the depth branch here has the depth demo's decoder and tokens, so both load; make demo does this)
#   python tools/test.py configs/demo/bevdet_hybrid_demo.py work_dirs/bevdet_hybrid_demo/epoch_2.pth
_base_ = ['./_base_/nuscenes_demo.py', '../_base_/models/bevdet_hybrid.py']
model = _base_.tiny_hybrid
train_dataloader = dict(dataset=dict(pipeline=_base_.depth_train_pipeline))  # LiDAR depth supervision
default_hooks = dict(logger=dict(interval=8), checkpoint=dict(interval=2, max_keep_ckpts=1))
