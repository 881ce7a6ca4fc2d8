"""Depth-stage configs: inheritance, builds, and the tools end to end on the synthetic KITTI / TuSimple world.

The end-to-end tests run ``tools/train.py`` / ``tools/test.py`` as a user would, on the tiny synthetic world,
with ``--cfg-options`` pointing the data roots there and shrinking the input to 56x168 (CPU time).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from hybrid_depth.engine.runner import trusted_checkpoint_loading
from hybrid_depth.evaluation import DEPTH_METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
REAL = ['coarse_tusimple', 'coarse_ground_prior', 'fine_kitti', 'fine_nuscenes', 'monodepth2_kitti']
DEMOS = {'depth_fine_kitti': 'fine_kitti', 'depth_coarse_tusimple': 'coarse_tusimple',
         'depth_coarse_ground_prior': 'coarse_ground_prior', 'depth_fine_nuscenes': 'fine_nuscenes',
         'depth_monodepth2_kitti': 'monodepth2_kitti'}


def run_tool(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def kitti_options(root: Path, height: int = 56, width: int = 168) -> list[str]:
    """--cfg-options pointing a KITTI config at ``root`` with a smaller input (indices: the Resize step)."""
    opts = [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}']
    for loader, idx in (('train', 1), ('val', 2), ('test', 1)):
        opts += [f'{loader}_dataloader.dataset.pipeline.{idx}.height={height}',
                 f'{loader}_dataloader.dataset.pipeline.{idx}.width={width}']
    return opts


def load_ckpt(path: Path) -> dict:
    with trusted_checkpoint_loading():
        return torch.load(path, map_location='cpu')


def metric_line(log: str, prefix: str) -> list[tuple[str, float]]:
    """The ``prefix/name: value`` pairs of the last evaluation line of a log, in printed order."""
    line = [x for x in log.splitlines() if f'{prefix}/abs_rel' in x][-1]
    return [(m.group(1), float(m.group(2))) for m in re.finditer(rf'{prefix}/(\w+): ([-\d.e]+)', line)]


@pytest.mark.parametrize('name', REAL)
def test_real_configs_load_with_paper_settings(name: str) -> None:
    cfg = Config.fromfile(ROOT / 'configs/hybrid_depth' / f'{name}.py')
    assert cfg.runner_type == 'HybridDepthRunner' and cfg.default_scope == 'mmdet3d'
    if name.startswith('coarse'):
        assert cfg.model.type == 'HybridCoarseDepthEstimator' and cfg.train_dataloader.batch_size == 6
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(3.57e-4) and cfg.optim_wrapper.clip_grad.max_norm == 0.1
        assert cfg.train_cfg.max_epochs == 20 and cfg.param_scheduler[0].type == 'OneCycleLR'
    if name == 'fine_kitti':
        assert cfg.model.prompt_bank.num_depth_tokens == 256 and cfg.model.encoder.dino_indices == [2, 5, 8, 11]
        assert cfg.train_dataloader.batch_size == 16 and cfg.train_cfg.max_epochs == 30
        assert cfg.param_scheduler[0].step_size == 15 and cfg.optim_wrapper.optimizer.type == 'AdamW'
        assert cfg.load_from.startswith('work_dirs/coarse_tusimple/')  # chained from the coarse stage
        resize = cfg.train_dataloader.dataset.pipeline[1]
        assert (resize.height, resize.width) == (224, 672)
    if 'kitti' in name:
        assert cfg.model.frame_ids == [0, -1, 1] and cfg.test_evaluator.type == 'KittiEigenDepthMetric'
    if name != 'coarse_ground_prior' and 'coarse' not in name:
        assert cfg.model.pose_net.pretrained == 'tv_in1k'


def test_real_configs_name_local_weights_only(tmp_path: Path) -> None:
    """Full-size models resolve 'openai' / 'lvd142m' in local caches; nothing is downloaded."""
    from mmengine.registry import init_default_scope

    from hybrid_depth.models import WeightsNotFoundError
    init_default_scope('mmdet3d')
    from mmdet3d.registry import MODELS
    cfg = Config.fromfile(ROOT / 'configs/hybrid_depth/fine_kitti.py')
    enc = dict(cfg.model.encoder, cache_dir=str(tmp_path))
    with pytest.raises(WeightsNotFoundError, match=str(tmp_path)):
        MODELS.build(enc)


@pytest.mark.parametrize('demo, real', sorted(DEMOS.items()))
def test_demo_configs_inherit_the_real_ones(demo: str, real: str) -> None:
    text = (ROOT / 'configs/demo' / f'{demo}.py').read_text()
    assert f"_base_ = ['../hybrid_depth/{real}.py'" in text  # the real config first (then the tiny parts)
    demo_cfg = Config.fromfile(ROOT / 'configs/demo' / f'{demo}.py')
    real_cfg = Config.fromfile(ROOT / 'configs/hybrid_depth' / f'{real}.py')
    assert demo_cfg.model.type == real_cfg.model.type
    assert all(v is None for k, v in demo_cfg.model.encoder.items() if k.endswith('pretrained'))
    assert demo_cfg.train_cfg.max_epochs <= 60 and demo_cfg.train_dataloader.num_workers == 0
    assert demo_cfg.train_dataloader.dataset.data_root.startswith('data/synthetic/')
    from mmdet3d.registry import MODELS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    model = MODELS.build(demo_cfg.model)  # the demo model builds offline (random init)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) > 0


@pytest.mark.slow
def test_fine_nuscenes_demo_trains_and_reports_lidar_depth_metrics(synthetic_world, tmp_path: Path) -> None:
    root = synthetic_world.nuscenes
    opts = [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
            'train_dataloader.dataset.pipeline.1.height=56', 'train_dataloader.dataset.pipeline.1.width=98',
            'val_dataloader.dataset.pipeline.2.height=56', 'val_dataloader.dataset.pipeline.2.width=98',
            'train_cfg.max_epochs=1', 'train_cfg.val_interval=1', 'train_dataloader.dataset.cameras=[CAM_FRONT]']
    res = run_tool('tools/train.py', str(ROOT / 'configs/demo/depth_fine_nuscenes.py'), '--work-dir',
                   str(tmp_path), '--cfg-options', *opts)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert [n for n, _ in metric_line(log, 'nuscenes_depth')][:7] == list(DEPTH_METRIC_NAMES)
    assert 'nuscenes_depth/CAM_FRONT/abs_rel' in log


@pytest.fixture(scope='module')
def interrupted_then_resumed(synthetic_world, tmp_path_factory) -> Path:
    """The fine demo on the tiny world: crash after the first iteration of epoch 2, then ``--resume``."""
    work = tmp_path_factory.mktemp('fine_resume')
    crash_cfg = work / 'crash.py'
    crash_cfg.write_text(
        f"_base_ = ['{ROOT / 'configs/demo/depth_fine_kitti.py'}']\n"
        "custom_imports = dict(imports=['hybrid_depth', 'tests.fixtures.tiny_regression'],\n"
        "                      allow_failed_imports=False)\n"
        "custom_hooks = [dict(type='SimulatedCrashHook', at_iter=3)]\n")
    opts = kitti_options(synthetic_world.kitti) + [
        'train_cfg.max_epochs=2', 'train_cfg.val_interval=1', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1']
    res = run_tool('tools/train.py', str(crash_cfg), '--work-dir', str(work), '--cfg-options', *opts)
    assert res.returncode != 0 and 'simulated crash after iteration 3' in res.stderr, res.stderr[-3000:]
    assert (work / 'epoch_1.pth').is_file() and not (work / 'epoch_2.pth').exists()
    res = run_tool('tools/train.py', str(ROOT / 'configs/demo/depth_fine_kitti.py'), '--work-dir', str(work),
                   '--resume', '--cfg-options', *opts)
    assert res.returncode == 0, res.stderr[-3000:]
    (work / 'resume.log').write_text(res.stdout + res.stderr)
    return work


@pytest.mark.slow
def test_interrupted_fine_run_resumes_from_its_last_checkpoint(interrupted_then_resumed: Path,
                                                               synthetic_world) -> None:
    work = interrupted_then_resumed
    log = (work / 'resume.log').read_text()
    assert 'resumed' in log.lower() and 'epoch_1.pth' in log
    assert 'Epoch(train) [1]' not in log and 'Epoch(train) [2]' in log  # epoch 1 not trained again
    first, last = load_ckpt(work / 'epoch_1.pth'), load_ckpt(work / 'epoch_2.pth')
    assert (first['meta']['epoch'], last['meta']['epoch']) == (1, 2)
    assert last['meta']['iter'] == 2 * first['meta']['iter']
    steps = {int(s['step']) for s in last['optimizer']['state'].values()}
    assert steps == {last['meta']['iter']}  # AdamW continued its moments: one step per iteration overall
    # validation during training wrote disparity PNGs [input; disparity]
    pngs = sorted(work.glob('*/vis_disparity/val_iter_*/*.png'))
    assert pngs
    import mmcv
    frame = mmcv.imread(str(next(synthetic_world.kitti.glob('*/*/image_02/data/*.jpg'))))
    assert mmcv.imread(str(pngs[0])).shape == (2 * frame.shape[0], frame.shape[1], 3)


@pytest.mark.slow
def test_tools_test_prints_the_seven_metrics_for_the_fine_demo(interrupted_then_resumed: Path, synthetic_world,
                                                               tmp_path: Path) -> None:
    res = run_tool('tools/test.py', str(ROOT / 'configs/demo/depth_fine_kitti.py'),
                   str(interrupted_then_resumed / 'epoch_2.pth'), '--work-dir', str(tmp_path),
                   '--show-dir', 'vis', '--task', 'depth', '--cfg-options', *kitti_options(synthetic_world.kitti))
    assert res.returncode == 0, res.stderr[-3000:]
    pairs = metric_line(res.stdout + res.stderr, 'kitti_eigen')
    assert [n for n, _ in pairs] == list(DEPTH_METRIC_NAMES)
    values = dict(pairs)
    assert 0 < values['abs_rel'] < 1 and 0 <= values['a1'] <= values['a2'] <= values['a3'] <= 1
    assert len(list(tmp_path.glob('*/vis/*.png'))) == 2  # the 2 Eigen test images of the tiny world


@pytest.mark.slow
def test_tools_test_fine_kitti_config_on_a_kitti_folder(synthetic_world, tmp_path: Path) -> None:
    """``tools/test.py configs/hybrid_depth/fine_kitti.py CKPT`` with the paper's architecture.

    The real config needs the CLIP RN50 / DINOv2 weights, absent here: ``--cfg-options`` switches to random
    init, DINOv2 ViT-S/14 instead of ViT-B/14 and a 56x168 input (CPU time); the checkpoint is that model's.
    """
    from mmdet3d.registry import MODELS
    from mmengine.registry import init_default_scope

    import hybrid_depth.models.estimators  # noqa: F401
    init_default_scope('mmdet3d')
    shrink = ['model.encoder.clip_pretrained=None', 'model.encoder.dino_pretrained=None',
              'model.prompt_bank.clip_pretrained=None', 'model.pose_net.pretrained=None',
              'model.encoder.dino_model=vit_small_patch14_dinov2', 'model.prompt_bank.num_depth_tokens=16']
    cfg = Config.fromfile(ROOT / 'configs/hybrid_depth/fine_kitti.py')
    cfg.merge_from_dict({k: None if v == 'None' else int(v) if v.isdigit() else v
                         for k, v in (o.split('=') for o in shrink)})
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    ckpt = tmp_path / 'fine.pth'
    torch.save({'state_dict': {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()},
                'meta': {}}, ckpt)
    del model
    res = run_tool('tools/test.py', str(ROOT / 'configs/hybrid_depth/fine_kitti.py'), str(ckpt),
                   '--work-dir', str(tmp_path / 'work'),
                   '--cfg-options', *kitti_options(synthetic_world.kitti), *shrink)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert [n for n, _ in metric_line(log, 'kitti_eigen')] == list(DEPTH_METRIC_NAMES)
    table = log[log.index('KittiEigenDepthMetric over'):]
    assert re.search(r'abs_rel \|\s+sq_rel \|\s+rmse \|\s+rmse_log \|\s+a1 \|\s+a2 \|\s+a3', table)
    assert 'unexpected key' not in log.lower() and 'missing keys' not in log.lower()
    assert np.isfinite(dict(metric_line(log, 'kitti_eigen'))['rmse'])


@pytest.mark.slow
def test_coarse_demo_trains_and_reports_ordering_accuracy(synthetic_world, tmp_path: Path) -> None:
    root = synthetic_world.tusimple
    opts = [f'train_dataloader.dataset.data_root={root}', f'val_dataloader.dataset.data_root={root}',
            'train_dataloader.dataset.pipeline.1.short_side=56', 'val_dataloader.dataset.pipeline.1.short_side=56',
            'train_cfg.max_epochs=2', 'train_cfg.val_interval=2', 'param_scheduler.0.total_steps=2',
            'param_scheduler.1.end=1', 'param_scheduler.2.begin=1', 'param_scheduler.2.end=2']
    res = run_tool('tools/train.py', str(ROOT / 'configs/demo/depth_coarse_tusimple.py'), '--work-dir',
                   str(tmp_path), '--cfg-options', *opts)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    acc = float(re.findall(r'ordering/pair_acc: ([\d.]+)', log)[-1])
    assert 0 <= acc <= 1 and (tmp_path / 'epoch_2.pth').is_file()


@pytest.mark.parametrize('pose, depth', [('hybrid_depth/fine_kitti_pose', 'hybrid_depth/fine_kitti'),
                                         ('demo/depth_pose_kitti', 'demo/depth_fine_kitti')])
def test_pose_configs_change_only_the_test_side(pose: str, depth: str) -> None:
    """The pose evaluation configs are their depth config with eval_task='pose' and the odometry test split, at the
    depth config's input size."""
    pose_cfg = Config.fromfile(ROOT / 'configs' / f'{pose}.py')
    depth_cfg = Config.fromfile(ROOT / 'configs' / f'{depth}.py')
    assert pose_cfg.model.pop('eval_task') == 'pose' and pose_cfg.model == depth_cfg.model
    assert pose_cfg.train_dataloader == depth_cfg.train_dataloader and pose_cfg.load_from == depth_cfg.load_from
    dataset = pose_cfg.test_dataloader.dataset
    assert dataset.type == 'KittiOdomPoseDataset' and pose_cfg.test_evaluator.type == 'KittiPoseMetric'
    resize, pack = dataset.pipeline[1], dataset.pipeline[-1]
    depth_resize = depth_cfg.test_dataloader.dataset.pipeline[1]
    assert (resize.height, resize.width) == (depth_resize.height, depth_resize.width)
    assert pack.frame_ids == [0, 1] and {'sequence', 'frame_index', 'gt_poses'} <= set(pack.meta_keys)
