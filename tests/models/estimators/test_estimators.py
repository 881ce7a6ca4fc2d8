"""Registered depth models: build from config, loss / predict on CPU, trainable sets, learning on real frames."""
from __future__ import annotations

import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import BaseDataElement

import hybrid_depth.models.estimators  # noqa: F401  (registers the estimators)
from hybrid_depth.models import TINY_CLIP_CFG, TINY_ENCODER_KWARGS

init_default_scope('mmdet3d')
from mmdet3d.registry import MODELS  # noqa: E402

ENCODER = dict(type='HybridEncoder', **TINY_ENCODER_KWARGS)
BANK = dict(type='DepthPromptBank', clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG, num_depth_tokens=8)
POSE = dict(type='HybridPoseNet', pretrained=None)


def fine_model() -> torch.nn.Module:
    return MODELS.build(dict(type='HybridFineDepthEstimator', encoder=ENCODER, prompt_bank=BANK, pose_net=POSE,
                             decoder=dict(type='HybridDPTDecoder', features=16, out_channels=[16, 16, 32, 32])))


def md2_model() -> torch.nn.Module:
    return MODELS.build(dict(type='Monodepth2DepthEstimator', pose_net=POSE,
                             decoder=dict(type='Monodepth2DepthDecoder'),
                             encoder=dict(type='Monodepth2ResNetEncoder', pretrained=None)))


def batch(b: int = 2, h: int = 42, w: int = 70) -> dict:
    torch.manual_seed(0)
    imgs = torch.rand(b, 3, 3, h, w)
    K = torch.tensor([[0.58 * w, 0, 0.5 * w], [0, 1.92 * h, 0.5 * h], [0, 0, 1]])
    cam2img = torch.stack([K * torch.tensor([[0.5 ** s], [0.5 ** s], [1.0]]) for s in range(4)])
    return {'imgs': imgs, 'imgs_raw': imgs.clone(), 'cam2img': cam2img.expand(b, 4, 3, 3).clone()}


@pytest.mark.parametrize('build', [fine_model, md2_model])
def test_self_supervised_loss_and_predict(build) -> None:
    model = build()
    inputs = batch()
    losses = model(inputs, mode='loss')
    assert set(losses) == {'loss_photometric', 'loss_smoothness', 'automask'}
    total = losses['loss_photometric'] + losses['loss_smoothness']
    assert torch.isfinite(total) and total > 0
    total.backward()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all(p.grad is not None for n, p in model.named_parameters() if p.requires_grad and 'pose_net' in n
               and 'conv1' in n)
    assert trainable
    samples = [BaseDataElement(metainfo={'img_path': f'{i}.jpg'}) for i in range(2)]
    for s in samples:
        s.gt_depth = torch.ones(5, 5).numpy()
    out = model(inputs, samples, mode='predict')
    assert len(out) == 2 and out[1]['img_path'] == '1.jpg' and out[1]['gt_depth'].shape == (5, 5)
    assert out[0]['pred_disp'].shape == out[0]['pred_depth'].shape == (1, 42, 70)
    torch.testing.assert_close(out[0]['pred_disp'] * out[0]['pred_depth'], torch.ones(1, 42, 70))
    assert float(out[0]['pred_depth'].min()) >= 0.1 - 1e-6 and float(out[0]['pred_depth'].max()) <= 100 + 1e-3


def test_config_not_mutated_and_forward_stores_nothing() -> None:
    import copy
    cfg = dict(type='HybridFineDepthEstimator', encoder=ENCODER, prompt_bank=BANK, pose_net=POSE,
               decoder=dict(type='HybridDPTDecoder', features=16, out_channels=[16, 16, 32, 32]))
    snapshot = copy.deepcopy(cfg)
    model = MODELS.build(cfg)
    assert cfg == snapshot
    attrs = {id(m): set(vars(m)) for m in model.modules()}
    model(batch(), mode='loss')
    model(batch(), mode='predict')
    assert {id(m): set(vars(m)) for m in model.modules()} == attrs


