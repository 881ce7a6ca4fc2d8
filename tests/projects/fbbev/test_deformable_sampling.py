"""Deformable sampling: the PyTorch path equals a brute-force loop; the CUDA kernel equals the PyTorch path."""
from __future__ import annotations

import pytest
import torch

from projects.FBBEV.fbbev.deformable_sampling import (
    deformable_sampling,
    deformable_sampling_cuda,
    deformable_sampling_pytorch,
    deformable_sampling_reference,
)


def _case(device: str = 'cpu', seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    shapes = torch.tensor([[3, 5], [2, 3]])
    num_keys = int((shapes[:, 0] * shapes[:, 1]).sum())
    value = torch.randn(2, num_keys, 2, 4, generator=g)  # (M, keys, H, C)
    locations = torch.rand(2, 3, 2, 2, 4, 2, generator=g) * 1.4 - 0.2  # some points fall outside
    weights = torch.rand(2, 3, 2, 2, 4, generator=g)
    return [t.to(device) for t in (value, shapes, locations, weights)]


def test_pytorch_path_equals_loop_reference():
    value, shapes, locations, weights = _case()
    fast = deformable_sampling_pytorch(value, shapes, locations, weights)
    slow = deformable_sampling_reference(value, shapes, locations, weights)
    assert fast.shape == (2, 3, 8)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_dispatch_on_cpu_is_the_pytorch_path_and_weights_scale_linearly():
    value, shapes, locations, weights = _case(seed=1)
    out = deformable_sampling(value, shapes, locations, weights)
    torch.testing.assert_close(out, deformable_sampling_pytorch(value, shapes, locations, weights))
    half = deformable_sampling(value, shapes, locations, weights * 0.5)
    torch.testing.assert_close(half, 0.5 * out)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='mmcv CUDA kernel needs a GPU')
def test_cuda_kernel_equals_pytorch_path():
    value, shapes, locations, weights = _case('cuda', seed=2)
    locations = locations.clamp(0, 1)
    for t in (value, weights):
        t.requires_grad_(True)
    cuda = deformable_sampling_cuda(value, shapes, locations, weights)
    grads_cuda = torch.autograd.grad(cuda.square().sum(), (value, weights))
    ref = deformable_sampling_pytorch(value, shapes, locations, weights)
    grads_ref = torch.autograd.grad(ref.square().sum(), (value, weights))
    torch.testing.assert_close(cuda, ref, atol=1e-4, rtol=1e-4)
    for a, b in zip(grads_cuda, grads_ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
