#!/usr/bin/env python
"""Forward latency and peak memory of ``HybridDepthBackbone`` against BEVDet's ResNet-50, in the same run.

Setting: one BEVDet sample = 6 cameras at 256 x 704 (``--batch 6 --size 256x704``), forward only, eval mode,
``torch.inference_mode()``. Reference: the ``img_backbone`` of ``configs/bevdet_r50.py`` (mmdet ``ResNet``,
built from that dict through the registry, NCHW fp32 as the config runs it). Candidate: ``HybridDepthBackbone``
(``--preset rn50_vitb14``: CLIP RN50 + DINOv2 ViT-B/14, or ``tiny``), random init (no weight files). Every
row is timed interleaved with the others (one forward of each per round, median of ``--iters`` rounds after
``--warmup``), so a shared, noisy machine slows all rows alike; figures are printed as ratios to ResNet-50.

``--ablation`` adds the speed-ups of ``HybridEncoder`` one at a time (cumulative rows), then two side rows:
the final setting without fused SDPA attention (what that lever, already timm's default, is worth) and the
ResNet-50 given the same channels-last + bf16 treatment (the like-for-like ratio). Each hybrid row prints the
relative error ``||y - y_naive|| / ||y_naive||`` of its 4 output levels; fp32 rows must stay below
``FP32_REL_TOL`` (they differ by summation order only; the tiny-preset tests hold them to rtol 1e-5). Random
init would make those errors meaningless (open_clip zero-initialises each CLIP bottleneck's last BN scale and
DINOv2 starts its LayerScales at 1e-5, so both towers start near the identity): :func:`activate_random_init_`
sets those scales to 1 and calibrates the CLIP BatchNorm statistics on the benchmark input first. Such a
random deep network is far more sensitive than a trained one, so a last line prints the errors that adding
``N(0, 1e-3)`` noise to the input causes in fp32: bf16 errors are to be read against that floor.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` minus the memory held before the forward. On CPU the
same quantity from the PyTorch allocator's events recorded by ``torch.profiler`` (``profile_memory=True``): the
highest sum of live tensor bytes allocated during one forward (activations, bf16 weight copies, oneDNN
scratchpads PyTorch allocates), weights and input excluded. Chosen over an RSS delta because it is
deterministic, needs no fresh process per model, does not depend on glibc returning freed pages, and means
what the CUDA figure means.

GFLOP: ``torch.utils.flop_counter.FlopCounterMode`` (2 per multiply-add) of one forward, with attention run
through the math SDPA backend so its two matmuls are counted (the fused CPU kernel is invisible to it).

Usage::

    python benchmarks/backbone_latency.py [--device cpu|cuda] [--batch 6] [--size 256x704] [--iters 5]
        [--warmup 1] [--preset rn50_vitb14|tiny] [--ablation]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hybrid_depth.models.backbones import HybridDepthBackbone  # noqa: E402
from hybrid_depth.models.encoders import HybridEncoder  # noqa: E402
from hybrid_depth.models.encoders.precision import autocast_dtype, cpu_has_native_bf16  # noqa: E402

RESNET_CONFIG = ROOT / 'configs/bevdet_r50.py'
NAIVE = {'fused_preprocess': False, 'channels_last': False, 'autocast': None, 'fused_attn': True}
# cumulative: each row adds one HybridEncoder speed-up to the row above
LEVERS: list[tuple[str, dict]] = [
    ('hybrid, naive (before)', {}),
    ('+ one preprocessing pass', {'fused_preprocess': True}),
    ('+ channels-last CLIP', {'channels_last': True}),
    ('+ bf16 autocast (auto)', {'autocast': 'auto'}),
]
NO_FUSED_ATTN = ('final w/o fused SDPA', {'fused_attn': False})
# fp32 rows may differ from the naive row only by rounding: channels-last convolutions sum in another order and
# the difference grows through the 16 activated bottlenecks to ~1e-4 at level 3 (1e-7 on the tiny preset)
FP32_REL_TOL = 1e-3
INPUT_NOISE = 1e-3


def build_resnet50() -> nn.Module:
    """``img_backbone`` of ``configs/bevdet_r50.py`` built through mmdet3d's registry (random init)."""
    import mmdet3d.models  # noqa: F401  (registers mmdet's backbones under the mmdet scope)
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    init_default_scope('mmdet3d')
    return MODELS.build(Config.fromfile(RESNET_CONFIG).model.img_backbone)