def test_fine_stage_trainable_set() -> None:
    model = fine_model()
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.startswith('encoder.clip.') for n in names)
    assert any(n.startswith('encoder.dino.model.blocks.3.') for n in names)  # last block of the tiny ViT
    assert not any(n.startswith('encoder.dino.model.blocks.0.') for n in names)
    # official Stage-2 set: the align convs and the text side train, except the text transformer
    assert any(n.startswith('encoder.align.') for n in names)
    assert 'prompt_bank.text_encoder.positional_embedding' in names
    assert not any(n.startswith('prompt_bank.text_encoder.transformer.') for n in names)
    assert 'prompt_bank.depth_tokens' in names
    assert any(n.startswith('pose_net.') for n in names) and any(n.startswith('decoder.') for n in names)


def test_channel_contract_violation_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match='decoder.in_channels=10'):
        MODELS.build(dict(type='HybridFineDepthEstimator', encoder=ENCODER, prompt_bank=BANK, pose_net=POSE,
                          decoder=dict(type='HybridDPTDecoder', in_channels=10)))
    with pytest.raises(ValueError, match='num_depth_tokens'):
        MODELS.build(dict(type='HybridFineDepthEstimator', encoder=ENCODER, prompt_bank=dict(BANK, num_depth_tokens=0),
                          pose_net=POSE, decoder=dict(type='HybridDPTDecoder')))


def test_pose_of_previous_frame_is_inverted() -> None:
    """``T_src_tgt`` of frame -1 comes from PoseNet on ``[I_-1, I_0]``, inverted (Monodepth2)."""
    model = md2_model().eval()
    imgs = batch()['imgs']
    poses = model.predict_poses(imgs)
    aa, t = model.pose_net(imgs[:, 1], imgs[:, 0])
    from hybrid_depth.geometry import transformation_from_parameters
    forward = transformation_from_parameters(aa[:, 0], t[:, 0])
    torch.testing.assert_close(poses[-1] @ forward, torch.eye(4).expand(2, 4, 4), atol=1e-5, rtol=0)


