"""Our coarse-stage model on converted official weights equals the official Stage-1 forward.

The fixture ``tests/fixtures/official_hybrid_depth_stage1`` was recorded by
``tools/record_official_forward.py --stage 1`` from the official code (github.com/Zhangwenyao1/Hybrid-depth,
``modules/DepthCLIP_dino.py`` as ``params/basicParams_freeze_dino_clip_nodepth.yaml`` configures it for TuSimple)
with seeded synthetic weights: one 224 x 308 image and one raw TuSimple label line (four lanes, three with >= 7
points) read by the official loader (``datasets/dataloader.py``), the points the official forward selected, its
coarse-stage logits (G=3 lanes, 7 points, 7 depth words), rank loss and repulsion, the reduced L2-normalised point
features (G, 7, 1024), the text matrix (1024, 7) and the fused levels subsampled. Here, without the official
code: the label line goes through our ``TuSimpleLaneOrderDataset`` (as configured in
``configs/hybrid_depth/coarse_tusimple.py``), the same ``model.*`` weights are rebuilt from the recorded key/shape
manifest, converted with :func:`~hybrid_depth.models.official_checkpoint.convert_official_stage1` into that
config's model, and its points, forward and losses are compared with the record (fp32, max abs diff <= 1e-4).
"""
from __future__ import annotations

import json
import re
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
    official_stage1_from_ours,
    synthetic_official_state_dict,
)

pytestmark = pytest.mark.slow  # full-size official architecture (RN50 + ViT-B/14 + 12-layer text): ~40 s on 2 cores

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / 'tests/fixtures/official_hybrid_depth_stage1'
TOL = 1e-4


@pytest.fixture(scope='module')
def record() -> tuple[dict, dict[str, np.ndarray], dict[str, torch.Tensor]]:
    """(manifest, recorded arrays, the official ``model.*`` state dict rebuilt from the manifest)."""
    manifest = json.loads((FIXTURE / 'manifest.json').read_text())
    data = dict(np.load(FIXTURE / 'forward.npz'))
    state = synthetic_official_state_dict({k: tuple(v) for k, v in manifest['files']['stage1'].items()},
                                          int(manifest['seed']))
    return manifest, data, state


@pytest.fixture(scope='module')
def model():
    """The real coarse-stage model of configs/hybrid_depth/coarse_tusimple.py, random init (no weight files)."""
    from mmdet3d.registry import MODELS

    import hybrid_depth.models  # noqa: F401
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(ROOT / 'configs/hybrid_depth/coarse_tusimple.py').model
    cfg.encoder.update(clip_pretrained=None, dino_pretrained=None)
    # the 'openai' tag selects QuickGELU (OpenAI's text transformer); without weights name that architecture
    cfg.prompt_bank.update(clip_model='RN50-quickgelu', clip_pretrained=None)
    torch.manual_seed(0)
    return MODELS.build(cfg).eval()


