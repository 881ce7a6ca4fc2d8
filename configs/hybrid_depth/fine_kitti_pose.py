# Pose evaluation of a fine-stage checkpoint on KITTI odometry (Monodepth2's evaluate_pose.py): PoseNet on the
# consecutive pairs [0, 1] of sequence 09 (data/kitti_odom as Monodepth2's odometry data_path, its
# splits/odom/test_files_09.txt copied in; test_files_10.txt for sequence 10), 5-frame snippet ATE with scale alignment.
# tools/test.py configs/hybrid_depth/fine_kitti_pose.py CKPT --task pose
_base_ = ['./fine_kitti.py']

odom_root = 'data/kitti_odom/'
model = dict(eval_task='pose')
test_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height={{_base_.img_height}}, width={{_base_.img_width}}),
    dict(type='PackDepthInputs', frame_ids=[0, 1], num_scales=1,
         meta_keys=('sample_idx', 'img_path', 'frame_ids', 'sequence', 'frame_index', 'gt_poses')),
]
test_dataloader = dict(batch_size=16, dataset=dict(_delete_=True, type='KittiOdomPoseDataset', data_root=odom_root,
                                                   ann_file='splits/odom/test_files_09.txt', pipeline=test_pipeline))
test_evaluator = dict(_delete_=True, type='KittiPoseMetric')
default_hooks = dict(visualization=dict(draw=False))  # a pose has no disparity to draw