class FastResNet(nn.Module):
    """The reference ResNet run channels-last under autocast ``dtype`` (side row), fp32 outputs."""

    def __init__(self, resnet: nn.Module, dtype: torch.dtype | None) -> None:
        super().__init__()
        self.resnet = resnet
        self.dtype = dtype

    def forward(self, img: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Args: img: (B, 3, H, W). Returns: the ResNet's levels, fp32."""
        img = img.contiguous(memory_format=torch.channels_last)
        with torch.autocast(img.device.type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None):
            return tuple(t.float() for t in self.resnet(img))


@torch.no_grad()
def activate_random_init_(encoder: HybridEncoder, img: torch.Tensor) -> None:
    """Give random-init towers non-trivial residual branches (see the module docstring), in place.

    Args:
        encoder: Hybrid encoder, any mode (left in eval mode).
        img: (B, 3, H, W) RGB in [0, 1] used to calibrate the CLIP BatchNorm running statistics.
    """
    for name, module in encoder.named_modules():
        if name.endswith(('ls1', 'ls2')) and hasattr(module, 'gamma'):
            module.gamma.fill_(1.0)
        if name.endswith('bn3') and isinstance(module, nn.BatchNorm2d):
            module.weight.fill_(1.0)
    bns = [m for m in encoder.clip.modules() if isinstance(m, nn.BatchNorm2d)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # cumulative average: one batch sets the statistics
    encoder.clip.train()
    encoder.clip(encoder.preprocess_reference(img)[0])
    for bn in bns:
        bn.momentum = 0.1
    encoder.eval()


def build_hybrids(preset: str, ablation: bool, img: torch.Tensor) -> dict[str, nn.Module]:
    """The hybrid rows, all with the same (activated random) weights, in eval mode."""
    rows = LEVERS if ablation else [LEVERS[0], ('hybrid (defaults)', {})]
    models, cfg = {}, dict(NAIVE)
    state = None
    for label, change in rows:
        cfg = {**cfg, **change} if label != 'hybrid (defaults)' else {}
        torch.manual_seed(0)
        model = HybridDepthBackbone(preset=preset, encoder={'clip_pretrained': None, 'dino_pretrained': None,
                                                            **cfg})
        if state is None:
            activate_random_init_(model.encoder, img)
            state = model.state_dict()
        else:
            model.load_state_dict(state)
        model.eval()
        models[label] = model
    if ablation:
        torch.manual_seed(0)
        model = HybridDepthBackbone(preset=preset, encoder={'clip_pretrained': None, 'dino_pretrained': None,
                                                            **cfg, **NO_FUSED_ATTN[1]})
        model.load_state_dict(state)
        models[NO_FUSED_ATTN[0]] = model.eval()
    return models


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize()


def time_interleaved(fns: dict[str, Callable], img: torch.Tensor, iters: int, warmup: int) -> dict[str, float]:
    """Median seconds per forward of each function, one call of each per round.

    Args:
        fns: Name -> callable on ``img``.
        img: (B, 3, H, W) input.
        iters: Timed rounds.
        warmup: Untimed rounds first.
    """
    times: dict[str, list[float]] = {name: [] for name in fns}
    with torch.inference_mode():
        for r in range(warmup + iters):
            for name, fn in fns.items():
                _sync(img.device)
                t0 = time.perf_counter()
                fn(img)
                _sync(img.device)
                if r >= warmup:
                    times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_memory(fn: Callable, img: torch.Tensor) -> int:
    """Peak bytes allocated by one forward beyond what was held before it (see the module docstring)."""
    with torch.inference_mode():
        if img.device.type == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            fn(img)
            torch.cuda.synchronize()
            return torch.cuda.max_memory_allocated() - base
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True) as prof:
            fn(img)
    events = []
    stack = list(prof.profiler.kineto_results.experimental_event_tree())
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if type(node.extra_fields).__name__ == '_ExtraFields_Allocation' and node.extra_fields.device.type == 'cpu':
            events.append((node.start_time_ns, node.extra_fields.alloc_size))
    live = peak = 0
    for _, size in sorted(events):
        live += size
        peak = max(peak, live)
    return peak


def gflops(fn: Callable, img: torch.Tensor) -> float:
    """GFLOP of one forward (attention through the math SDPA backend so that it is counted)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        fn(img)
    return counter.get_total_flops() / 1e9


def relative_errors(out: Sequence[torch.Tensor], ref: Sequence[torch.Tensor]) -> list[float]:
    """``||out_i - ref_i|| / ||ref_i||`` per level."""
    return [float((o.float() - r).norm() / r.norm().clamp_min(1e-12)) for o, r in zip(out, ref)]


def parse_size(text: str) -> tuple[int, int]:
    """``'256x704'`` -> ``(256, 704)``."""
    h, w = text.lower().split('x')
    return int(h), int(w)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--batch', type=int, default=6, help='images per forward (6 cameras = 1 sample)')
    parser.add_argument('--size', type=parse_size, default=(256, 704), help='H x W, e.g. 256x704')
    parser.add_argument('--iters', type=int, default=5, help='timed rounds (median reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed rounds first')
    parser.add_argument('--preset', default='rn50_vitb14', choices=['rn50_vitb14', 'tiny'])
    parser.add_argument('--ablation', action='store_true', help='one row per speed-up (cumulative) + side rows')
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    img = torch.rand(args.batch, 3, *args.size)

    resnet = build_resnet50()
    resnet.eval()  # mmdet's ResNet.train() returns None: do not chain
    models: dict[str, nn.Module] = {'ResNet-50 (bevdet_r50)': resnet}
    models.update(build_hybrids(args.preset, args.ablation, img))
    bf16 = autocast_dtype('auto', device)
    if args.ablation:
        models['ResNet-50, ch-last + auto'] = FastResNet(resnet, bf16)
    for m in models.values():
        m.to(device)
    img = img.to(device)

    naive_label = LEVERS[0][0]
    with torch.inference_mode():
        outs = {name: m(img) for name, m in models.items()}
    errors: dict[str, str] = {}
    for name, model in models.items():
        if not isinstance(model, HybridDepthBackbone):
            errors[name] = ''
            continue
        rel = relative_errors(outs[name], outs[naive_label])
        if autocast_dtype(model.encoder.autocast, device) is None and max(rel) > FP32_REL_TOL:
            raise AssertionError(f'{name}: fp32 outputs differ from the naive path (relative errors {rel})')
        errors[name] = ' '.join(f'{e:.1e}' for e in rel)
    noise = INPUT_NOISE * torch.randn(img.shape, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():  # how much an imperceptible input change moves the same outputs, in fp32
        noisy = models[naive_label](img + noise.to(device))
    sensitivity = ' '.join(f'{e:.1e}' for e in relative_errors(noisy, outs[naive_label]))
    del outs, noisy

    print(f'backbone forward: batch {args.batch} x {args.size[0]}x{args.size[1]}, preset {args.preset}, device '
          f'{device}, {torch.get_num_threads()} threads, torch {torch.__version__}, median of {args.iters} '
          f'interleaved rounds after {args.warmup} warm-up; CPU native bf16: {cpu_has_native_bf16()}; '
          f"autocast 'auto' -> {bf16 or 'fp32'}")
    ref = 'ResNet-50 (bevdet_r50)'
    counted = {ref: gflops(resnet, img), naive_label: gflops(models[naive_label], img)}  # speed-ups keep the ops
    flops = {name: counted[naive_label if isinstance(m, HybridDepthBackbone) else ref] for name, m in models.items()}
    latency = time_interleaved(models, img, args.iters, args.warmup)
    memory = {name: peak_memory(m, img) for name, m in models.items()}
    print(f'{"model":<28}{"GFLOP":>9}{"x R50":>7}{"latency ms":>12}{"x R50":>8}{"peak MiB":>10}{"x R50":>8}'
          f'  rel. error vs naive per level')
    for name in models:
        print(f'{name:<28}{flops[name]:>9.1f}{flops[name] / flops[ref]:>7.2f}{latency[name] * 1e3:>12.1f}'
              f'{latency[name] / latency[ref]:>7.2f}x{memory[name] / 2 ** 20:>10.1f}{memory[name] / memory[ref]:>7.2f}x'
              f'  {errors[name]}')
    print(f'sensitivity: naive fp32 with input + N(0, {INPUT_NOISE:g}) noise (1/4 of an 8-bit grey level) moves the '
          f'levels by {sensitivity}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
