import socket

import pytest
import torch

from hybrid_depth.models.encoders import (
    TINY_CLIP_CFG,
    TINY_DINO_KWARGS,
    TINY_ENCODER_KWARGS,
    HybridEncoder,
    WeightsNotFoundError,
    build_dinov2,
    build_open_clip,
    hybrid_encoder_tiny,
)
from hybrid_depth.models.encoders.hybrid_encoder import IMAGENET_MEAN, IMAGENET_STD

TINY_VIT_CLIP_CFG = {
    'embed_dim': 32,
    'vision_cfg': {'image_size': 32, 'layers': 4, 'width': 32, 'patch_size': 8, 'head_width': 16},
    'text_cfg': {'context_length': 77, 'vocab_size': 49408, 'width': 32, 'heads': 2, 'layers': 1},
}


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    return hybrid_encoder_tiny()


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('network access attempted')

    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)


@pytest.mark.parametrize('size', [(64, 96), (50, 75), (29, 43)])
def test_tiny_encoder_shapes_match_feature_info(tiny, size):
    out = tiny(torch.rand(2, 3, *size))
    h, w = tiny.grid_size(*size)
    assert (h, w) == (-(-size[0] // 14), -(-size[1] // 14))
    assert len(out) == len(tiny.feature_info) == 4
    for feat, info in zip(out, tiny.feature_info):
        assert feat.shape == (2, info['num_chs'], h, w)
        assert info['reduction'] == 14
        assert torch.isfinite(feat).all()
    assert tiny.out_channels == 48 + 16


def test_tiny_encoder_is_small_and_trains(tiny):
    assert sum(p.numel() for p in tiny.parameters()) < 1_000_000
    out = tiny(torch.rand(2, 3, 64, 96))
    sum(o.square().mean() for o in out).backward()
    missing = [n for n, p in tiny.named_parameters() if p.grad is None]
    assert missing == []  # every kept parameter is in the graph (CLIP attnpool / DINO head removed)
    tiny.zero_grad()


def test_forward_intermediates_and_fusion_order(tiny):
    inter = tiny.forward_intermediates(torch.rand(2, 3, 30, 40))
    assert set(inter) == {'clip', 'dino', 'fused'}
    assert [c.shape[1] for c in inter['clip']] == [32, 64, 128, 256]
    for d, f in zip(inter['dino'], inter['fused']):
        assert torch.equal(f[:, :48], d)  # [DINO || aligned CLIP]


def test_each_tower_gets_its_own_normalisation():
    """The per-tower option (ours): CLIP statistics for CLIP, ImageNet statistics for DINOv2."""
    tiny = hybrid_encoder_tiny(normalize='per_tower')
    seen = {}
    hooks = [tiny.dino.register_forward_pre_hook(lambda m, a: seen.__setitem__('dino', a[0])),
             tiny.clip.register_forward_pre_hook(lambda m, a: seen.__setitem__('clip', a[0]))]
    img = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(2, 3, 64, 64)
    with torch.no_grad():
        tiny(img)
    for h in hooks:
        h.remove()
    assert torch.allclose(seen['dino'], torch.zeros_like(seen['dino']), atol=1e-6)
    expected = (img - tiny.clip_mean) / tiny.clip_std
    assert seen['clip'].shape[-2:] == (70, 70)  # CLIP input is padded to the DINO extent with zeros
    assert torch.allclose(seen['clip'][..., :64, :64], expected) and expected.abs().max() > 0.01
    assert (seen['clip'][..., 64:, :] == 0).all()


def test_vit_clip_tower_any_size():
    torch.manual_seed(0)
    enc = HybridEncoder(**dict(TINY_ENCODER_KWARGS, clip_model_cfg=TINY_VIT_CLIP_CFG))
    assert enc.clip.vit_indices == (0, 1, 2, 3)
    assert [i['num_chs'] for i in enc.clip.feature_info] == [32] * 4
    assert [i['reduction'] for i in enc.clip.feature_info] == [8] * 4
    out = enc(torch.rand(1, 3, 45, 61))
    assert [o.shape for o in out] == [(1, 64, 4, 5)] * 4
    clip_feats = enc.forward_intermediates(torch.rand(1, 3, 45, 61))['clip']
    assert clip_feats[0].shape == (1, 32, 7, 9)  # 45x61 -> 56x70 (x14) -> 56x72 (x8)


def test_registry_build_does_not_mutate_config():
    from mmdet3d.registry import MODELS

    import hybrid_depth.models  # noqa: F401

    cfg = dict(type='HybridEncoder', **TINY_ENCODER_KWARGS)
    snapshot = repr(cfg)
    enc = MODELS.build(cfg)
    assert isinstance(enc, HybridEncoder) and repr(cfg) == snapshot


def test_missing_weight_file_raises_naming_path(tmp_path, no_network):
    missing = str(tmp_path / 'nope' / 'clip_rn50.pt')
    with pytest.raises(WeightsNotFoundError, match='nope/clip_rn50.pt'):
        HybridEncoder(**dict(TINY_ENCODER_KWARGS, clip_pretrained=missing))
    missing_dino = str(tmp_path / 'dinov2_vitb14_pretrain.pth')
    with pytest.raises(WeightsNotFoundError, match='dinov2_vitb14_pretrain.pth'):
        HybridEncoder(**dict(TINY_ENCODER_KWARGS, dino_pretrained=missing_dino))


def test_missing_cached_tag_raises_without_download(tmp_path, no_network):
    with pytest.raises(WeightsNotFoundError, match=str(tmp_path)):
        build_open_clip('RN50', 'openai', cache_dir=str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match='vit_base_patch14_dinov2.lvd142m'):
        build_dinov2('vit_base_patch14_dinov2', 'lvd142m', cache_dir=str(tmp_path))


def test_weights_load_from_local_files(tmp_path, no_network):
    torch.manual_seed(0)
    clip = build_open_clip(pretrained=None, model_cfg=TINY_CLIP_CFG)
    torch.save(clip.state_dict(), tmp_path / 'clip.pt')
    dino = build_dinov2('vit_small_patch14_dinov2', None, TINY_DINO_KWARGS)
    torch.save(dino.state_dict(), tmp_path / 'dino.pth')
    enc = HybridEncoder(**dict(TINY_ENCODER_KWARGS, clip_pretrained=str(tmp_path / 'clip.pt'),
                               dino_pretrained=str(tmp_path / 'dino.pth')))
    assert torch.equal(enc.clip.visual.layer4[0].conv3.weight, clip.visual.layer4[0].conv3.weight)
    assert torch.equal(enc.dino.model.blocks[1].attn.qkv.weight, dino.blocks[1].attn.qkv.weight)
    assert torch.equal(enc.dino.model.pos_embed, dino.pos_embed)


def test_norm_eval_keeps_batchnorm_statistics():
    enc = hybrid_encoder_tiny(norm_eval=True).train()
    bn = enc.clip.visual.bn1
    assert enc.training and not bn.training
    before = bn.running_mean.clone()
    enc(torch.rand(2, 3, 64, 64))
    assert torch.equal(bn.running_mean, before)
    assert hybrid_encoder_tiny().train().clip.visual.bn1.training


def _fake_hf_cache(root, repo_id, filename):
    repo = root / f"models--{repo_id.replace('/', '--')}"
    (repo / 'refs').mkdir(parents=True)
    (repo / 'refs' / 'main').write_text('abc123')
    snap = repo / 'snapshots' / 'abc123'
    snap.mkdir(parents=True)
    (snap / filename).write_bytes(b'weights')
    return str(snap / filename)


def test_tags_resolve_to_local_cache_files(tmp_path, no_network):
    from hybrid_depth.models.encoders import resolve_open_clip_weights, resolve_timm_weights

    expected = _fake_hf_cache(tmp_path, 'timm/vit_base_patch14_dinov2.lvd142m', 'model.safetensors')
    assert resolve_timm_weights('vit_base_patch14_dinov2', 'lvd142m', str(tmp_path)) == expected
    (tmp_path / 'RN50.pt').write_bytes(b'jit')  # open_clip's URL cache layout: <cache_dir>/RN50.pt
    assert resolve_open_clip_weights('RN50', 'openai', str(tmp_path)) == str(tmp_path / 'RN50.pt')
    hub = _fake_hf_cache(tmp_path / 'hub', 'timm/resnet50_clip.openai', 'open_clip_model.safetensors')
    assert resolve_open_clip_weights('RN50', 'openai', str(tmp_path / 'hub')) == hub


@pytest.mark.parametrize('mode', ['none', 'imagenet'])
def test_official_normalisations(mode):
    """Official Stage 2 ('none', the default): raw [0, 1] to both towers; Stage 1 ('imagenet'): both ImageNet."""
    enc = hybrid_encoder_tiny(normalize=mode, fused_preprocess=False)
    assert hybrid_encoder_tiny().normalize == 'none'
    img = torch.rand(1, 3, 28, 28)
    clip_in, dino_in = enc.preprocess(img)
    expected = img if mode == 'none' else (img - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(clip_in, expected) and torch.allclose(dino_in, expected)
    with pytest.raises(ValueError, match='normalize must be one of'):
        hybrid_encoder_tiny(normalize='clip')


def test_official_dino_position_embedding_resampling():
    """DINOv2 hub resampling: bicubic with scale factor (g + 0.1) / M; unchanged on the pretrained grid."""
    from hybrid_depth.models.encoders.dinov2 import official_patch_pos_embed
    torch.manual_seed(0)
    pos = torch.randn(1, 1 + 4 * 4, 8)
    same = official_patch_pos_embed(pos, (4, 4))
    assert torch.equal(same, pos[:, 1:].reshape(1, 4, 4, 8))
    out = official_patch_pos_embed(pos, (3, 6))
    grid = pos[:, 1:].reshape(1, 4, 4, 8).permute(0, 3, 1, 2)
    ref = torch.nn.functional.interpolate(grid, scale_factor=(3.1 / 4, 6.1 / 4), mode='bicubic', antialias=False)
    assert out.shape == (1, 3, 6, 8) and torch.equal(out, ref.permute(0, 2, 3, 1))
    by_size = torch.nn.functional.interpolate(grid, size=(3, 6), mode='bicubic').permute(0, 2, 3, 1)
    assert (out - by_size).abs().max() > 1e-3  # timm's size-based resampling is a different function
    official = hybrid_encoder_tiny()
    timm_mode = hybrid_encoder_tiny(dino_pos_embed='timm')
    timm_mode.load_state_dict(official.state_dict())
    img = torch.rand(1, 3, 42, 70)
    with torch.no_grad():
        a, b = official.dino(img), timm_mode.dino(img)
    assert all(x.shape == y.shape for x, y in zip(a, b)) and (a[0] - b[0]).abs().max() > 1e-4
