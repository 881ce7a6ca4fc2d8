"""ONNX export of BEVDet-hybrid (demo config, random weights) checked with onnxruntime against PyTorch.

The reference is the detector's own PyTorch path (the view transformer's forward with the CSR ``bev_pool``);
the exported graph pools by a segment sum over a plan computed outside it. Perturbing the plan must break
parity, so the test can tell a right plan from a wrong one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')

from projects.BEVDet.bevdet.onnx_export import (  # noqa: E402
    CAMERA_INPUTS,
    ExportError,
    camera_inputs,
    check_exportable,
    export_onnx,
    pytorch_dense_outputs,
    ring_rig,
)

ROOT = Path(__file__).resolve().parents[3]
TOL = 1e-3


def _build(config: str):
    from mmdet3d.registry import MODELS
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(ROOT / config)).model)
    model.init_weights()
    return model.eval()


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The demo BEVDet-hybrid exported once: (session, detector, imgs, rig, camera inputs, PyTorch outputs)."""
    model = _build('configs/demo/bevdet_hybrid_demo.py')
    vt = model.img_view_transformer
    rig = ring_rig(6, vt.input_size)
    cameras = camera_inputs(vt, **rig)
    imgs = torch.rand(6, 3, *vt.input_size, generator=torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp('onnx') / 'bevdet_hybrid_demo.onnx'
    names = export_onnx(model, imgs, cameras, str(path), opset=18)
    cams = {k: torch.as_tensor(v)[None] for k, v in rig.items()}
    reference = pytorch_dense_outputs(model, imgs, cams)
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    return dict(session=session, names=names, imgs=imgs, cameras=cameras, reference=reference, path=path)


def _run(exported, cameras) -> dict[str, float]:
    """Max abs difference per output between onnxruntime on ``cameras`` and the PyTorch reference."""
    feed = dict(imgs=exported['imgs'].numpy(), **{k: cameras[k] for k in CAMERA_INPUTS})
    outs = exported['session'].run(exported['names'], feed)
    return {n: float(np.abs(o - exported['reference'][n]).max()) for n, o in zip(exported['names'], outs)}


def test_graph_is_standard_onnx_without_colliding_scatter(exported):
    model = onnx.load(str(exported['path']))
    onnx.checker.check_model(model)
    domains = {n.domain for n in model.graph.node}
    assert domains <= {'', 'ai.onnx'}, domains  # no custom op
    assert 'CumSum' in {n.op_type for n in model.graph.node}
    reductions = {a.s.decode() for n in model.graph.node if n.op_type in ('ScatterND', 'ScatterElements')
                  for a in n.attribute if a.name == 'reduction'}
    assert reductions <= {'none'}, reductions  # onnxruntime's CPU scatter-add races on repeated indices
    assert [i.name for i in model.graph.input] == ['imgs', *CAMERA_INPUTS]
    assert model.opset_import[0].version == 18


def test_onnxruntime_is_deterministic(exported):
    feed = dict(imgs=exported['imgs'].numpy(), **{k: exported['cameras'][k] for k in CAMERA_INPUTS})
    runs = [exported['session'].run(['task0.heatmap'], feed)[0] for _ in range(4)]
    assert all(np.array_equal(r, runs[0]) for r in runs)


def test_onnxruntime_matches_pytorch(exported):
    diffs = _run(exported, exported['cameras'])
    assert set(diffs) >= {'task0.heatmap', 'task0.reg', 'task0.height', 'task0.dim', 'task0.rot', 'task0.vel'}
    assert max(diffs.values()) <= TOL, diffs
    assert max(float(np.abs(v).max()) for v in exported['reference'].values()) > 10 * TOL  # not all zeros


@pytest.mark.parametrize('perturb', ['shift_voxels', 'drop_voxels', 'other_calibration'])
def test_perturbed_pooling_indices_break_parity(exported, perturb):
    """The same check fails once the pooling plan is wrong: the indices really decide the output."""
    cameras = dict(exported['cameras'])
    if perturb == 'shift_voxels':  # every point one BEV cell along x
        cameras['voxel_index'] = (cameras['voxel_index'] + 1) % (64 * 64)
    elif perturb == 'drop_voxels':  # the last tenth of the occupied voxels left empty
        keep = len(cameras['voxel_index']) * 9 // 10
        for k in ('voxel_index', 'interval_ends'):
            cameras[k] = cameras[k][:keep]
    else:  # the plan of a rig turned by 0.5 rad
        rig = ring_rig(6, (128, 352))
        turn = np.array([[np.cos(0.5), -np.sin(0.5), 0], [np.sin(0.5), np.cos(0.5), 0], [0, 0, 1]], np.float32)
        rig['cam2ego'][:, :3, :3] = turn @ rig['cam2ego'][:, :3, :3]
        cameras = camera_inputs(_build('configs/demo/bevdet_hybrid_demo.py').img_view_transformer, **rig)
    assert max(_run(exported, cameras).values()) > TOL


def test_fbbev_is_refused_with_one_error_naming_the_module():
    with pytest.raises(ExportError, match=r'backward_projection \(DepthAwareBackwardProjection\) cannot be '
                                          r'exported: its sampling locations'):
        check_exportable(_build('configs/demo/fbbev_hybrid_demo.py'))


def test_opset_below_14_is_refused(exported, tmp_path):
    model = _build('configs/demo/bevdet_hybrid_demo.py')
    with pytest.raises(ExportError, match=r'--opset 13: the pooling needs CumSum on fp64 \(opset >= 14\)'):
        export_onnx(model, exported['imgs'], exported['cameras'], str(tmp_path / 'm.onnx'), opset=13)


def _tool(args: list[str], cwd: Path, ok: bool = True):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd)
    if ok:
        assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def _metrics(text: str) -> dict[str, str]:
    """mAP and NDS as printed (4 decimals), from tools/test.py's log or tools/onnx_infer.py's output."""
    import re
    return dict(re.findall(r'pred_instances_3d_NuScenes/(mAP|NDS): (\d\.\d{4})', text))


