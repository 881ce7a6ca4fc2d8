"""configs/hybrid_depth/coarse_tusimple.py and fine_kitti.py run the official settings (issue 13, items 1-7).

Each test reads the built config and, where behaviour is the point, the built model (real architecture, random
init, no weight files) and checks one item against the official code (github.com/Zhangwenyao1/Hybrid-depth).
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

pytestmark = pytest.mark.slow  # builds the full-size coarse and fine models (RN50 + ViT-B/14 + text): ~1.5 min

ROOT = Path(__file__).resolve().parents[2]


def _build(config: str):
    from mmdet3d.registry import MODELS

    import hybrid_depth.models  # noqa: F401
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(ROOT / config)
    model_cfg = cfg.model
    model_cfg.encoder.update(clip_pretrained=None, dino_pretrained=None)
    model_cfg.prompt_bank.update(clip_pretrained=None)
    if 'pose_net' in model_cfg:
        model_cfg.pose_net.update(pretrained=None)
    torch.manual_seed(0)
    return cfg, MODELS.build(model_cfg)


@pytest.fixture(scope='module')
def coarse():
    return _build('configs/hybrid_depth/coarse_tusimple.py')


@pytest.fixture(scope='module')
def fine():
    return _build('configs/hybrid_depth/fine_kitti.py')


def test_item1_parameter_free_point_reduction(coarse):
    """4 x 1024 fused point features -> 1024 by every 4th channel (F.interpolate), no learned projection."""
    _, model = coarse
    bank = model.prompt_bank
    assert bank.channel_reduction == 'interpolate' and bank.point_proj is None
    assert not any('point_proj' in n for n, _ in model.named_parameters())
    feats = torch.randn(2, 7, 4096)
    logits, reduced = bank.point_logits(feats)
    assert torch.equal(reduced, feats[..., ::4])  # every 4th channel
    assert logits.shape == (2, 7, 7)


def test_item2_matrix_normalised_text_scale(coarse, fine):
    """Text rows L2-normalised, then the matrix divided by its norm: effective scale 100 / sqrt(N)."""
    for (_, model), n in ((coarse, 7), (fine, 256)):
        bank = model.prompt_bank
        assert bank.text_norm == 'matrix' and bank.logit_scale == 100.0
        with torch.no_grad():
            text = bank.encode_depth_words() if n == 7 else bank.encode_depth_tokens()
            from hybrid_depth.models.language import point_text_logits
            logits = point_text_logits(text[None], text, bank.logit_scale, bank.text_norm)[0]  # f = each prompt
        assert torch.allclose(logits.diagonal(), torch.full((n,), 100 / math.sqrt(n)), atol=1e-3)
    assert 100 / math.sqrt(7) == pytest.approx(37.8, abs=0.05) and 100 / math.sqrt(256) == 6.25


def test_item3_official_loss_normalisation(coarse):
    """Rank: MarginRankingLoss(0) summed over the 21 pairs and the lanes / images; repulsion: sum/49 per lane."""
    cfg, model = coarse
    assert cfg.model.rank_loss.reduction == 'official' and cfg.model.repulsion_loss.reduction == 'official'
    torch.manual_seed(1)
    b, g, p = 2, 3, 7
    logits = torch.randn(b * g, p, p)
    feats = torch.randn(b * g, p, 16)
    margin = torch.nn.MarginRankingLoss(margin=0.0)
    one = torch.ones(1)
    rank = sum(margin(lg[j, j][None], lg[i, j][None], one) for lg in logits for i in range(p)
               for j in range(i + 1, p)) / b
    assert model.rank_loss(logits, None, num_images=b).item() == pytest.approx(rank.item(), rel=1e-5)
    rep = 0.0
    for f in feats:
        fn = torch.nn.functional.normalize(f, dim=1)
        w = (torch.arange(p)[:, None] - torch.arange(p)[None]).abs().float() / (p - 1)
        rep += float((w * (fn @ fn.T)).sum() / (p * p))
    assert model.repulsion_loss(feats).item() == pytest.approx(rep / (b * g), rel=1e-5)


def test_item4_input_and_schedule(coarse):
    cfg, _ = coarse
    pipeline = cfg.train_dataloader.dataset.pipeline
    types = [t['type'] for t in pipeline]
    assert 'RandomFlipDepthFrames' not in types  # no flip
    resize = pipeline[types.index('ResizeDepthFrames')]
    assert resize['short_side'] == 224 and resize['size_divisor'] == 14
    from hybrid_depth.datasets.depth_transforms import ResizeDepthFrames
    assert ResizeDepthFrames(short_side=224, size_divisor=14).output_size(720, 1280) == (224, 392)
    assert pipeline[types.index('ColorJitterDepthFrames')]['prob'] == 1.0  # always
    assert cfg.train_dataloader.batch_size == 6 and cfg.train_cfg.max_epochs == 20
    assert cfg.train_dataloader.dataset.spacing == 'official' and cfg.train_dataloader.dataset.order == 'label'
    from hybrid_depth.datasets.tusimple_lanes import select_lane_points
    xs = list(range(100, 120))  # 20 labelled points, top (far) to bottom (near)
    ys = list(range(0, 200, 10))
    pts = select_lane_points(xs, ys, 7)
    assert [int(v) for v in pts[:, 1]] == [ys[j * (19 // 6)] for j in range(7)]  # label row order, top first
    opt = cfg.optim_wrapper
    assert opt.optimizer.type == 'AdamW' and opt.optimizer.lr == 3.57e-4 and opt.optimizer.weight_decay == 0.1
    assert opt.clip_grad.max_norm == 0.1
    onecycle = cfg.param_scheduler[0]
    assert (onecycle.type, onecycle.div_factor, onecycle.final_div_factor) == ('OneCycleLR', 25.0, 100.0)
    # the schedule as the runner builds it: lr and AdamW beta1 over 20 epochs x 10 iterations
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import PARAM_SCHEDULERS
    wrapper = build_optim_wrapper(torch.nn.Linear(2, 2), opt)
    iters = 10
    scheds = []
    for s in cfg.param_scheduler:
        s = dict(s)
        s.pop('convert_to_iter_based', None)
        s['by_epoch'] = False
        for key in ('total_steps', 'begin', 'end'):
            if key in s:
                s[key] = int(round(s[key] * iters))
        scheds.append(PARAM_SCHEDULERS.build(dict(s, optimizer=wrapper)))
    lrs, betas = [], []
    for _ in range(20 * iters):
        group = wrapper.optimizer.param_groups[0]
        lrs.append(group['lr'])
        betas.append(group['betas'][0])
        for s in scheds:
            s.step()
    assert lrs[0] == pytest.approx(3.57e-4 / 25) and max(lrs) == pytest.approx(3.57e-4, rel=1e-3)
    assert lrs[-1] == pytest.approx(3.57e-4 / 25 / 100, rel=0.05)
    assert betas[0] == pytest.approx(0.95) and min(betas) == pytest.approx(0.85, abs=1e-3)
    assert int(np.argmin(betas)) == pytest.approx(int(np.argmax(lrs)), abs=2)
    assert betas[-1] == pytest.approx(0.95, abs=2e-3)


def test_item5_one_relu_disparity_at_scale_0(fine):
    cfg, model = fine
    assert cfg.model.decoder.head == 'official' and model.decoder.num_scales == 1
    assert len(model.decoder.heads) == 1
    levels = [torch.randn(1, 1280, 4, 6) for _ in range(4)]
    with torch.no_grad():
        out = model.decoder(levels, (56, 84))
    assert list(out) == [0] and out[0].shape == (1, 1, 56, 84) and out[0].min() >= 0
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.decoder.modules())


def test_item6_official_trainable_set(fine):
    """Officially: every encoder parameter whose name contains 'clip' except clip.transformer, DINO blocks.11,
    the depth tokens, the decoder and the pose net. Checked on the official names of our parameters."""
    from hybrid_depth.models.official_checkpoint import official_stage2_from_ours
    _, model = fine
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    params = dict(model.named_parameters())
    for name in params:
        official = official_stage2_from_ours({name: params[name].detach()})
        (file, sd), = [(f, sd) for f, sd in official.items() if sd]
        okey = next(iter(sd))
        if file == 'encoder':
            want = ('clip' in okey and 'clip.transformer' not in okey) or 'dinov2.blocks.11.' in okey \
                or okey.startswith('extra_tkns')
        else:
            want = True  # depth decoder, pose encoder, pose decoder
        assert (name in trainable) == want, (name, okey)
    assert 'encoder.align.1.weight' in trainable and 'prompt_bank.text_encoder.ln_final.weight' in trainable
    assert not any(re.match(r'prompt_bank\.text_encoder\.transformer\.', n) for n in trainable)


def test_item7_raw_inputs_in_stage2_imagenet_in_stage1(fine, coarse):
    for (cfg, model), mode in ((fine, 'none'), (coarse, 'imagenet')):
        assert cfg.model.encoder.normalize == mode and model.encoder.normalize == mode
    _, model = fine
    img = torch.rand(1, 3, 28, 42)
    clip_in, dino_in = model.encoder.preprocess(img)
    assert torch.equal(clip_in, img) and torch.equal(dino_in, img)  # raw [0, 1] to both towers
    assert model.pose_net.encoder.normalize_input is False and model.pose_net.decoder.num_frames == 2
    assert model.encoder.autocast is None  # fp32 (bf16 only as an option)
