"""Test (evaluate) a checkpoint (the flags and behaviour of mmdetection3d 1.4's tools/test.py).

Examples:
    python tools/test.py configs/bevdet_hybrid.py work_dirs/bevdet_hybrid/epoch_24.pth   # mAP / NDS
    python tools/test.py configs/hybrid_depth/fine_kitti.py CKPT                         # KITTI Eigen metrics
    python tools/test.py configs/hybrid_depth/fine_kitti_pose.py CKPT --task pose        # KITTI odometry ATE
    python tools/test.py CONFIG CKPT --show-dir vis --task multi-view_det --score-thr 0.3
    bash tools/dist_test.sh CONFIG CKPT 8
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # repo root: projects/ and configs

from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402

from hybrid_depth.engine.cli import DATA_ERRORS, ConfigError, build_runner, data_error_line, load_config  # noqa: E402
from hybrid_depth.engine.preflight import (  # noqa: E402
    PreflightError,
    log_mmcv_cuda_ops,
    preflight,
)

TASKS = ['mono_det', 'multi-view_det', 'lidar_det', 'lidar_seg', 'multi-modality_det', 'depth', 'pose']


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save the file containing evaluation metrics')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument('--show-dir', help='directory where painted images will be saved. If specified, '
                        'it will be automatically saved to the work_dir/timestamp/show_dir')
    parser.add_argument('--score-thr', type=float, default=0.1, help='bbox score threshold')
    parser.add_argument('--task', type=str, choices=TASKS, help='Determine the visualization method '
                        'depending on the task; pose: check that the config evaluates poses (model.eval_task="pose", '
                        'nothing to draw)')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override some settings in the used config, the key-value pair in xxx=yyy '
                        'format will be merged into config file.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help='job launcher')
    parser.add_argument('--tta', action='store_true', help='Test time augmentation')
    parser.add_argument('--partial-checkpoint', action='store_true',
                        help='evaluate a checkpoint that holds only part of the model, the rest at initialisation '
                             "(e.g. the fine depth stage's start point, the coarse checkpoint); without it such a "
                             'checkpoint is an error')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg: Config, args: argparse.Namespace) -> Config:
    """Switch the config's ``visualization`` hook on for ``--show`` / ``--show-dir``."""
    default_hooks = cfg.get('default_hooks', {})
    if 'visualization' not in default_hooks:
        raise ConfigError('VisualizationHook must be included in default_hooks: refer to the usage '
                          '"visualization=dict(type=\'VisualizationHook\')" (or Det3DVisualizationHook)')
    hook = default_hooks['visualization']
    hook['draw'] = True
    if args.show:
        hook['show'] = True
        hook['wait_time'] = args.wait_time
    if args.show_dir:
        hook['test_out_dir'] = args.show_dir
    if args.task is not None:
        hook['vis_task'] = args.task
    hook['score_thr'] = args.score_thr
    return cfg


def check_pose_config(cfg: Config, args: argparse.Namespace) -> None:
    """``--task pose``: the config must evaluate poses, and a pose has nothing to draw."""
    if cfg.model.get('eval_task') != 'pose':
        raise ConfigError(f'--task pose needs a pose evaluation config (model.eval_task="pose", e.g. '
                          f'configs/hybrid_depth/fine_kitti_pose.py); {args.config} has '
                          f'eval_task={cfg.model.get("eval_task", "depth")!r}')
    if args.show or args.show_dir:
        raise ConfigError('--task pose draws nothing: drop --show / --show-dir')


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        print(f'error: checkpoint not found: {args.checkpoint}', file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config, args.cfg_options)
        cfg.launcher = args.launcher
        if args.work_dir is not None:
            cfg.work_dir = args.work_dir
        elif cfg.get('work_dir', None) is None:
            cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
        cfg.load_from = args.checkpoint
        cfg.partial_checkpoint = args.partial_checkpoint
        if args.task == 'pose':
            check_pose_config(cfg, args)
        if args.show or args.show_dir:
            cfg = trigger_visualization_hook(cfg, args)
        if args.tta:
            if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
                raise ConfigError(f'--tta needs tta_model and tta_pipeline in {args.config}')
            cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
            cfg.tta_model.module = cfg.model
            cfg.model = ConfigDict(cfg.tta_model)
    except ConfigError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    try:  # before the runner: a GPU torch cannot use, NCCL without CUDA (one line each)
        preflight(args.launcher, cfg.get('env_cfg'))
    except PreflightError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2

    try:
        runner = build_runner(cfg)
        log_mmcv_cuda_ops()  # compiled mmcv CUDA kernels or their fallbacks, logged once at start
        runner.test()
    except DATA_ERRORS as err:  # a missing or corrupt data / info file: one line naming it
        print(f'error: {data_error_line(err)}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
