# TuSimple lanes as near-to-far ordered point groups (7 points per lane at index j * ((n - 1) // 6)) for the
# coarse stage. Official input: aspect ratio kept, short side 224, long side a multiple of 14 (1280x720 ->
# 392x224), colour jitter on every sample, no flip.
data_root = 'data/tusimple/'
short_side = 224

train_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', short_side=short_side, size_divisor=14),
    dict(type='ColorJitterDepthFrames', brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1, prob=1.0),
    dict(type='PackDepthInputs', frame_ids=[0], max_groups=6),
]
test_pipeline = [
    dict(type='LoadDepthFrames'),
    dict(type='ResizeDepthFrames', short_side=short_side, size_divisor=14),
    dict(type='PackDepthInputs', frame_ids=[0], max_groups=6),
]
train_dataloader = dict(
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='TuSimpleLaneOrderDataset', data_root=data_root,
                 label_files=['label_data_0313.json', 'label_data_0531.json', 'label_data_0601.json'],
                 num_points=7, spacing='official', order='label', pipeline=train_pipeline))
# TuSimple's test_label.json has the same format
val_dataloader = dict(
    batch_size=6,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='TuSimpleLaneOrderDataset', data_root=data_root, label_files=['test_label.json'],
                 num_points=7, spacing='official', order='label', test_mode=True,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='DepthOrderingMetric')
test_evaluator = val_evaluator
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
