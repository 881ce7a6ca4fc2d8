"""Pose evaluation end to end: ``tools/test.py configs/demo/depth_pose_kitti.py CKPT --task pose`` on the synthetic
world's odometry sequence 09 (random-init demo model) prints the snippet ATE; checkpoints without the PoseNet and
depth configs are refused."""
from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / 'configs/demo/depth_pose_kitti.py'


def _tool_main(argv: list[str], capsys) -> tuple[int, str]:
    from mmengine.logging import MMLogger
    for logger in MMLogger._instance_dict.values():  # handlers of earlier runners hold earlier tests' streams
        for handler in logger.handlers:
            if isinstance(handler, logging.StreamHandler) and getattr(handler.stream, 'closed', False):
                handler.stream = sys.stdout
    spec = importlib.util.spec_from_file_location('_tool_test_pose', ROOT / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    capsys.readouterr()
    code = module.main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_tools_test_task_pose_prints_ate(synthetic_world, tmp_path, capsys):
    from mmdet3d.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import hybrid_depth  # noqa: F401
    init_default_scope('mmdet3d')
    torch.manual_seed(0)
    ckpt = tmp_path / 'fine.pth'
    torch.save({'state_dict': MODELS.build(Config.fromfile(str(CONFIG)).model).state_dict(), 'meta': {}}, ckpt)
    opts = ['--cfg-options', f'test_dataloader.dataset.data_root={synthetic_world.kitti_odom}/']
    code, text = _tool_main([str(CONFIG), str(ckpt), '--task', 'pose', '--work-dir', str(tmp_path / 'w'), *opts],
                            capsys)
    assert code == 0, text[-2000:]
    assert 'sequence 09: 4 frames, 3 snippets of 5 | Trajectory error:' in text
    assert 'kitti_odom/ate_mean:' in text and 'kitti_odom/ate_std:' in text
    # the PoseNet is needed: a checkpoint without it is refused (a depth test would accept it)
    state = torch.load(ckpt, weights_only=True)['state_dict']
    torch.save({'state_dict': {k: v for k, v in state.items() if not k.startswith('pose_net.')}, 'meta': {}}, ckpt)
    code, text = _tool_main([str(CONFIG), str(ckpt), '--task', 'pose', '--work-dir', str(tmp_path / 'w'), *opts],
                            capsys)
    assert code != 0 and 'pose_net.' in text
    # --task pose on a depth config: one line saying what is wrong
    code, text = _tool_main([str(ROOT / 'configs/demo/depth_fine_kitti.py'), str(ckpt), '--task', 'pose'], capsys)
    assert code == 2 and 'eval_task="pose"' in text.strip().splitlines()[-1]
