"""Build every registered model of the library from a config and run a tiny CPU forward."""
import copy

import pytest
import torch
from mmdet3d.registry import MODELS

import hybrid_depth.models  # noqa: F401  (registers the modules)
from hybrid_depth.models import TINY_CLIP_CFG, TINY_ENCODER_KWARGS

IMG = (2, 3, 64, 96)
TINY_LEVELS = [torch.randn(2, 64, 5, 7) for _ in range(4)]

ENC_CHS = [64, 64, 128, 256, 512]
CASES = {
    'HybridEncoder': ({'type': 'HybridEncoder', **TINY_ENCODER_KWARGS}, lambda m: m(torch.rand(*IMG))),
    'DepthPromptBank': ({'type': 'DepthPromptBank', 'clip_pretrained': None, 'clip_model_cfg': TINY_CLIP_CFG,
                         'num_depth_tokens': 8, 'feature_channels': 64}, lambda m: m(TINY_LEVELS)),
    'HybridDPTDecoder': ({'type': 'HybridDPTDecoder', 'in_channels': 64, 'features': 16,
                          'out_channels': [16, 32, 64, 64]},
                         lambda m: list(m(TINY_LEVELS, IMG[-2:]).values())),
    'Monodepth2ResNetEncoder': ({'type': 'Monodepth2ResNetEncoder', 'pretrained': None},
                                lambda m: m(torch.rand(*IMG))),
    'Monodepth2DepthDecoder': ({'type': 'Monodepth2DepthDecoder', 'num_ch_enc': ENC_CHS},
                               lambda m: list(m([torch.randn(2, c, 32 >> i, 48 >> i)
                                                 for i, c in enumerate(ENC_CHS)]).values())),
    'HybridPoseNet': ({'type': 'HybridPoseNet', 'pretrained': None},
                      lambda m: list(m(torch.rand(*IMG), torch.rand(*IMG)))),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_build_from_config_and_forward(name):
    cfg, run = CASES[name]
    snapshot = copy.deepcopy(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    assert cfg == snapshot  # the given config is not mutated
    attrs = {id(m): set(vars(m)) for m in model.modules()}
    outputs = run(model)
    assert outputs and all(torch.isfinite(o).all() for o in outputs)
    assert {id(m): set(vars(m)) for m in model.modules()} == attrs  # forward stores nothing on self
    info = getattr(model, 'feature_info', None)
    if info is not None:  # encoders: channels and strides match feature_info
        h, w = IMG[-2:]
        for out, level in zip(outputs, info):
            assert out.shape[1] == level['num_chs']
            assert abs(out.shape[-1] - w / level['reduction']) < 1
            assert abs(out.shape[-2] - h / level['reduction']) < 1
