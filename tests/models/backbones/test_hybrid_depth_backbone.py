"""HybridDepthBackbone and the Hybrid depth branch: interface, freezing, exported weights, backbone swapping."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from mmdet3d.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import hybrid_depth.models.backbones  # noqa: F401  (registration)
import hybrid_depth.models.depth_branch  # noqa: F401
from hybrid_depth.geometry import disp_to_depth
from hybrid_depth.models import TINY_CLIP_CFG, HybridEncoder
from hybrid_depth.models.backbones import HybridDepthBackbone
from hybrid_depth.utils.checkpoint import CheckpointFileError

ROOT = Path(__file__).resolve().parents[3]
init_default_scope('mmdet3d')


def _depth_branch_cfg(**kwargs) -> dict:
    cfg = dict(type='HybridLSSDepthNet', in_channels=64, depth_channels=59, context_channels=16, mid_channels=32,
               prompt_bank=dict(type='DepthPromptBank', clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG,
                                num_depth_tokens=8),
               # the sigmoid option: a tiny random ReLU head is mostly 0 (depth 100 m), which these checks cannot use
               decoder=dict(type='HybridDPTDecoder', features=16, out_channels=(16, 32, 64, 64), head_channels=8,
                            head='sigmoid'))
    cfg.update(kwargs)
    return cfg


@pytest.mark.parametrize('out_strides', [None, (4, 8, 16, 32)])
def test_levels_match_feature_info(out_strides):
    torch.manual_seed(0)
    backbone = MODELS.build(dict(type='HybridDepthBackbone', preset='tiny', out_strides=out_strides))
    img = torch.rand(2, 3, 70, 150)
    outs = backbone(img)
    assert len(outs) == len(backbone.feature_info) == 4
    for feat, info in zip(outs, backbone.feature_info):
        s = info['reduction']
        assert feat.shape == (2, info['num_chs'], -(-70 // s), -(-150 // s))
        assert torch.isfinite(feat).all()
    assert backbone.out_channels == [64] * 4


def test_frozen_patterns_and_misspelt_pattern():
    backbone = HybridDepthBackbone(preset='tiny', frozen=['dino.*', 'clip.*'])
    trainable = {n for n, p in backbone.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith('encoder.align.') for n in trainable)
    with pytest.raises(ValueError, match='matches no parameter'):
        HybridDepthBackbone(preset='tiny', frozen=['dinov2.*'])


def _export(tmp_path: Path, seed: int = 1) -> tuple[Path, dict]:
    """An export written by tools/export_backbone.py's own conversion from a tiny depth-model state dict."""
    sys.path.insert(0, str(ROOT / 'tools'))
    from export_backbone import convert_state_dict
    torch.manual_seed(seed)
    encoder = HybridEncoder(**{**hybrid_depth.models.TINY_ENCODER_KWARGS})
    branch = MODELS.build(_depth_branch_cfg())
    # the depth model's decoder predicts 4 scales (the branch keeps only the finest head)
    decoder = MODELS.build(dict(_depth_branch_cfg()['decoder'], in_channels=64 + 8, num_scales=4))
    depth_model = {**{f'encoder.{k}': v for k, v in encoder.state_dict().items()},
                   **{f'prompt_bank.{k}': v for k, v in branch.prompt_bank.state_dict().items()},
                   **{f'decoder.{k}': v for k, v in decoder.state_dict().items()},
                   'pose_net.conv.weight': torch.zeros(1)}
    converted, dropped, unmapped = convert_state_dict(depth_model)
    assert dropped == ['pose_net.conv.weight'] and not unmapped
    path = tmp_path / 'export.pth'
    torch.save({'state_dict': converted, 'meta': {'source': 'test'}}, path)
    return path, depth_model


def test_backbone_loads_export(tmp_path):
    path, depth_model = _export(tmp_path)
    torch.manual_seed(5)  # different random init than the export
    backbone = HybridDepthBackbone(preset='tiny', checkpoint=str(path))
    assert backbone.missing_from_checkpoint == []
    for name, value in backbone.encoder.state_dict().items():
        torch.testing.assert_close(value, depth_model[f'encoder.{name}'])
    with pytest.raises(CheckpointFileError, match="no weights with prefix 'backbone.'"):
        torch.save({'state_dict': {'other.w': torch.zeros(1)}}, tmp_path / 'bad.pth')
        HybridDepthBackbone(preset='tiny', checkpoint=str(tmp_path / 'bad.pth'))