@pytest.mark.slow
def test_onnx_infer_scores_like_test_py(synthetic_world, synthetic_nuscenes_infos, tmp_path):
    """Train the demo config a few iterations, then score the checkpoint with tools/test.py and its ONNX export
    with tools/onnx_infer.py through the same devkit metric: equal mAP / NDS. Bad inputs: one line each."""
    from tests.projects.bevdet.test_train_test_tools import data_root_options
    config = str(ROOT / 'configs' / 'demo' / 'bevdet_hybrid_demo.py')
    opts = data_root_options(synthetic_world.nuscenes) + [
        'train_cfg.max_epochs=1', 'train_dataloader.dataset.indices=8', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False', 'default_hooks.checkpoint.interval=1', 'custom_hooks=[]',
        'randomness.seed=0']
    work = tmp_path / 'work'
    _tool([str(ROOT / 'tools' / 'train.py'), config, '--work-dir', str(work), '--cfg-options', *opts], tmp_path)
    ckpt = str(work / 'epoch_1.pth')
    test = _tool([str(ROOT / 'tools' / 'test.py'), config, ckpt, '--work-dir', str(work), '--cfg-options', *opts],
                 tmp_path)
    model = str(tmp_path / 'onnx' / 'model.onnx')
    export = _tool([str(ROOT / 'tools' / 'export_onnx.py'), config, ckpt, '--out', model, '--cfg-options', *opts],
                   tmp_path)
    import re
    assert float(re.search(r'max abs diff (\S+)', export.stdout).group(1)) <= TOL, export.stdout
    infer = _tool([str(ROOT / 'tools' / 'onnx_infer.py'), config, model, '--work-dir', str(tmp_path / 'infer'),
                   '--cfg-options', *opts], tmp_path)
    expected = _metrics(test.stdout + test.stderr)
    assert set(expected) == {'mAP', 'NDS'}, test.stdout[-3000:]
    assert _metrics(infer.stdout) == expected, (infer.stdout[-2000:], expected)
    assert (tmp_path / 'infer' / 'results' / 'pred_instances_3d' / 'results_nusc.json').is_file()

    missing = _tool([str(ROOT / 'tools' / 'onnx_infer.py'), config, model, '--cameras', str(tmp_path / 'no.npz'),
                     '--cfg-options', *opts], tmp_path, ok=False)
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1] == f'error: camera-input file not found: {tmp_path}/no.npz'
    small = str(tmp_path / 'onnx' / 'small.onnx')
    _tool([str(ROOT / 'tools' / 'export_onnx.py'), config, ckpt, '--out', small, '--image-size', '112', '308',
           '--cfg-options', *opts], tmp_path)
    wrong = _tool([str(ROOT / 'tools' / 'onnx_infer.py'), config, small, '--cfg-options', *opts], tmp_path, ok=False)
    assert wrong.returncode == 2, wrong.stderr[-2000:]
    last = wrong.stderr.strip().splitlines()[-1]  # (torch may warn about pin_memory on a CPU-only machine first)
    assert re.fullmatch(r'error: sample \S+: images \(6, 3, 128, 352\) but \S+small.onnx takes \(6, 3, 112, 308\) '
                        r'\(export with --image-size H W\)', last), wrong.stderr[-2000:]
