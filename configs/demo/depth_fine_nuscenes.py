# Demo of configs/hybrid_depth/fine_nuscenes.py, shrunk for a CPU: the fine demo's tiny model on the synthetic
# nuScenes v1.0-mini (tools/make_synthetic.py --out-dir data/synthetic), 126x224 input, front cameras, 2 epochs.
_base_ = ['../hybrid_depth/fine_nuscenes.py']

data_root = 'data/synthetic/nuscenes/'
version = 'v1.0-mini'
img_height = 126
img_width = 224
load_from = None

tiny_clip = dict(embed_dim=64, vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8, patch_size=None),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1))
model = dict(
    encoder=dict(clip_pretrained=None, clip_model_cfg=tiny_clip, dino_model='vit_small_patch14_dinov2',
                 dino_pretrained=None, dino_kwargs=dict(img_size=56, embed_dim=48, depth=4, num_heads=2),
                 dino_indices=[0, 1, 2, 3], clip_align_channels=16),
    prompt_bank=dict(clip_pretrained=None, clip_model_cfg=tiny_clip, num_depth_tokens=16),
    # the sigmoid-head option, as configs/demo/depth_fine_kitti.py (a tiny random ReLU head starts dead)
    decoder=dict(features=32, out_channels=[32, 64, 128, 128], head='sigmoid', num_scales=4),
    pose_net=dict(pretrained=None))

train_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='RandomFlipDepthFrames', prob=0.5),
    dict(type='ColorJitterDepthFrames', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1, prob=0.5),
    dict(type='PackDepthInputs', frame_ids=[0, -1, 1], num_scales=4),
]
test_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='LoadNuScenesLidarDepth'),
    dict(type='ResizeDepthFrames', height=img_height, width=img_width),
    dict(type='PackDepthInputs', frame_ids=[0], num_scales=4),
]
cameras = ['CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT']
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, version=version, split='mini_train', cameras=cameras,
                                     pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, version=version, split='mini_val', pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_epochs=2, val_interval=2)
optim_wrapper = dict(optimizer=dict(lr=5e-4))  # random-init tiny model: a larger step than the pretrained one
default_hooks = dict(logger=dict(interval=5), checkpoint=dict(interval=1, max_keep_ckpts=2))