def test_depth_branch_starts_from_pretrained_depth(tmp_path):
    path, depth_model = _export(tmp_path)
    assert 'decoder.heads.3.conv3.weight' in depth_model
    branch = MODELS.build(_depth_branch_cfg(checkpoint=str(path)))
    assert branch.missing_from_checkpoint == []
    for name, value in branch.decoder.state_dict().items():
        torch.testing.assert_close(value, depth_model[f'decoder.{name}'])
    assert float(branch.prior_weight) == 1.0
    torch.manual_seed(0)
    feats = [torch.randn(2, 64, 5, 13) for _ in range(4)]
    images = torch.rand(2, 3, 64, 176)
    logits, context, prior_depth = branch(feats, torch.zeros(2, 27), images)
    assert logits.shape == (2, 59, 5, 13) and context.shape == (2, 16, 5, 13) and prior_depth.shape == (2, 1, 5, 13)
    assert not prior_depth.requires_grad
    with torch.no_grad():
        depth = branch.decoder_depth(branch.prompt_bank(feats), (64, 176))
    torch.testing.assert_close(prior_depth, depth)  # the scale-free decoder depth, before log_scale
    depth = depth.clamp(1.0, 59.0)
    # residual is zero at init: the most likely bin is the bin of the decoder's depth
    expected = (depth[:, 0] - 1.0).round().long()
    assert (logits.argmax(1) - expected).abs().max() <= 1
    # without pretrained weights the random decoder is not used as a prior: uniform depth at init
    plain = MODELS.build(_depth_branch_cfg())
    logits, _, _ = plain(feats, torch.zeros(2, 27), images)
    torch.testing.assert_close(logits.softmax(1), torch.full_like(logits, 1 / 59))


