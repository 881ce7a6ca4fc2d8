"""mmcv CUDA ops optional: a missing compiled kernel selects the fallback, once per op and device, and logs it.

On this CPU machine no CUDA kernel can run, so the probe is replaced by one that succeeds or fails like mmcv
does (a CPU-only mmcv raises "implementation for device cuda:0 not found" / "Not compiled with GPU support").
The fallbacks themselves are the real code paths: their equality with the kernels is checked on a GPU
(``test_*_on_cuda`` below, run by ``tools/gpu_check.sh``) and with the references on CPU
(test_deformable_sampling.py, test_head.py).
"""
from __future__ import annotations

import pytest
import torch
from mmdet3d.structures import LiDARInstance3DBoxes
from mmengine.logging import MMLogger

from projects.BEVDet.bevdet import mmcv_cuda_ops
from projects.BEVDet.bevdet.head import scale_nms
from projects.FBBEV.fbbev.deformable_sampling import (
    deformable_sampling,
    deformable_sampling_pytorch,
    deformable_sampling_reference,
)

MISSING = {'ms_deform_attn': 'ms_deform_attn_impl_forward: implementation for device cuda:0 not found.',
           'nms_rotated': 'Not compiled with GPU support'}


@pytest.fixture
def probes(monkeypatch):
    """Fresh cache; ``probes.hidden`` ops raise like a CPU-only mmcv, the others succeed; calls are counted."""
    class Probes:
        hidden: set[str] = set()
        calls: list[tuple[str, str]] = []

    def probe(op, device):
        Probes.calls.append((op, str(device)))
        if op in Probes.hidden:
            raise RuntimeError(MISSING[op])

    Probes.hidden, Probes.calls = set(), []
    monkeypatch.setattr(mmcv_cuda_ops, '_available', {})
    monkeypatch.setattr(mmcv_cuda_ops, '_probe', probe)
    return Probes


def _log(tmp_path, name):
    path = tmp_path / f'{name}.log'
    MMLogger.get_instance(name, log_file=str(path), log_level='INFO')  # becomes the current logger
    return path


@pytest.mark.parametrize('op', sorted(MISSING))
def test_hidden_kernel_selects_fallback_once_and_logs_it(probes, tmp_path, op):
    log = _log(tmp_path, f'hidden_{op}')
    probes.hidden = {op}
    assert mmcv_cuda_ops.cuda_kernel_available(op, 'cuda:0') is False
    assert mmcv_cuda_ops.cuda_kernel_available(op, torch.device('cuda', 0)) is False
    assert probes.calls == [(op, 'cuda:0')]  # probed once per (op, device)
    text = log.read_text()
    assert text.count(f'mmcv op {op} on cuda:0') == 1
    assert MISSING[op] in text and mmcv_cuda_ops.CUDA_OPS[op] in text
    assert mmcv_cuda_ops.cuda_kernel_available(op, 'cuda:1') is False  # another device: probed again
    assert probes.calls[-1] == (op, 'cuda:1')


def test_compiled_kernels_are_used_and_logged(probes, tmp_path):
    log = _log(tmp_path, 'compiled')
    probes.hidden = {'nms_rotated'}
    assert mmcv_cuda_ops.log_cuda_ops('cuda:0') == {'ms_deform_attn': True, 'nms_rotated': False}
    text = log.read_text()
    assert "mmcv op ms_deform_attn on cuda:0: mmcv's compiled CUDA kernel" in text
    assert 'mmcv op nms_rotated on cuda:0: no compiled CUDA kernel (Not compiled with GPU support)' in text


def test_cpu_tensors_never_probe_and_unknown_op_is_named(probes):
    assert mmcv_cuda_ops.cuda_kernel_available('ms_deform_attn', 'cpu') is False
    assert probes.calls == []
    with pytest.raises(ValueError, match="unknown mmcv CUDA op 'deform_conv'"):
        mmcv_cuda_ops.cuda_kernel_available('deform_conv', 'cuda:0')


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the real probe where no CUDA kernel can run')
def test_real_probe_reports_no_kernel_without_a_gpu(monkeypatch):
    monkeypatch.setattr(mmcv_cuda_ops, '_available', {})
    for op in mmcv_cuda_ops.CUDA_OPS:
        with pytest.raises(Exception):  # noqa: B017 (torch's "no NVIDIA driver" or mmcv's own error)
            mmcv_cuda_ops._probe(op, torch.device('cuda', 0))
        assert mmcv_cuda_ops.cuda_kernel_available(op, 'cuda:0') is False


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_deformable_sampling_fallback_on_cuda(probes):
    probes.hidden = {'ms_deform_attn'}
    g = torch.Generator().manual_seed(0)
    shapes = torch.tensor([[3, 5], [2, 3]])
    value = torch.randn(2, 21, 2, 4, generator=g)
    loc = torch.rand(2, 3, 2, 2, 4, 2, generator=g)
    weights = torch.rand(2, 3, 2, 2, 4, generator=g)
    out = deformable_sampling(*(t.cuda() for t in (value, shapes, loc, weights)))
    assert probes.calls == [('ms_deform_attn', 'cuda:0')]
    torch.testing.assert_close(out.cpu(), deformable_sampling_reference(value, shapes, loc, weights),
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.cpu(), deformable_sampling_pytorch(value, shapes, loc, weights))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_rotated_nms_fallback_on_cuda(probes):
    probes.hidden = {'nms_rotated'}
    boxes = torch.tensor([[5.0, 0.0, 0.0, 0.6, 0.6, 1.7, 0.0, 0, 0], [5.7, 0.0, 0.0, 0.6, 0.6, 1.7, 0.0, 0, 0]])
    scores, labels, factors = torch.tensor([0.9, 0.8]), torch.tensor([7, 7]), torch.full((10,), 3.0)
    keep = scale_nms(boxes.cuda(), scores.cuda(), labels.cuda(), LiDARInstance3DBoxes, factors.cuda(), 0.2, 100, 100)
    assert keep.is_cuda and keep.tolist() == [0]
    assert probes.calls == [('nms_rotated', 'cuda:0')]
