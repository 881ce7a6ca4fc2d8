"""Build every registered model of the library from a config and run a tiny CPU forward.

Every type ``hybrid_depth.models`` registers has a case here (a test checks the two lists agree), and the forward
of each, in training and in evaluation mode, leaves every attribute of every submodule at its value (STYLE rule 5:
``forward`` stores nothing on ``self``): parameters and buffers compared with ``torch.equal``, python values and
containers by value, objects through their ``__dict__``. Exempt: parameters' ``.grad`` and, in training mode,
batch norm's running statistics (torch's own update).
"""
import copy

import pytest
import torch
from mmdet3d.registry import MODELS
from mmengine.registry import init_default_scope
from torch import nn

import hybrid_depth.models  # noqa: F401  (registers the modules)
from hybrid_depth.models import TINY_CLIP_CFG, TINY_ENCODER_KWARGS

init_default_scope('mmdet3d')  # the estimators build their data preprocessor in the default scope

IMG = (2, 3, 64, 96)
TINY_LEVELS = [torch.randn(2, 64, 5, 7) for _ in range(4)]
ENCODER = dict(type='HybridEncoder', **TINY_ENCODER_KWARGS)
BANK = dict(type='DepthPromptBank', clip_pretrained=None, clip_model_cfg=TINY_CLIP_CFG, num_depth_tokens=8)
POSE = dict(type='HybridPoseNet', pretrained=None)

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
    'HybridDepthBackbone': ({'type': 'HybridDepthBackbone', 'preset': 'tiny'}, lambda m: list(m(torch.rand(*IMG)))),
    'HybridLSSDepthNet': ({'type': 'HybridLSSDepthNet', 'in_channels': 64, 'depth_channels': 59,
                           'context_channels': 16, 'mid_channels': 32, 'prompt_bank': BANK,
                           'decoder': {'type': 'HybridDPTDecoder', 'features': 16, 'out_channels': (16, 32, 64, 64),
                                       'head': 'sigmoid'}},
                          lambda m: list(m(TINY_LEVELS, torch.zeros(2, 27), torch.rand(*IMG)))),
    'DepthDataPreprocessor': ({'type': 'DepthDataPreprocessor'},
                              lambda m: [m({'inputs': {'imgs': [torch.rand(3, 3, 8, 8)] * 2}})['inputs']['imgs']]),
    'HybridCoarseDepthEstimator': ({'type': 'HybridCoarseDepthEstimator', 'encoder': ENCODER,
                                    'prompt_bank': dict(BANK, num_depth_tokens=0)},
                                   lambda m: _estimator(m, {'imgs': torch.rand(2, 1, 3, 56, 70),
                                                            'points': torch.rand(2, 3, 7, 2) * 50,
                                                            'points_valid': torch.ones(2, 3, 7, dtype=torch.bool)})),
    'HybridFineDepthEstimator': ({'type': 'HybridFineDepthEstimator', 'encoder': ENCODER, 'prompt_bank': BANK,
                                  'pose_net': POSE, 'decoder': {'type': 'HybridDPTDecoder', 'features': 16,
                                                                'out_channels': [16, 16, 32, 32]}},
                                 lambda m: _estimator(m, _frames())),
    'Monodepth2DepthEstimator': ({'type': 'Monodepth2DepthEstimator', 'pose_net': POSE,
                                  'decoder': {'type': 'Monodepth2DepthDecoder'},
                                  'encoder': {'type': 'Monodepth2ResNetEncoder', 'pretrained': None}},
                                 lambda m: _estimator(m, _frames())),
}


def _frames(b: int = 2, h: int = 42, w: int = 70) -> dict:
    """Three frames (B, 3, 3, H, W) and intrinsics (B, 4, 3, 3) per scale, as the KITTI dataset packs them."""
    imgs = torch.rand(b, 3, 3, h, w)
    k = torch.tensor([[0.58 * w, 0, 0.5 * w], [0, 1.92 * h, 0.5 * h], [0, 0, 1]])
    cam2img = torch.stack([k * torch.tensor([[0.5 ** s], [0.5 ** s], [1.0]]) for s in range(4)])
    return {'imgs': imgs, 'imgs_raw': imgs.clone(), 'cam2img': cam2img.expand(b, 4, 3, 3).clone()}