def test_backbone_swap_into_stock_fcos3d_config():
    import mmdet3d
    configs = Path(mmdet3d.__file__).parent / '.mim' / 'configs'
    path = configs / 'fcos3d' / 'fcos3d_r101-caffe-dcn_fpn_head-gn_8xb2-1x_nus-mono3d.py'
    cfg = Config.fromfile(str(path))
    cfg.model.backbone = dict(type='HybridDepthBackbone', preset='tiny', out_indices=(0, 1, 2, 3),
                              out_strides=(4, 8, 16, 32))
    cfg.model.neck.in_channels = [64, 64, 64, 64]
    cfg.model.data_preprocessor.update(mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0], bgr_to_rgb=True)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    with torch.no_grad():
        cls_scores = model._forward({'imgs': torch.rand(1, 3, 128, 224)})[0]
    strides = (8, 16, 32, 64, 128)
    assert len(cls_scores) == len(strides)
    for score, s in zip(cls_scores, strides):
        assert score.shape[-2:] == (-(-128 // s), -(-224 // s)) and torch.isfinite(score).all()


def test_depth_branch_median_scale_is_a_function_of_its_inputs():
    from hybrid_depth.models.depth_branch import HybridLSSDepthNet
    prior = torch.rand(2, 5, 13) + 0.1
    lidar = 7.5 * prior
    lidar[0, :2] = float('inf')  # cells without a return (inf or 0) are ignored
    lidar[1, :3] = 0.0
    assert HybridLSSDepthNet.calibrate_scale(prior, lidar) == pytest.approx(7.5, rel=1e-5)
    assert HybridLSSDepthNet.calibrate_scale(prior, torch.zeros(2, 5, 13)) is None  # no valid cell
    with pytest.raises(ValueError, match='do not match'):
        HybridLSSDepthNet.calibrate_scale(prior, lidar[:, :4])


def _lidar_cells_image(cells: torch.Tensor, stride: int) -> torch.Tensor:
    """(BN, h, w) depths -> (BN, h s, w s) sparse depth image with one return per cell (its top-left pixel)."""
    image = torch.zeros(cells.shape[0], cells.shape[1] * stride, cells.shape[2] * stride)
    image[:, ::stride, ::stride] = torch.where(torch.isfinite(cells), cells, torch.zeros_like(cells))
    return image


def test_depth_branch_median_scales_its_prior_once(tmp_path):
    """A self-supervised depth has no metric scale: the view transformer's depth loss sets it on the first step."""
    import projects.BEVDet.bevdet  # noqa: F401  (registers the view transformer)
    path, _ = _export(tmp_path)
    vt = MODELS.build(dict(type='BEVDetLSSViewTransformer', input_size=(64, 176), downsample=14, out_channels=16,
                           loss_depth_weight=1.0, grid_config=dict(x=(-10, 10, 1), y=(-10, 10, 1), z=(-5, 3, 8),
                                                                   depth=(1.0, 60.0, 1.0)),
                           depth_net=_depth_branch_cfg(checkpoint=str(path))))
    branch = vt.depth_net
    torch.manual_seed(0)
    feats = [torch.randn(2, 64, 5, 13) for _ in range(4)]
    images = torch.rand(2, 3, 64, 176)
    _, _, prior_depth = branch(feats, torch.zeros(2, 27), images)
    lidar = 7.5 * prior_depth[:, 0]
    lidar[0, :2] = float('inf')  # cells without a return are ignored
    gt_depth = _lidar_cells_image(lidar, 14)[:, :64, :176]  # (BN, H, W)
    probs = torch.full((2, 59, 5, 13), 1 / 59)
    vt.eval()
    vt.loss_depth(probs, gt_depth, prior_depth)
    assert not bool(branch.scale_calibrated)  # only in training
    vt.train()
    vt.loss_depth(probs, gt_depth)
    assert not bool(branch.scale_calibrated)  # only with the prior's depth
    vt.loss_depth(probs, gt_depth, prior_depth)
    assert float(branch.log_scale.exp()) == pytest.approx(7.5, rel=1e-4)
    assert bool(branch.scale_calibrated) and 'scale_calibrated' in branch.state_dict()
    logits, _, again = branch(feats, torch.zeros(2, 27), images)
    torch.testing.assert_close(again, prior_depth)  # the returned depth stays scale-free
    # the prior now peaks at the bin of the LiDAR depth (bins 1, 2, ..., 59 m)
    expected = (lidar.clamp(1.0, 59.0) - 1.0).round().long()
    valid = torch.isfinite(lidar)
    assert ((logits.argmax(1) - expected).abs()[valid] <= 1).all()
    vt.loss_depth(probs, 3.0 * gt_depth, prior_depth)  # once per run
    assert float(branch.log_scale.exp()) == pytest.approx(7.5, rel=1e-4)


def _calibrate_on_rank(rank: int, world: int, port: int, export: str, out: str) -> None:
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world)
    torch.manual_seed(0)
    branch = MODELS.build(_depth_branch_cfg(checkpoint=export)).train()
    feats = [torch.randn(1, 64, 5, 13) for _ in range(4)]
    depth = branch(feats, torch.zeros(1, 27), torch.rand(1, 3, 64, 176))[2][:, 0]
    # rank 0 sees LiDAR at 2x the decoder depth, rank 1 at 8x: both must start from the geometric mean, 4x
    lidar = depth * (2.0 if rank == 0 else 8.0)
    scale = branch.calibrate_scale(depth, lidar)
    branch.set_scale(scale)
    torch.save({'scale': scale, 'log_scale': float(branch.log_scale)}, f'{out}/rank{rank}.pt')
    dist.destroy_process_group()


def test_depth_branch_scale_calibration_agrees_across_processes(tmp_path):
    import socket

    import torch.multiprocessing as mp
    path, _ = _export(tmp_path)
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    mp.spawn(_calibrate_on_rank, args=(2, port, str(path), str(tmp_path)), nprocs=2, join=True)
    results = [torch.load(tmp_path / f'rank{r}.pt') for r in range(2)]
    for res in results:
        assert res['scale'] == pytest.approx(4.0, rel=1e-4)
    assert results[0]['log_scale'] == results[1]['log_scale']


def test_depth_branch_without_decoder_grad_keeps_the_prior_and_skips_its_backward():
    """decoder_grad=False: same logits, no gradient into the decoder, none through it into the levels."""
    from hybrid_depth.models.depth_branch import HybridLSSDepthNet  # noqa: F401  (registers)
    torch.manual_seed(0)
    with_grad = MODELS.build(_depth_branch_cfg())
    without = MODELS.build(_depth_branch_cfg(decoder_grad=False))
    without.load_state_dict(with_grad.state_dict())
    with torch.no_grad():
        with_grad.prior_weight.fill_(1.0)
        without.prior_weight.fill_(1.0)
    feats = [torch.randn(2, 64, 5, 9, requires_grad=True) for _ in range(4)]
    images = torch.zeros(2, 3, 70, 126)
    out_a, ctx_a, _ = with_grad(feats, torch.zeros(2, 27), images)
    out_b, ctx_b, _ = without(feats, torch.zeros(2, 27), images)
    torch.testing.assert_close(out_a, out_b)
    out_b.sum().backward()
    assert all(p.grad is None for p in without.decoder.parameters())
    assert without.log_scale.grad is not None and without.prior_weight.grad is not None
    # levels 0-2 feed only the decoder: without its backward they get no gradient; level 3 still does (residual)
    assert all(f.grad is None for f in feats[:3]) and feats[3].grad is not None
    out_a.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in with_grad.decoder.parameters())


