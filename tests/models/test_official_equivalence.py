"""Our fine-stage model on converted official weights equals the official Stage-2 forward.

The fixture ``tests/fixtures/official_hybrid_depth`` was recorded by ``tools/record_official_forward.py`` from the
official code (github.com/Zhangwenyao1/Hybrid-depth, Stage 2 as ``trainer.py`` builds it for the released
checkpoint) with seeded synthetic weights. Here, without the official code: the same official-layout weights are
rebuilt from the recorded key/shape manifest, converted with
:func:`~hybrid_depth.models.official_checkpoint.convert_official_stage2` into ``configs/hybrid_depth/fine_kitti.py``'s
model, and its forward is compared with the record (fp32, max abs diff <= 1e-4).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from hybrid_depth.models.official_checkpoint import (
    UNUSED_OFFICIAL,
    OfficialCheckpointError,
    convert_official_stage1,
    convert_official_stage2,
    official_stage1_from_ours,
    official_stage2_from_ours,
    synthetic_official_state_dict,
)

pytestmark = pytest.mark.slow  # full-size official architecture (RN50 + ViT-B/14 + 12-layer text + DPT): ~2 min

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / 'tests/fixtures/official_hybrid_depth'
TOL = 1e-4


def _frames(data) -> torch.Tensor:
    """Frames 0, -1, +1 (3, 3, H, W) in [0, 1] from the recorded scene (see tools/record_official_forward.py)."""
    import sys
    sys.path.insert(0, str(ROOT / 'tools'))
    from record_official_forward import frames_from_scene
    return frames_from_scene(data['scene'])


def _unused(file: str, key: str) -> bool:
    import re
    return any(re.fullmatch(p, key) for p in UNUSED_OFFICIAL[file])


@pytest.fixture(scope='module')
def record():
    manifest = json.loads((FIXTURE / 'manifest.json').read_text())
    data = dict(np.load(FIXTURE / 'forward.npz'))
    files = {name: synthetic_official_state_dict({k: tuple(v) for k, v in sd.items()}, int(manifest['seed']))
             for name, sd in manifest['files'].items()}
    return manifest, data, files


@pytest.fixture(scope='module')
def model():
    """The real fine-stage model of configs/hybrid_depth/fine_kitti.py, random init (no weight files)."""
    from mmdet3d.registry import MODELS

    import hybrid_depth.models  # noqa: F401
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(ROOT / 'configs/hybrid_depth/fine_kitti.py').model
    cfg.encoder.update(clip_pretrained=None, dino_pretrained=None)
    # the 'openai' tag selects QuickGELU (OpenAI's text transformer); without weights name that architecture
    cfg.prompt_bank.update(clip_model='RN50-quickgelu', clip_pretrained=None)
    cfg.pose_net.update(pretrained=None)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def test_every_official_key_mapped_none_left_shapes_equal(record, model):
    manifest, _, files = record
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    ours = convert_official_stage2(files, expected)  # raises on unknown / missing / mis-shaped keys
    assert set(ours) == set(expected)
    back = official_stage2_from_ours(ours)
    for name, sd in manifest['files'].items():
        used = {k for k in sd if not _unused(name, k)}
        assert set(back[name]) == used, name
        for k in used:
            assert list(back[name][k].shape) == sd[k][0], k
            assert torch.equal(back[name][k], files[name][k]), k


@torch.no_grad()
def test_forward_equals_recorded_official_forward(record, model):
    _, data, files = record
    model.load_state_dict(convert_official_stage2(files), strict=True)
    imgs = _frames(data)  # (3, 3, H, W) raw [0, 1], as the official Stage 2
    target = imgs[:1]
    levels = model.encoder(target)
    fused_sub = np.stack([f[:, ::16, ::4, ::4].numpy() for f in levels])
    assert np.abs(fused_sub - data['fused_sub']).max() <= TOL
    text = model.prompt_bank.encode_depth_tokens()  # (N, 1024) rows normalised; official: matrix-normalised, (D, N)
    text_official = (text / text.norm()).T
    assert np.abs(text_official[::16, ::8].numpy() - data['text_sub']).max() <= TOL
    disp = model.predict_disparity(target)
    assert list(disp) == [0] and disp[0].shape == (1, 1, 224, 672)
    mean, std, _, hi, positive = data['disp_stats']
    assert positive > 0.9 and std > 0.1  # the record is not a trivial (all-zero) map
    official = torch.from_numpy(data['disp_sub'])
    assert (disp[0][..., ::2, ::2] - official).abs().max().item() <= TOL
    assert abs(disp[0].mean().item() - mean) <= TOL and abs(disp[0].max().item() - hi) <= TOL
    for k, (src, tgt) in enumerate(((imgs[1:2], target), (target, imgs[2:3]))):
        axis, trans = model.pose_net(src, tgt)
        assert np.abs(axis[:, 0].numpy() - data['axis_angle'][:, k]).max() <= TOL
        assert np.abs(trans[:, 0].numpy() - data['translation'][:, k]).max() <= TOL


@torch.no_grad()
def test_a_dropped_or_transposed_tensor_is_caught(record, model):
    _, data, files = record
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    dropped = {name: dict(sd) for name, sd in files.items()}
    del dropped['depth']['depth_head.scratch.layer2_rn.weight']
    with pytest.raises(OfficialCheckpointError, match='decoder.layer_rn.1.weight'):
        convert_official_stage2(dropped, expected)
    unknown = {name: dict(sd) for name, sd in files.items()}
    unknown['encoder']['clip.extra_head.weight'] = torch.zeros(1)  # no rule maps it
    unknown['encoder']['clip.visual.extra.weight'] = torch.zeros(1)  # mapped, but our model has no such tensor
    with pytest.raises(OfficialCheckpointError, match='encoder.pth: clip.extra_head.weight') as err:
        convert_official_stage2(unknown, expected)
    assert 'encoder.clip.visual.extra.weight' in str(err.value)  # both listed in the one error
    misshaped = {name: dict(sd) for name, sd in files.items()}
    misshaped['depth']['depth_head.projects.0.weight'] = torch.zeros(3, 1280, 1, 1)
    with pytest.raises(OfficialCheckpointError, match=r'decoder.projects.0.weight: checkpoint \(3, 1280, 1, 1\)'):
        convert_official_stage2(misshaped, expected)
    target = _frames(data)[:1]
    official = torch.from_numpy(data['disp_sub'])
    for file, key in (('encoder', 'dinov2.blocks.11.attn.proj.weight'),
                      ('depth', 'depth_head.scratch.refinenet1.out_conv.weight')):
        transposed = {name: dict(sd) for name, sd in files.items()}
        w = transposed[file][key]
        transposed[file][key] = w.transpose(0, 1).contiguous()  # same shape (square), wrong layout
        model.load_state_dict(convert_official_stage2(transposed, expected), strict=True)
        assert (model.predict_disparity(target)[0][..., ::2, ::2] - official).abs().max().item() > 100 * TOL, key
    model.load_state_dict(convert_official_stage2(files, expected), strict=True)


def test_stage1_round_trip(model):
    """Stage 1 (Lightning ``model.*`` keys): the encoder and text-tower rules, the unused DPT head dropped."""
    ours = {k: v for k, v in model.state_dict().items() if k.startswith(('encoder.', 'prompt_bank.text_encoder.'))}
    official = official_stage1_from_ours(ours)
    assert 'model.clip.visual.layer4.2.conv3.weight' in official and 'model.dinov2.blocks.11.ls2.gamma' in official
    assert 'model.clip_align_conv.3.weight' in official and 'model.clip.text_projection' in official
    official['model.depth_head.projects.0.weight'] = torch.zeros(1)  # Stage 1's unused DPT head
    official['model.clip.logit_scale'] = torch.zeros(())
    back = convert_official_stage1(official, {k: tuple(v.shape) for k, v in ours.items()})
    assert set(back) == set(ours) and all(torch.equal(back[k], ours[k]) for k in ours)
    official['model.clip.unknown'] = torch.zeros(1)
    with pytest.raises(OfficialCheckpointError, match='stage1.ckpt: model.clip.unknown'):
        convert_official_stage1(official)