def _expected(model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@torch.no_grad()
def _forward(model, data: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    """Our forward on the recorded input.

    Returns:
        logits (G, 7, 7), reduced point features L2-normalised as the official ones (G, 7, 1024) and the 4 fused
        levels (1, 1024, 16, 22).
    """
    img = torch.from_numpy(data['image']).permute(2, 0, 1)[None].float() / 255.0  # (1, 3, 224, 308) in [0, 1]
    points = torch.from_numpy(data['points']).float()[None]  # (1, G, 7, 2) pixel (u, v), as the official selected
    logits, projected = model.point_logits(img, points)
    feats = projected[0] / (projected[0].norm(dim=-1, keepdim=True) + 1e-6)
    return logits[0], feats, model.encoder(img)


def _our_points(data: dict[str, np.ndarray], tmp_path: Path, order: str) -> np.ndarray:
    """(G, 7, 2) pixel ``(u, v)``: our dataset's lane points from the recorded raw TuSimple label line."""
    from hybrid_depth.datasets.tusimple_lanes import TuSimpleLaneOrderDataset
    label = json.loads(str(data['label_line']))
    img = tmp_path / label['raw_file']
    img.parent.mkdir(parents=True, exist_ok=True)
    img.write_bytes(b'')  # only its existence is checked when the label file is read
    (tmp_path / 'test_label.json').write_text(str(data['label_line']) + '\n')
    cfg = Config.fromfile(ROOT / 'configs/hybrid_depth/coarse_tusimple.py').val_dataloader.dataset
    ds = TuSimpleLaneOrderDataset(str(tmp_path), label_files=['test_label.json'], num_points=cfg.num_points,
                                  spacing=cfg.spacing, order=order)
    return ds.get_data_info(0)['points']


def test_our_lane_selection_from_the_raw_label_line_is_the_official_one(record, tmp_path):
    """Our dataset, as the config sets it, picks the official points in the official (label row) order."""
    _, data, _ = record
    cfg = Config.fromfile(ROOT / 'configs/hybrid_depth/coarse_tusimple.py').val_dataloader.dataset
    ours = _our_points(data, tmp_path, cfg.order)
    assert data['points'].shape == (3, 7, 2) and len(data['lanes']) == 4  # one lane skipped (5 points)
    np.testing.assert_array_equal(ours, data['points'])
    # the option sorts near first and picks other rows where (n - 1) % 6 != 0 (lanes of 32 and 24 points)
    near = _our_points(data, tmp_path / 'near', 'near_to_far')
    for lane in (0, 1):
        assert set(map(tuple, near[lane].tolist())) != set(map(tuple, data['points'][lane].tolist()))


def test_every_official_key_mapped_none_left_shapes_equal(record, model):
    manifest, _, state = record
    expected = _expected(model)
    ours = convert_official_stage1(state, expected)  # raises on unknown / missing / mis-shaped keys
    assert set(ours) == set(expected)  # no point projection in the official configuration: nothing left
    back = official_stage1_from_ours(ours)
    used = {k for k in manifest['files']['stage1']
            if not any(re.fullmatch(p, k) for p in UNUSED_OFFICIAL['stage1'])}
    assert set(back) == used
    assert any(k.startswith('model.depth_head.') for k in manifest['files']['stage1'])  # dropped: never called
    for k in used:
        assert list(back[k].shape) == manifest['files']['stage1'][k][0], k
        assert torch.equal(back[k], state[k]), k


@torch.no_grad()
def test_forward_equals_recorded_official_forward(record, model):
    _, data, state = record
    model.load_state_dict(convert_official_stage1(state, _expected(model)), strict=True)
    logits, feats, fused = _forward(model, data)
    fused_sub = np.stack([f[:, ::16, ::2, ::2].numpy() for f in fused])
    assert fused_sub.shape == data['fused_sub'].shape
    assert np.abs(fused_sub - data['fused_sub']).max() <= TOL
    text = model.prompt_bank.encode_depth_words()  # (7, 1024) rows normalised; official: matrix-normalised (D, 7)
    assert np.abs((text / text.norm()).T.numpy() - data['text']).max() <= TOL
    assert np.abs(feats.numpy() - data['point_feats']).max() <= TOL
    official = torch.from_numpy(data['logits'])  # (G, 7 points, 7 words)
    assert logits.shape == official.shape == (3, 7, 7)
    assert official.std(-1).mean() > 0.1  # the words are told apart: not a trivial record
    assert (logits - official).abs().max().item() <= TOL


@torch.no_grad()
def test_losses_from_the_raw_label_line_equal_the_official_losses(record, model, tmp_path):
    """Label line -> our points -> our model's rank loss and repulsion = the official ones (pairing included)."""
    _, data, state = record
    model.load_state_dict(convert_official_stage1(state, _expected(model)), strict=True)
    cfg = Config.fromfile(ROOT / 'configs/hybrid_depth/coarse_tusimple.py').val_dataloader.dataset
    img = torch.from_numpy(data['image']).permute(2, 0, 1)[None, None].float() / 255.0  # (1, 1, 3, H, W)

    def losses(order: str) -> dict[str, torch.Tensor]:
        points = torch.from_numpy(_our_points(data, tmp_path / order, order)).float()[None]  # (1, G, 7, 2)
        return model.loss({'imgs': img, 'points': points, 'points_valid': torch.ones(points.shape[:3], dtype=bool)})

    ours = losses(cfg.order)
    assert float(data['rank_loss']) > 1.0  # not a trivial record
    assert abs(ours['loss_rank'].item() - float(data['rank_loss'])) <= TOL * float(data['rank_loss'])
    assert abs(ours['loss_repulsion'].item() - float(data['repulsion_loss'])) <= TOL
    near = losses('near_to_far')  # the option pairs the nearest point with "very close": another loss
    assert abs(near['loss_rank'].item() - float(data['rank_loss'])) > 0.01 * float(data['rank_loss'])


@torch.no_grad()
def test_a_dropped_or_transposed_tensor_is_caught(record, model):
    _, data, state = record
    expected = _expected(model)
    dropped = dict(state)
    del dropped['model.clip_align_conv.2.weight']
    with pytest.raises(OfficialCheckpointError, match='encoder.align.2.weight'):
        convert_official_stage1(dropped, expected)
    unknown = dict(state)
    unknown['model.clip_align_conv.4.weight'] = torch.zeros(1)  # mapped, but our model has no such tensor
    with pytest.raises(OfficialCheckpointError, match='encoder.align.4.weight'):
        convert_official_stage1(unknown, expected)
    misshaped = dict(state)
    misshaped['model.clip.text_projection'] = torch.zeros(1024, 512)
    with pytest.raises(OfficialCheckpointError, match=r'text_projection: checkpoint \(1024, 512\)'):
        convert_official_stage1(misshaped, expected)
    official = torch.from_numpy(data['logits'])
    for key in ('model.dinov2.blocks.5.attn.proj.weight',  # image side (DINOv2)
                'model.clip.visual.layer2.0.conv2.weight',  # image side (CLIP ResNet, 3x3 128 -> 128)
                'model.clip.transformer.resblocks.3.attn.out_proj.weight'):  # text side
        transposed = dict(state)
        w = transposed[key]
        assert w.shape[0] == w.shape[1], key
        transposed[key] = w.transpose(0, 1).contiguous()  # same shape (square), wrong layout
        model.load_state_dict(convert_official_stage1(transposed, expected), strict=True)
        assert (_forward(model, data)[0] - official).abs().max().item() > 100 * TOL, key
    model.load_state_dict(convert_official_stage1(state, expected), strict=True)
    assert (_forward(model, data)[0] - official).abs().max().item() <= TOL