def test_depth_branch_cells_are_the_encoder_patches():
    """The prior of cell (i, j) averages the full-resolution disparity over the patch [14 i, 14 i + 14) x ..."""
    torch.manual_seed(0)
    branch = MODELS.build(_depth_branch_cfg()).eval()
    feats = [torch.randn(1, 64, 10, 26) for _ in range(4)]
    size = (128, 352)  # 128 = 9 x 14 + 2: the last row of cells covers 2 image rows and 12 padded ones
    with torch.no_grad():
        levels = branch.prompt_bank(feats)
        disp = branch.decoder(levels, size)[0][0, 0]  # (128, 352)
        depth = branch.decoder_depth(levels, size)[0, 0]  # (10, 26)
    for i, j in [(0, 0), (3, 7), (8, 25), (9, 0), (9, 25)]:
        patch = disp[14 * i:14 * i + 14, 14 * j:14 * j + 14]
        patch = torch.cat([patch, patch[-1:].expand(14 - patch.shape[0], -1)])  # replicate padding: bottom
        patch = torch.cat([patch, patch[:, -1:].expand(-1, 14 - patch.shape[1])], dim=1)  # and right
        _, expected = disp_to_depth(patch.mean(), branch.min_depth, branch.max_depth)
        torch.testing.assert_close(depth[i, j], expected)


@pytest.mark.parametrize('k', [2, 4, 7])
def test_depth_branch_decode_pixels_follows_the_full_decode(k):
    """Decoding at k pixels per cell (ours, for CPU budgets) gives the same prior up to the head's resampling."""
    torch.manual_seed(0)
    branch = MODELS.build(_depth_branch_cfg()).eval()
    fast = MODELS.build(_depth_branch_cfg(decode_pixels=k)).eval()
    fast.load_state_dict(branch.state_dict())
    # smooth levels (a bilinear upsampling of a coarse map), as the encoder's are
    feats = [torch.nn.functional.interpolate(torch.randn(1, 64, 3, 7), size=(10, 26), mode='bilinear',
                                             align_corners=True) for _ in range(4)]
    with torch.no_grad():
        full = branch.decoder_depth(branch.prompt_bank(feats), (128, 352))
        cells = fast.decoder_depth(fast.prompt_bank(feats), (128, 352))
    assert cells.shape == full.shape == (1, 1, 10, 26)
    ratio = (cells / full).log().abs()
    assert float(ratio.median()) < 0.05, float(ratio.median())
    with pytest.raises(ValueError, match='decode_pixels'):
        MODELS.build(_depth_branch_cfg(decode_pixels=15))