def test_photometric_loss_prefers_the_true_motion() -> None:
    """With the true depth and pose the warped source explains the target: the loss is far below a wrong pose."""
    from hybrid_depth.geometry import depth_to_disp
    h, w = 48, 64
    torch.manual_seed(0)
    tex = torch.nn.functional.interpolate(torch.rand(1, 3, h // 4, w // 4), size=(h, w), mode='bilinear')
    K = torch.tensor([[[40.0, 0, 32], [0, 40, 24], [0, 0, 1]]])
    depth = torch.full((1, 1, h, w), 10.0)
    from hybrid_depth.geometry import view_synthesis
    T = torch.eye(4)[None].clone()
    T[0, 0, 3] = 0.5  # source camera 0.5 m to the side
    # build a source frame consistent with the plane by warping with the inverse motion
    src, _ = view_synthesis(tex, depth, K, torch.linalg.inv(T))
    model = md2_model()
    loss_fn, disp = model.photometric_loss, depth_to_disp(depth)
    good, _ = loss_fn(tex, [view_synthesis(src, depth, K, T)[0]], [src])
    bad, _ = loss_fn(tex, [view_synthesis(src, depth, K, torch.linalg.inv(T))[0]], [src])
    assert good < 0.5 * bad and disp.shape == depth.shape


def test_coarse_model_losses_and_ranks() -> None:
    model = MODELS.build(dict(type='HybridCoarseDepthEstimator', encoder=ENCODER,
                              prompt_bank=dict(BANK, num_depth_tokens=0)))
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(n.startswith(('encoder.clip.', 'encoder.align.', 'prompt_bank.point_proj.')) for n in names)
    torch.manual_seed(0)
    pts = torch.stack([torch.full((7,), 30.0), torch.linspace(40, 10, 7)], dim=-1)  # (7, 2) bottom to top
    inputs = {'imgs': torch.rand(2, 1, 3, 56, 70), 'points': pts.expand(2, 3, 7, 2).clone(),
              'points_valid': torch.ones(2, 3, 7, dtype=torch.bool)}
    inputs['points_valid'][1, 2] = False
    losses = model(inputs, mode='loss')
    assert set(losses) == {'loss_rank', 'loss_repulsion'} and all(torch.isfinite(v) for v in losses.values())
    (losses['loss_rank'] + losses['loss_repulsion']).backward()
    assert model.prompt_bank.point_proj is None  # official: parameter-free reduction
    assert next(model.encoder.align[1].parameters()).grad is not None
    out = model.predict(inputs)
    assert out[0]['point_rank'].shape == (3, 7) and out[1]['points_valid'][2].sum() == 0
    assert float(out[0]['point_rank'].min()) >= 0 and float(out[0]['point_rank'].max()) <= 6
    bad = dict(inputs, points=inputs['points'][:, :, :5], points_valid=inputs['points_valid'][:, :, :5])
    with pytest.raises(ValueError, match='5 points per group but 7 depth words'):
        model(bad, mode='loss')


def test_coarse_model_learns_to_order_points() -> None:
    """A few steps on fixed images: the ordering of bottom-to-top points becomes right (pair accuracy up).

    Points sit in 7 different rows of the 1/14 feature grid (nearest-cell sampling gives tied points otherwise).
    """
    from hybrid_depth.evaluation.metrics import pair_ordering_counts
    torch.manual_seed(0)
    model = MODELS.build(dict(type='HybridCoarseDepthEstimator', encoder=ENCODER,
                              prompt_bank=dict(BANK, num_depth_tokens=0)))
    xs = torch.tensor([14.0, 35.0, 56.0])
    pts = torch.stack([xs[:, None].expand(3, 7), torch.linspace(91, 7, 7).expand(3, 7)], dim=-1)  # (3, 7, 2)
    inputs = {'imgs': torch.rand(4, 1, 3, 98, 70), 'points': pts.expand(4, 3, 7, 2).clone(),
              'points_valid': torch.ones(4, 3, 7, dtype=torch.bool)}
    def accuracy() -> float:
        with torch.no_grad():
            out = model.predict(inputs)
        c, t = map(sum, zip(*[pair_ordering_counts(o['point_logits'].numpy(), o['points_valid'].numpy()) for o in out]))
        return c / t

    model.eval()
    accuracy_before = accuracy()
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(80):  # the official parameter-free reduction (no projection to fit) needs more steps than 40
        losses = model(inputs, mode='loss')
        opt.zero_grad()
        (losses['loss_rank'] + losses['loss_repulsion']).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model.predict(inputs)
    correct, total = map(sum, zip(*[pair_ordering_counts(o['point_logits'].numpy(), o['points_valid'].numpy())
                                    for o in out]))
    assert correct / total > 0.9, (accuracy_before, correct / total)


def test_pose_eval_task_predicts_the_un_inverted_pair_pose() -> None:
    """``eval_task='pose'``: ``predict`` gives ``pred_pose`` = PoseNet on ``[I_i, I_i+1]`` un-inverted (Monodepth2's
    ``evaluate_pose.py``), the same transform training uses to warp frame +1 (``predict_poses()[1]``)."""
    model = MODELS.build(dict(type='Monodepth2DepthEstimator', pose_net=POSE, eval_task='pose',
                              decoder=dict(type='Monodepth2DepthDecoder'),
                              encoder=dict(type='Monodepth2ResNetEncoder', pretrained=None))).eval()
    imgs = batch()['imgs']  # frames [0, -1, 1]
    pair = torch.stack([imgs[:, 0], imgs[:, 2]], 1)  # frames [0, 1]
    samples = [BaseDataElement(metainfo={'frame_ids': [0, 1], 'frame_index': i}) for i in range(2)]
    with torch.no_grad():
        out = model.predict({'imgs': pair}, samples)
        train_pose = model.predict_poses(imgs)[1]
        aa, t = model.pose_net(imgs[:, 0], imgs[:, 2])
    from hybrid_depth.geometry import transformation_from_parameters
    assert [o['frame_index'] for o in out] == [0, 1] and out[0]['pred_pose'].dtype == torch.float64
    pred = torch.stack([o['pred_pose'] for o in out]).float()
    torch.testing.assert_close(pred, transformation_from_parameters(aa[:, 0], t[:, 0]))
    torch.testing.assert_close(pred, train_pose)
    assert model.test_unused_prefixes == () and type(model).test_unused_prefixes == ('pose_net.',)  # depth: unused
    with pytest.raises(ValueError, match=r'pairs \[0, 1\]'):
        model.predict({'imgs': imgs}, None)
    with pytest.raises(ValueError, match='eval_task'):
        MODELS.build(dict(type='Monodepth2DepthEstimator', pose_net=POSE, eval_task='odometry',
                          decoder=dict(type='Monodepth2DepthDecoder'),
                          encoder=dict(type='Monodepth2ResNetEncoder', pretrained=None)))
