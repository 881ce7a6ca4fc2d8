# Monodepth2 baseline (ResNet-18, batch 12, Adam 1e-4, 20 epochs) on KITTI eigen_zhou. Deliberately at the fine
# stage's 224x672 (Monodepth2's paper uses 192x640) so the baseline comparison is at the same resolution.
_base_ = ['./_base_/depth_runtime.py', './_base_/models/monodepth2.py', './_base_/datasets/kitti_mono.py',
          './_base_/schedules/monodepth2_20e.py']
train_dataloader = dict(batch_size=12)
