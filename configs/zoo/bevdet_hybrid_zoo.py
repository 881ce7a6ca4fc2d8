# Model zoo (b): BEVDet-hybrid from the zoo depth model's export (configs/zoo/depth_fine_kitti_zoo.py, then
# tools/export_backbone.py), the zoo schedule; the image backbone and the depth branch load the export.
#   python tools/export_backbone.py work_dirs/zoo/depth_fine_kitti_s0/epoch_N.pth work_dirs/zoo/depth_export.pth
#   python tools/train.py configs/zoo/bevdet_hybrid_zoo.py --work-dir work_dirs/zoo/bevdet_hybrid_s0 [--resume]
_base_ = ['./bevdet_hybrid_no_depth_pretraining_zoo.py']
depth_export = 'work_dirs/zoo/depth_export.pth'
model = dict(img_backbone=dict(checkpoint=depth_export),
             img_view_transformer=dict(depth_net=dict(checkpoint=depth_export)))
