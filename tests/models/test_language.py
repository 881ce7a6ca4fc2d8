import open_clip
import pytest
import torch

from hybrid_depth.models.encoders import TINY_CLIP_CFG
from hybrid_depth.models.language import (
    DEPTH_WORDS,
    DepthPromptBank,
    pixel_text_logits,
    point_text_logits,
    sample_point_features,
)


@pytest.fixture(scope='module')
def bank():
    torch.manual_seed(0)
    return DepthPromptBank(clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG, num_depth_tokens=8,
                           feature_channels=64)


def test_sample_point_features_nearest_cell():
    feat = torch.arange(2 * 3, dtype=torch.float32).view(1, 1, 2, 3)  # cell (row, col) -> 3 row + col
    feat2 = 10 * feat
    points = torch.tensor([[[0.0, 0.0], [13.0, 13.0], [14.0, 0.0], [30.0, 20.0], [41.0, 27.0]]])
    out = sample_point_features([feat, feat2], points, stride=14)
    assert out.shape == (1, 5, 2)
    assert out[0, :, 0].tolist() == [0.0, 0.0, 1.0, 5.0, 5.0]
    assert torch.equal(out[..., 1], 10 * out[..., 0])


def test_pixel_and_point_logits_known_values():
    text = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    feat = torch.tensor([[3.0, 0.0], [1.0, 1.0]]).T.reshape(1, 2, 1, 2)  # pixels (3,0) and (1,1)
    logits = pixel_text_logits(feat, text)
    c = 100 * 2 ** -0.5
    assert torch.allclose(logits[0, :, 0], torch.tensor([[100.0, c], [0.0, c]]))
    pts = point_text_logits(torch.tensor([[[0.0, -5.0]]]), text, scale=10.0)
    assert torch.allclose(pts, torch.tensor([[[0.0, -10.0]]]))


def test_truncated_prompt_equals_full_context(bank):
    words = open_clip.tokenize([f'This patch appears to be {w}' for w in DEPTH_WORDS])
    full = bank.text_encoder(words)
    short = bank.text_encoder(bank.word_token_ids)
    assert bank.word_token_ids.shape[1] < 77
    assert torch.allclose(full, short, atol=1e-5)
    emb = bank.encode_depth_words()
    assert emb.shape == (7, 64)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(7))


def test_depth_token_is_inserted_in_the_template(bank):
    close_id = open_clip.tokenize(['close'])[0, 1]
    assert open_clip.tokenize(['close'])[0, 2] == 49407  # one BPE token
    with torch.no_grad():
        bank.depth_tokens[3] = bank.text_encoder.token_embedding.weight[close_id]
    tokens = bank.encode_depth_tokens()
    words = bank.encode_depth_words()
    assert tokens.shape == (8, 64)
    assert torch.allclose(tokens[3], words[1], atol=1e-5)  # "... to be close"
    assert not torch.allclose(tokens[2], words[1], atol=1e-3)


def test_fine_forward_appends_token_logits_and_grads(bank):
    feats = [torch.randn(2, 64, 3, 4, requires_grad=True) for _ in range(4)]
    out = bank(feats)
    assert [o.shape for o in out] == [(2, 72, 3, 4)] * 4
    assert torch.equal(out[0][:, 8:], feats[0])  # official layout: [logits || features]
    assert out[0][:, :8].abs().max() <= 100 / 8 ** 0.5 + 1e-3  # matrix-normalised text: 100 / sqrt(N)
    sum(o[:, :8].sum() for o in out).backward()
    assert bank.depth_tokens.grad is not None and bank.depth_tokens.grad.abs().sum() > 0
    assert all(p.grad is None for p in bank.text_encoder.parameters())  # frozen by default
    bank.zero_grad()


def test_coarse_point_logits(bank):
    pts = torch.randn(2, 7, 4 * 64)
    logits, proj = bank.point_logits(pts)
    assert logits.shape == (2, 7, 7) and proj.shape == (2, 7, 64)
    assert torch.equal(proj, pts[..., ::4])  # official: parameter-free, every 4th channel
    assert logits.abs().max() <= 100 / 7 ** 0.5 + 1e-3
    assert bank.point_proj is None


def test_learned_projection_option():
    bank = DepthPromptBank(clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG, num_depth_tokens=4,
                           feature_channels=40, channel_reduction='linear', text_norm='rows', logits_first=False)
    assert isinstance(bank.pixel_proj, torch.nn.Conv2d) and isinstance(bank.point_proj, torch.nn.Linear)
    feats = torch.randn(1, 40, 2, 2)
    out = bank([feats])[0]
    assert out.shape == (1, 44, 2, 2) and torch.equal(out[:, :40], feats)
    assert bank.out_channels == 44
    logits, proj = bank.point_logits(torch.randn(2, 7, 160))
    cosine = torch.nn.functional.normalize(proj, dim=-1) @ bank.encode_depth_words().T
    assert proj.shape == (2, 7, 64) and torch.allclose(logits, 100 * cosine, atol=1e-3)  # cosine x 100
    with pytest.raises(ValueError, match='channel_reduction'):
        DepthPromptBank(clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG, channel_reduction='mlp')


def test_official_pixel_reduction_when_dims_differ():
    """Official decoder: normalise each pixel feature, reduce channels by interpolation, dot the text matrix."""
    from hybrid_depth.models.language import normalize_text
    bank = DepthPromptBank(clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG, num_depth_tokens=4,
                           feature_channels=128)
    assert isinstance(bank.pixel_proj, torch.nn.Identity)
    feats = torch.randn(1, 128, 2, 2)
    with torch.no_grad():
        out = bank([feats])[0]
        f = feats / feats.norm(dim=1, keepdim=True)
        expected = 100 * torch.einsum('bdhw,kd->bkhw', f[:, ::2], normalize_text(bank.encode_depth_tokens(), 'matrix'))
    assert out.shape == (1, 132, 2, 2)
    assert torch.allclose(out[:, :4], expected, atol=1e-4) and torch.equal(out[:, 4:], feats)


def test_text_normalisations_and_channel_interpolation():
    from hybrid_depth.models.language import interpolate_channels, normalize_text
    t = torch.randn(5, 8)
    rows = normalize_text(t, 'rows')
    assert torch.allclose(rows.norm(dim=-1), torch.ones(5))
    mat = normalize_text(t, 'matrix')
    assert torch.allclose(mat, rows / 5 ** 0.5, atol=1e-6) and mat.norm().item() == pytest.approx(1.0)
    x = torch.arange(16.0).view(1, 16)
    assert interpolate_channels(x, 4).tolist() == [[0.0, 4.0, 8.0, 12.0]]
    assert interpolate_channels(x, 16) is x
