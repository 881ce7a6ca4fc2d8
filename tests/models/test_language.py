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
    assert torch.equal(out[0][:, :64], feats[0])
    assert out[0][:, 64:].abs().max() <= 100 + 1e-3
    sum(o[:, 64:].sum() for o in out).backward()
    assert bank.depth_tokens.grad is not None and bank.depth_tokens.grad.abs().sum() > 0
    assert all(p.grad is None for p in bank.text_encoder.parameters())  # frozen by default
    bank.zero_grad()


def test_coarse_point_logits(bank):
    pts = torch.randn(2, 7, 4 * 64)
    logits, proj = bank.point_logits(pts)
    assert logits.shape == (2, 7, 7) and proj.shape == (2, 7, 64)
    assert logits.abs().max() <= 100 + 1e-3


def test_pixel_projection_when_dims_differ():
    bank = DepthPromptBank(clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG, num_depth_tokens=4,
                           feature_channels=40)
    assert isinstance(bank.pixel_proj, torch.nn.Conv2d)
    assert bank([torch.randn(1, 40, 2, 2)])[0].shape == (1, 44, 2, 2)
    assert bank.out_channels == 44
