"""FB-BEV as FB-OCC builds it (issue 15): the backward projection's layer (BEV self-attention, learned positional
encoding, 8 heads, FFN 4x, dropout 0, every cell through the layer, output + LSS), sampling the depth net's context
features, FRPN without a prior bias and evaluated at 0.5; against NVlabs/FB-BEV
(``view_transformation/backward_projection``, ``modules/frpn.py``, ``detectors/fbocc.py``,
``occupancy_configs/fb_occ/fbocc-r50-cbgs_depth_16f_16x4_20e.py``)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import nn

init_default_scope('mmdet3d')

from mmdet3d.registry import MODELS  # noqa: E402

import projects.BEVDet.bevdet  # noqa: E402,F401  (registration)
import projects.FBBEV.fbbev  # noqa: E402,F401
from projects.FBBEV.fbbev.depth_aware_backward_projection import (  # noqa: E402
    DepthAwareBackwardProjection,
    LearnedBEVPositionalEncoding,
)
from projects.FBBEV.fbbev.frpn import ForegroundRegionProposalNet  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
# camera looking along ego +x: camera x -> ego -y, camera y -> ego -z, camera z -> ego +x
FORWARD = torch.tensor([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _rig(num_cams: int, height: float = 1.5) -> torch.Tensor:
    """(1, N, 4, 4) cam2ego of N cameras evenly spread in yaw."""
    cam2ego = torch.eye(4).repeat(1, num_cams, 1, 1)
    for i in range(num_cams):
        a = 2 * math.pi * i / num_cams
        yaw = torch.tensor([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])
        cam2ego[0, i, :3, :3] = yaw @ FORWARD
        cam2ego[0, i, :3, 3] = torch.tensor([0.3 * math.cos(a), 0.3 * math.sin(a), height])
    return cam2ego


def _module_inputs(seed: int = 0):
    """4 cameras (64x32 images, stride 8) around a 16x16 BEV of 2 m cells; 16-ch context features, D = 32."""
    g = torch.Generator().manual_seed(seed)
    grid = dict(x=(-16.0, 16.0, 2.0), y=(-16.0, 16.0, 2.0), z=(-3.0, 3.0, 6.0), depth=(1.0, 33.0, 1.0))
    num_cams = 4
    cam2img = torch.tensor([[60.0, 0.0, 31.5], [0.0, 60.0, 15.5], [0.0, 0.0, 1.0]]).repeat(1, num_cams, 1, 1)
    cams = dict(cam2img=cam2img, cam2ego=_rig(num_cams), post_rots=torch.eye(3).repeat(1, num_cams, 1, 1),
                post_trans=torch.zeros(1, num_cams, 3), bda=torch.eye(3).view(1, 3, 3))
    bev = torch.randn(1, 16, 16, 16, generator=g)
    feats = torch.randn(1, num_cams, 16, 4, 8, generator=g)
    depth = torch.randn(1, num_cams, 32, 4, 8, generator=g).softmax(2)
    return grid, bev, feats, depth, cams


def _cfg(name: str) -> Config:
    return Config.fromfile(str(ROOT / 'configs' / name))


def _layer(grid: dict, **kwargs) -> DepthAwareBackwardProjection:
    torch.manual_seed(0)
    args = dict(embed_dims=16, grid_config=grid, feature_stride=8, num_heights=2, num_heads=2, num_points=4)
    m = DepthAwareBackwardProjection(**dict(args, **kwargs))
    with torch.no_grad():  # non-trivial attention so that every weight matters
        m.attention_weights.weight.normal_(0, 0.5)
        m.sampling_offsets.weight.normal_(0, 0.1)
    return m.eval()


# ---------------------------------------------------------------- F3: the layer's structure and numbers
def test_fbbev_r50_backward_projection_has_fbocc_structure_and_numbers():
    cfg = _cfg('fbbev_r50.py')
    vt = cfg.model.img_view_transformer
    bp = MODELS.build(dict(cfg.model.backward_projection, embed_dims=vt.out_channels, grid_config=vt.grid_config,
                           feature_stride=16))
    assert bp.embed_dims == 80 and bp.num_heads == 8 and bp.num_points == 8 and bp.num_heights == 4
    assert bp.ffn[0].out_features == 320 and bp.ffn[3].in_features == 320  # FFN 4x
    assert all(m.p == 0.0 for m in bp.modules() if isinstance(m, nn.Dropout))
    assert bp.self_attn is not None and bp.self_attn.num_heads == 8 and bp.self_attn.num_points == 4
    assert isinstance(bp.self_attn_norm, nn.LayerNorm)
    pe = bp.positional_encoding
    assert pe.row_embed.weight.shape == (128, 40) and pe.col_embed.weight.shape == (128, 40)
    assert type(bp.input_proj) is nn.Identity  # samples the 80-ch context features directly
    assert bp.readd and bp.update_background and bp.clip_depth_bins and bp.mask_foreground_values
    assert not bp.pixel_centres and not bp.weight_visibility  # FB-OCC's u / W, depth consistency alone
    # FB-OCC's z anchors: arange(-1, 5.4, 1.6) + 0.8
    torch.testing.assert_close(bp.reference_points[0, 0, :, 2], torch.tensor([-0.2, 1.4, 3.0, 4.6]))


def test_learned_positional_encoding_is_column_then_row():
    pe = LearnedBEVPositionalEncoding(3, (4, 5))
    pos = pe()
    assert pos.shape == (20, 6) and 0 <= float(pos.min()) and float(pos.max()) < 1  # uniform init
    torch.testing.assert_close(pos[2 * 5 + 3], torch.cat([pe.col_embed.weight[3], pe.row_embed.weight[2]]))


def test_bev_self_attention_is_live_and_can_be_switched_off():
    grid, bev, feats, depth, cams = _module_inputs()
    poked = bev.clone()
    poked[0, :, 5, 8] += 3.0  # head 0 of cell (5, 7) samples 1..4 cells towards +x
    for self_attention, changes in ((True, True), (False, False)):
        m = _layer(grid, self_attention=self_attention)
        a = m(bev, feats, depth, **cams)[0, :, 5, 7]
        b = m(poked, feats, depth, **cams)[0, :, 5, 7]
        assert bool((a - b).abs().max() > 1e-4) == changes, self_attention


# ---------------------------------------------------------------- F2: every cell through the layer, + LSS
def test_every_cell_goes_through_the_layer_and_the_lss_bev_is_added_back():
    grid, bev, feats, depth, cams = _module_inputs(1)
    fg = torch.zeros(1, 16, 16, dtype=torch.bool)
    fg[0, 3:6, 9:12] = True
    m = _layer(grid)
    out = m(bev, feats, depth, fg_mask=fg, **cams)
    torch.testing.assert_close(out, bev + m.refine(bev, feats, depth, fg_mask=fg, **cams))  # readd
    assert ((out - bev).abs().sum(1)[0] > 1e-4).all()  # background cells are refined too
    # the mask only limits which queries attend: cross-attention output is zero off the foreground
    query = bev.flatten(2).transpose(1, 2) + m.bev_embedding.weight[None] + m.positional_encoding()[None]
    slots = m.cross_attention(query, feats, depth, fg_mask=fg, **cams).view(16, 16, -1)
    attended = slots.abs().sum(-1) > 0
    assert attended[fg[0]].any() and (attended & ~fg[0]).sum() <= 4  # + at most one fallback query per camera
    # the previous behaviour stays available: background cells keep their LSS feature
    kept = _layer(grid, update_background=False)(bev, feats, depth, fg_mask=fg, **cams)
    torch.testing.assert_close(kept[0][:, ~fg[0]], bev[0][:, ~fg[0]])
    alone = _layer(grid, readd=False)
    torch.testing.assert_close(alone(bev, feats, depth, **cams), alone.refine(bev, feats, depth, **cams))


# ---------------------------------------------------------------- F1: samples the depth net's context features
def test_backward_projection_samples_the_depth_nets_context_features():
    cfg = _cfg('demo/fbbev_r50_demo.py')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    captured = {}
    model.img_view_transformer.depth_net.register_forward_hook(lambda mod, args, out: captured.update(ctx=out[1]))
    model.backward_projection.register_forward_pre_hook(lambda mod, args: captured.update(sampled=args[1]))
    n = 6
    cam2img = torch.tensor([[100.0, 0.0, 176.0], [0.0, 100.0, 64.0], [0.0, 0.0, 1.0]]).repeat(1, n, 1, 1)
    cams = dict(cam2img=cam2img, cam2ego=_rig(n), post_rots=torch.eye(3).repeat(1, n, 1, 1),
                post_trans=torch.zeros(1, n, 3), bda=torch.eye(3).view(1, 3, 3))
    with torch.no_grad():
        model.frame_bev(torch.randn(1, n, 3, 128, 352), cams)
    assert captured['sampled'].shape == (1, n, 32, 8, 22)  # (B, N, C_context, h, w)
    torch.testing.assert_close(captured['sampled'].flatten(0, 1), captured['ctx'])


# ---------------------------------------------------------------- F6: FRPN init and evaluation threshold
def test_frpn_has_no_prior_bias_and_is_evaluated_at_0_5():
    torch.manual_seed(0)
    frpn = ForegroundRegionProposalNet(in_channels=80)
    frpn.init_weights()
    assert frpn.prior_prob is None and frpn.threshold == 0.4 and frpn.eval_threshold == 0.5
    last = frpn.mask_net[-1]
    bound = 1 / math.sqrt(last.in_channels * 9)
    assert float(last.bias.abs().max()) <= bound  # PyTorch's default init, not -log(9) = -2.2
    assert frpn.mask_net[0].bias is not None  # conv with bias, as upstream
    logits = torch.logit(torch.tensor([[[0.45, 0.55, 0.3]]]))
    assert frpn.foreground(logits).tolist() == [[[True, True, False]]]
    assert frpn.foreground(logits, frpn.eval_threshold).tolist() == [[[False, True, False]]]
    assert _cfg('fbbev_r50.py').model.frpn.get('prior_prob') is None


def test_configs_sample_the_context_and_keep_no_input_projection():
    for name in ('fbbev_r50.py', 'fbbev_hybrid.py'):
        model = _cfg(name).model
        assert model.get('backward_in_index') is None and 'in_channels' not in model.backward_projection
        assert not model.get('union_gt_mask', False)
        assert np.isclose(model.backward_projection.pillar_z_range, (-1.0, 5.4)).all()