def _estimator(model: nn.Module, inputs: dict) -> list[torch.Tensor]:
    """The forward the runner calls: ``mode='loss'`` in training, ``mode='tensor'`` in evaluation."""
    out = model(inputs, mode='loss' if model.training else 'tensor')
    out = out.values() if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else [out]
    return [o for o in out if isinstance(o, torch.Tensor)]


def registered_types() -> set[str]:
    """Every type registered by ``hybrid_depth.models``."""
    return {name for name, cls in MODELS.module_dict.items() if cls.__module__.startswith('hybrid_depth.models.')}


_BN_STATS = ('running_mean', 'running_var', 'num_batches_tracked')


def _freeze(value, depth: int = 0):
    """A comparable copy of an attribute value (tensors cloned, containers and objects walked)."""
    if isinstance(value, torch.Tensor):
        return ('tensor', value.detach().clone())
    if isinstance(value, nn.Module):
        return ('module', id(value))  # compared by its own snapshot
    if isinstance(value, dict):
        return (type(value).__name__, {k: _freeze(v, depth + 1) for k, v in value.items()})
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return (type(value).__name__, [_freeze(v, depth + 1) for v in items])
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, torch.dtype, torch.device)):
        return value
    if hasattr(value, '__dict__') and not callable(value) and depth < 4:
        return (type(value).__name__, _freeze(vars(value), depth + 1))
    return ('object', id(value))


def _same(a, b) -> bool:
    if isinstance(a, tuple) and len(a) == 2 and a[0] == 'tensor':
        return (isinstance(b, tuple) and b[0] == 'tensor' and a[1].shape == b[1].shape and a[1].dtype == b[1].dtype
                and bool(torch.equal(a[1], b[1]) or torch.allclose(a[1], b[1], rtol=0, atol=0, equal_nan=True)))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return (isinstance(b, (list, tuple)) and type(a) is type(b) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    return type(a) is type(b) and a == b


def module_state(model: nn.Module) -> dict[str, dict]:
    """``{submodule name: {attribute: frozen value}}``; parameters by data only, batch norm statistics left out
    in training mode."""
    state = {}
    for name, m in model.named_modules():
        attrs = {k: v for k, v in vars(m).items() if k not in ('_parameters', '_buffers', '_modules')}
        attrs['_parameters'] = {k: None if p is None else p.detach() for k, p in m._parameters.items()}
        skip = _BN_STATS if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training else ()
        attrs['_buffers'] = {k: b for k, b in m._buffers.items() if k not in skip}
        attrs['_modules'] = {k: id(c) for k, c in m._modules.items()}
        state[name] = _freeze(attrs)
    return state


def changed_attributes(before: dict, after: dict) -> list[str]:
    """``'submodule.attribute'`` of every value that differs (added and removed attributes included)."""
    changed = sorted(before.keys() ^ after.keys())
    for name in before.keys() & after.keys():
        a, b = before[name][1], after[name][1]
        changed += [f'{name}.{k}' for k in sorted(a.keys() | b.keys()) if k not in a or k not in b
                    or not _same(a[k], b[k])]
    return changed


def test_every_registered_type_has_a_case():
    assert registered_types() == set(CASES)


@pytest.mark.parametrize('name', sorted(CASES))
def test_build_from_config_and_forward(name):
    cfg, run = CASES[name]
    snapshot = copy.deepcopy(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    assert cfg == snapshot  # the given config is not mutated
    for training in (True, False):
        model.train(training)
        before = module_state(model)
        outputs = run(model)
        assert outputs and all(torch.isfinite(o).all() for o in outputs)
        # forward stores nothing on self: every attribute keeps its value
        assert changed_attributes(before, module_state(model)) == [], ('train' if training else 'eval')
    info = getattr(model, 'feature_info', None)
    if info is not None:  # encoders: channels and strides match feature_info
        h, w = IMG[-2:]
        for out, level in zip(outputs, info):
            assert out.shape[1] == level['num_chs']
            assert abs(out.shape[-1] - w / level['reduction']) < 1
            assert abs(out.shape[-2] - h / level['reduction']) < 1
