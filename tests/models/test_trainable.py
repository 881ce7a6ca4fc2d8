import pytest
import torch
from torch import nn

from hybrid_depth.losses.ranking import distance_weighted_repulsion, rank_loss
from hybrid_depth.models import (
    TINY_CLIP_CFG,
    DepthPromptBank,
    HybridDPTDecoder,
    HybridPoseNet,
    Monodepth2DepthDecoder,
    Monodepth2ResNetEncoder,
    apply_trainable,
    hybrid_encoder_tiny,
    resolve_trainable,
)
from hybrid_depth.models.language import sample_point_features


class _DepthModel(nn.Module):
    """Tiny stand-in with the child names the stage defaults refer to."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = hybrid_encoder_tiny()
        self.prompt_bank = DepthPromptBank(clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG,
                                           num_depth_tokens=4, feature_channels=self.encoder.out_channels)
        self.decoder = HybridDPTDecoder(in_channels=self.prompt_bank.out_channels, features=16,
                                        out_channels=(16, 32, 64, 64), head_channels=8)
        self.pose_net = HybridPoseNet(pretrained=None)


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    m = _DepthModel()
    # open_clip zero-inits the last BN of each block: undo it so that every branch gets gradient
    for bn in m.modules():
        if isinstance(bn, nn.BatchNorm2d):
            nn.init.ones_(bn.weight)
    return m


def _grads(model):
    got = {n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    model.zero_grad(set_to_none=True)
    return got


def _groups(names):
    return {'.'.join(n.split('.')[:2]) for n in names}


def test_coarse_stage_gradients(model):
    trainable = set(apply_trainable(model, 'coarse'))
    assert _groups(trainable) == {'encoder.clip', 'encoder.align'}  # official: no learned point projection
    img = torch.rand(2, 3, 64, 96)
    points = torch.stack([torch.full((7,), 48.0), torch.linspace(63, 20, 7)], dim=-1).expand(2, 7, 2)
    feats = model.encoder(img)
    logits, proj = model.prompt_bank.point_logits(sample_point_features(feats, points))
    (rank_loss(logits) + distance_weighted_repulsion(proj)).backward()
    assert _grads(model) == trainable
    assert all(not p.requires_grad for p in model.encoder.dino.parameters())
    assert all(not p.requires_grad for p in model.prompt_bank.text_encoder.parameters())


def test_fine_stage_gradients(model):
    trainable = set(apply_trainable(model, 'fine'))
    last = len(model.encoder.dino.model.blocks) - 1
    assert {n for n in trainable if n.startswith('encoder.dino')} == {
        n for n, _ in model.named_parameters() if n.startswith(f'encoder.dino.model.blocks.{last}.')}
    assert _groups(trainable) == {'encoder.clip', 'encoder.align', 'encoder.dino', 'prompt_bank.depth_tokens',
                                  'prompt_bank.text_encoder', 'decoder.projects', 'decoder.resize_layers',
                                  'decoder.layer_rn', 'decoder.refinenets', 'decoder.heads', 'pose_net.encoder',
                                  'pose_net.decoder'}
    # official: everything named 'clip' but the text transformer (token / positional embeddings, ln_final and
    # text_projection train)
    text = {n.split('.')[2] for n in trainable if n.startswith('prompt_bank.text_encoder.')}
    assert text == {'token_embedding', 'positional_embedding', 'ln_final', 'text_projection'}
    img = torch.rand(2, 3, 64, 96)
    with torch.no_grad():  # keep the official ReLU output positive (a dead ReLU passes no gradient at all)
        model.decoder.heads[0].conv3.bias.fill_(1.0)
    disp = model.decoder(model.prompt_bank(model.encoder(img)), img.shape[-2:])
    assert (disp[0] > 0).float().mean() > 0.9
    axis_angle, translation = model.pose_net(img, img.flip(-1))
    (sum(d.mean() for d in disp.values()) + axis_angle.sum() + translation.sum()).backward()
    assert _grads(model) == trainable
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert any(n.startswith('prompt_bank.text_encoder.transformer.') for n in frozen)
    assert not any(n.startswith('encoder.align') for n in frozen)


def test_fine_frozen_text_option(model):
    trainable = set(apply_trainable(model, 'fine_frozen_text'))
    assert not any(n.startswith(('encoder.align', 'prompt_bank.text_encoder')) for n in trainable)
    assert 'prompt_bank.depth_tokens' in trainable


def test_explicit_patterns_and_typos(model):
    names = apply_trainable(model, patterns=['decoder.heads.*'])
    assert names and all(n.startswith('decoder.heads.') for n in names)
    assert sum(p.requires_grad for p in model.parameters()) == len(names)
    with pytest.raises(ValueError, match='decodr'):
        resolve_trainable(model, ['decodr.*'])
    with pytest.raises(ValueError):
        apply_trainable(model, 'coarse', ['decoder.*'])
    with pytest.raises(ValueError, match='unknown stage'):
        apply_trainable(model, 'medium')


def test_monodepth2_baseline_trains_everything():
    torch.manual_seed(0)
    baseline = nn.Module()
    baseline.encoder = Monodepth2ResNetEncoder(pretrained=None)
    baseline.decoder = Monodepth2DepthDecoder(baseline.encoder.num_ch_enc)
    trainable = apply_trainable(baseline, 'monodepth2')
    assert len(trainable) == len(list(baseline.parameters()))
    img = torch.rand(2, 3, 64, 96)
    out = baseline.decoder(baseline.encoder(img), img.shape[-2:])
    sum(d.mean() for d in out.values()).backward()
    assert _grads(baseline) == set(trainable)
