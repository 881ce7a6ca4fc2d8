"""HybridEncoder speed-ups against their references: one-pass preprocessing, channels-last CLIP, fused SDPA
(all fp32: same values) and bf16 autocast (measured tolerance, trains)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from hybrid_depth.models.backbones import HybridDepthBackbone
from hybrid_depth.models.encoders import hybrid_encoder_tiny
from hybrid_depth.models.encoders.precision import autocast_dtype, cpu_has_native_bf16

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = dict(autocast=None, channels_last=False, fused_attn=False, fused_preprocess=False)
# measured on the activated tiny encoder, 2 x 3 x 64 x 176: 0.5 % (level 0) to 1.5 % (level 3)
BF16_REL_TOL = 3e-2


def _benchmark_module():
    spec = importlib.util.spec_from_file_location('backbone_latency', ROOT / 'benchmarks/backbone_latency.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pair(**fast_kwargs):
    torch.manual_seed(0)
    ref = hybrid_encoder_tiny(**REFERENCE)
    fast = hybrid_encoder_tiny(**fast_kwargs)
    fast.load_state_dict(ref.state_dict())
    return ref, fast


@pytest.mark.parametrize('mode', ['eval', 'train'])
@pytest.mark.parametrize('size', [(64, 176), (50, 75)])
def test_fp32_fast_paths_equal_reference(mode, size):
    ref, fast = _pair(autocast=None)
    ref.train(mode == 'train')
    fast.train(mode == 'train')
    img = torch.rand(2, 3, *size)
    with torch.no_grad():
        want, got = ref.forward_intermediates(img), fast.forward_intermediates(img)
    # train mode: BatchNorm batch statistics reduce in another order in channels-last (relative error ~1e-5)
    tol = dict(rtol=1e-5, atol=1e-6) if mode == 'eval' else dict(rtol=1e-4, atol=1e-4)
    for key in ('clip', 'dino', 'fused'):
        for g, w in zip(got[key], want[key]):
            assert g.dtype == torch.float32
            torch.testing.assert_close(g, w, **tol)
    assert got['clip'][0].is_contiguous(memory_format=torch.channels_last)
    assert all(f.is_contiguous() for f in got['fused'])


def test_one_pass_preprocess_is_bitwise_the_reference():
    enc = hybrid_encoder_tiny()
    img = torch.rand(2, 3, 45, 61)
    clip_in, dino_in = enc.preprocess(img)
    ref_clip, ref_dino = enc.preprocess_reference(img)
    assert clip_in.shape == dino_in.shape == (2, 3, 56, 70)
    assert torch.equal(clip_in, ref_clip) and torch.equal(dino_in, ref_dino)
    assert clip_in.is_contiguous(memory_format=torch.channels_last)
    img.requires_grad_()  # out= cannot record autograd: the reference path is taken
    clip_in, _ = enc.preprocess(img)
    clip_in.sum().backward()
    assert img.grad is not None


def test_fused_attn_flag_reaches_every_block():
    for flag in (True, False):
        enc = hybrid_encoder_tiny(fused_attn=flag)
        assert all(block.attn.fused_attn is flag for block in enc.dino.model.blocks)


def test_autocast_resolution():
    cpu = torch.device('cpu')
    assert autocast_dtype(None, cpu) is None
    assert autocast_dtype('bf16', cpu) is torch.bfloat16
    assert autocast_dtype('auto', cpu) is (torch.bfloat16 if cpu_has_native_bf16() else None)
    with pytest.raises(ValueError, match='autocast must be one of'):
        hybrid_encoder_tiny(autocast='fp16')


def test_bf16_within_measured_tolerance():
    ref, fast = _pair(autocast='bf16')
    img = torch.rand(2, 3, 64, 176)
    bench = _benchmark_module()
    bench.activate_random_init_(ref, img)  # non-trivial residual branches, BN statistics of img
    fast.load_state_dict(ref.state_dict())
    fast.eval()
    with torch.inference_mode():
        want, got = ref(img), fast(img)
    errors = bench.relative_errors(got, want)
    assert all(g.dtype == torch.float32 for g in got)
    assert max(errors) < BF16_REL_TOL, errors
    assert min(errors) > 1e-4, errors  # bf16 really ran


def test_bf16_trains_fp32_weights():
    ref, fast = _pair(autocast='bf16')
    img = torch.rand(2, 3, 64, 96)
    for model in (ref, fast):
        model.train()
        out = model(img)
        assert all(o.dtype == torch.float32 for o in out)
        sum(o.square().mean() for o in out).backward()
    for name, p in fast.named_parameters():
        assert p.dtype == torch.float32 and p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all(), name
    g_ref = torch.cat([p.grad.flatten() for p in ref.parameters()])
    g = torch.cat([p.grad.flatten() for p in fast.parameters()])
    assert torch.nn.functional.cosine_similarity(g, g_ref, dim=0) > 0.99


def test_backbone_passes_speedup_arguments():
    backbone = HybridDepthBackbone(preset='tiny', encoder=dict(autocast=None, channels_last=False))
    assert backbone.encoder.autocast is None
    assert backbone.encoder.clip_memory_format == torch.contiguous_format
